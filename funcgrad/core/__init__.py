"""funcgrad's core: the IR, tracing and the primitive machinery; it knows no primitive.

This is the extension API: define a ``Primitive``, give it an impl and a shape rule, and
register its transform rules in ``funcgrad.transforms``.
"""

from funcgrad.core.avals import ShapedArray as ShapedArray
from funcgrad.core.avals import get_aval as get_aval
from funcgrad.core.avals import result_type as result_type
from funcgrad.core.config import config as config
from funcgrad.core.ir import ClosedJaxpr as ClosedJaxpr
from funcgrad.core.ir import Eqn as Eqn
from funcgrad.core.ir import Jaxpr as Jaxpr
from funcgrad.core.ir import Literal as Literal
from funcgrad.core.ir import Var as Var
from funcgrad.core.ir import typecheck_jaxpr as typecheck_jaxpr
from funcgrad.core.primitive import Primitive as Primitive
from funcgrad.core.primitive import primitives as primitives
from funcgrad.core.staging import eval_jaxpr as eval_jaxpr
from funcgrad.core.staging import trace_pytree as trace_pytree
from funcgrad.core.staging import trace_to_jaxpr as trace_to_jaxpr
from funcgrad.core.tracing import Trace as Trace
from funcgrad.core.tracing import Tracer as Tracer
from funcgrad.core.tracing import current_trace as current_trace
from funcgrad.core.tracing import set_current_trace as set_current_trace

__all__ = [
    "ClosedJaxpr", "Eqn", "Jaxpr", "Literal", "Primitive", "ShapedArray", "Trace", "Tracer",
    "Var", "config", "current_trace", "eval_jaxpr", "get_aval", "primitives",
    "result_type", "set_current_trace", "trace_pytree", "trace_to_jaxpr", "typecheck_jaxpr",
]
