"""``fg.typing``: annotations for funcgrad code, as ``jax.typing``.

``ArrayLike`` is anything a funcgrad function accepts as an array: NumPy arrays and scalars,
Python numbers and booleans, and funcgrad's tracers (what a function sees under ``grad``,
``vmap`` or ``jit``). ``Array`` is what it returns (outside transforms a ``numpy.ndarray``,
inside a tracer). ``DTypeLike`` is NumPy's.

>>> import numpy as np
>>> from funcgrad.typing import ArrayLike
>>> def double(x: ArrayLike) -> ArrayLike:
...     return x * 2
>>> double(np.ones(2))
array([2., 2.])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike as DTypeLike

from funcgrad.core.tracing import Tracer

Array = np.ndarray | Tracer
ArrayLike = np.ndarray | np.generic | Tracer | bool | int | float | complex
Shape = tuple[int, ...]

__all__ = ["Array", "ArrayLike", "DTypeLike", "Shape"]
