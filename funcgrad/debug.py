"""``fg.debug``: ``print``, ``callback`` and ``breakpoint`` that work under every transform.

Each is one primitive, ``debug_callback``, with no outputs: eagerly its impl calls the Python
function at once; under ``grad``/``jvp`` it sees the primal values (no tangents, no
cotangents); under ``vmap`` it is called once per example, in order (as JAX); under
``make_jaxpr``/``jit`` it is an equation with an effect, never dead-code eliminated or merged
(``passes.effectful``), and the callback runs each time the staged program runs.

>>> import funcgrad as fg, numpy as np
>>> fg.vmap(lambda x: (fg.debug.print("x = {}", x), x * 2)[1])(np.array([1.0, 2.0]))
x = 1.0
x = 2.0
array([2., 4.])
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import FuncgradTypeError, at_user_line
from funcgrad.core.primitive import Primitive
from funcgrad.core.tracing import Tracer
from funcgrad.lax.structural import slice_in_dim, squeeze
from funcgrad.transforms import ad, batching, codegen, passes

__all__ = ["breakpoint", "callback", "print"]


class _Callback:
    """The user's function and the pytree of its arguments: a hashable (by identity) param."""

    __slots__ = ("fn", "tree")

    def __init__(self, fn: Callable[..., Any], tree: pytree.PyTreeDef):
        self.fn, self.tree = fn, tree

    def __call__(self, *leaves: Any) -> None:
        args, kwargs = pytree.tree_unflatten(self.tree, [np.asarray(x) for x in leaves])
        self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", "callback")


# The one output is a 0-d boolean "done" token nobody reads (JAX's has none): an equation with
# an output fits every pass and codegen rule, and passes.effectful keeps it alive anyway.
debug_callback_p = Primitive("debug_callback")
_DONE = np.array(True)
_DONE.flags.writeable = False


def _debug_callback_impl(*args: Any, callback: _Callback, ordered: bool) -> np.ndarray:
    callback(*args)
    return _DONE


debug_callback_p.def_impl(_debug_callback_impl)
debug_callback_p.def_abstract_eval(lambda *avals, **params: ShapedArray((), np.bool_))


def _debug_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any
                        ) -> tuple[Any, None]:
    return debug_callback_p.bind(*primals, **params), None  # the primal values, as JAX


def _debug_callback_vjp(cts: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                        **params: Any) -> list[Any]:
    return [None] * len(primals)


def _debug_callback_batch(args: Sequence[Any], dims: Sequence[Any], **params: Any
                          ) -> tuple[Any, None]:
    # Once per example, in order: the callback sees unbatched values.
    size = batching.batch_size(args, dims)
    done: Any = _DONE
    for i in range(size):
        done = debug_callback_p.bind(*(x if d is None else squeeze(
            slice_in_dim(x, i, i + 1, axis=d), (d,)) for x, d in zip(args, dims,
                                                                     strict=True)), **params)
    return done, None


ad.jvp_rules[debug_callback_p] = _debug_callback_jvp
ad.vjp_rules[debug_callback_p] = _debug_callback_vjp
batching.batch_rules[debug_callback_p] = _debug_callback_batch
codegen.def_impl_call(debug_callback_p)
passes.effectful.add(debug_callback_p)


def _operand(x: Any) -> Any:
    if isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return x if isinstance(x, Tracer) else np.asarray(x)
    raise FuncgradTypeError(at_user_line(
        f"fg.debug: arguments must be arrays (or pytrees of arrays), got {type(x).__name__}; "
        f"pass other values through the callback's closure or the format string"))


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             **kwargs: Any) -> None:
    """Call ``callback(*args, **kwargs)`` with the arguments' values as NumPy arrays, eagerly
    or whenever the staged program runs, as ``jax.debug.callback``. The result is ignored.

    Args:
      callback: a Python function.
      *args: pytrees of arrays.
      ordered: accepted for compatibility (calls always run in program order here).
      **kwargs: pytrees of arrays, passed by keyword.

    >>> import funcgrad as fg, numpy as np
    >>> seen = []
    >>> fg.grad(lambda x: (fg.debug.callback(seen.append, x), x.sum())[1])(np.ones(3))
    array([1., 1., 1.])
    >>> seen
    [array([1., 1., 1.])]
    """
    leaves, tree = pytree.tree_flatten((args, kwargs))
    debug_callback_p.bind(*(_operand(x) for x in leaves), callback=_Callback(callback, tree),
                          ordered=bool(ordered))


def print(fmt: str, *args: Any, ordered: bool = False, **kwargs: Any) -> None:  # noqa: A001
    """``print(fmt.format(*args, **kwargs))`` with the arguments' values, as
    ``jax.debug.print``.

    Args:
      fmt: a ``str.format`` string.
      *args: pytrees of arrays.
      ordered: accepted for compatibility.
      **kwargs: pytrees of arrays for named fields.

    >>> import funcgrad as fg, numpy as np
    >>> _ = fg.make_jaxpr(lambda x: fg.debug.print("{x}", x=x))(np.ones(2))  # staged: silent
    >>> fg.debug.print("{} and {y}", np.array(1), y=np.array([2, 3]))
    1 and [2 3]
    """
    def show(*a: Any, **k: Any) -> None:
        sys.stdout.write(fmt.format(*a, **k) + "\n")
    callback(show, *args, ordered=ordered, **kwargs)


def breakpoint(*, backend: Any = None, filter_frames: bool = True,  # noqa: A001
               num_frames: int | None = None, ordered: bool = False, token: Any = None,
               **values: Any) -> None:
    """Enter the debugger (``sys.breakpointhook``, i.e. pdb) when this point runs, eagerly or
    in the staged program; the keyword ``values`` (arrays) are in the debugger's locals as
    ``values``. JAX's own debugger (``jdb``) is not reproduced.

    >>> import funcgrad as fg, numpy as np, sys
    >>> hook, sys.breakpointhook = sys.breakpointhook, lambda *a, **k: None
    >>> fg.debug.breakpoint(x=np.ones(2)); sys.breakpointhook = hook
    """
    def enter(**values: Any) -> None:
        sys.breakpointhook()
    callback(enter, ordered=ordered, **values)
