"""Give tracers NumPy's operators, properties and methods.

Installed at import time so that ``core`` never imports the NumPy layer (autodidax's trick).
NumPy functions called on a tracer dispatch to ``fg.numpy``: ufuncs (``np.sin(t)``,
``ndarray + t``) through ``__array_ufunc__``, the rest (``np.sum(t)``, ``np.concatenate([t,
u])``, ``np.linalg.inv(t)``) through ``__array_function__``, when fg.numpy has the name.
"""

from __future__ import annotations

from typing import Any

from funcgrad import numpy as fnp
from funcgrad.core.tracing import Tracer
from funcgrad.lax.indexing import IndexHelper, getitem


def _swap(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


_OPERATORS = {
    "__add__": fnp.add, "__radd__": _swap(fnp.add),
    "__sub__": fnp.subtract, "__rsub__": _swap(fnp.subtract),
    "__mul__": fnp.multiply, "__rmul__": _swap(fnp.multiply),
    "__truediv__": fnp.true_divide, "__rtruediv__": _swap(fnp.true_divide),
    "__floordiv__": fnp.floor_divide, "__rfloordiv__": _swap(fnp.floor_divide),
    "__mod__": fnp.remainder, "__rmod__": _swap(fnp.remainder),
    "__pow__": fnp.power, "__rpow__": _swap(fnp.power),
    "__matmul__": fnp.matmul, "__rmatmul__": _swap(fnp.matmul),
    "__lt__": fnp.less, "__le__": fnp.less_equal,
    "__gt__": fnp.greater, "__ge__": fnp.greater_equal,
    "__eq__": fnp.equal, "__ne__": fnp.not_equal,
    "__and__": fnp.bitwise_and, "__rand__": _swap(fnp.bitwise_and),
    "__or__": fnp.bitwise_or, "__ror__": _swap(fnp.bitwise_or),
    "__xor__": fnp.bitwise_xor, "__rxor__": _swap(fnp.bitwise_xor),
    "__neg__": fnp.negative, "__pos__": fnp.positive, "__abs__": fnp.abs,
    "__invert__": fnp.invert,
    "__getitem__": getitem,
}

_METHODS = {
    "sum": fnp.sum, "mean": fnp.mean, "prod": fnp.prod, "max": fnp.max, "min": fnp.min,
    "var": fnp.var, "std": fnp.std, "argmax": fnp.argmax, "argmin": fnp.argmin,
    "all": fnp.all, "any": fnp.any, "cumsum": fnp.cumsum, "cumprod": fnp.cumprod,
    "ravel": fnp.ravel, "flatten": fnp.ravel, "squeeze": fnp.squeeze, "clip": fnp.clip,
    "round": fnp.round, "dot": fnp.dot, "swapaxes": fnp.swapaxes, "astype": fnp.astype,
    "diagonal": fnp.diagonal, "trace": fnp.trace, "take": fnp.take, "repeat": fnp.repeat,
    "conj": fnp.conjugate, "conjugate": fnp.conjugate,
    "sort": fnp.sort, "argsort": fnp.argsort,
}


def _varargs(args: tuple[Any, ...]) -> Any:
    """NumPy's method convention: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    return args[0] if len(args) == 1 and not isinstance(args[0], int) else args


def _reshape(self: Any, *shape: Any, order: str = "C") -> Any:
    return fnp.reshape(self, _varargs(shape), order=order)


def _transpose(self: Any, *axes: Any) -> Any:
    if not axes:
        return fnp.transpose(self)
    return fnp.transpose(self, _varargs(axes))


def _iter(self: Any) -> Any:
    if not self.shape:
        raise TypeError("iteration over a 0-d traced array")
    return (getitem(self, i) for i in range(self.shape[0]))


def _array_ufunc(self: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    self._check_alive()  # a leaked tracer reaching NumPy is an escaped tracer
    fn = getattr(fnp, ufunc.__name__, None)
    if method != "__call__" or kwargs or fn is None:
        return self.__array__()  # raises the tracer-to-NumPy conversion error
    return fn(*inputs)


def _fnp_function(func: Any) -> Any:
    """The fg.numpy function standing for NumPy's ``func`` (``np.linalg.x`` is
    ``fnp.linalg.x``), or None."""
    namespace: Any = fnp
    module = getattr(func, "__module__", None) or "numpy"
    for part in module.split(".")[1:]:
        if part.startswith("_"):
            continue  # numpy._core.fromnumeric and the like are numpy itself
        namespace = getattr(namespace, part, None)
        if namespace is None:
            return None
    fn = getattr(namespace, getattr(func, "__name__", ""), None)
    return fn if callable(fn) and fn is not func else None


def _array_function(self: Any, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    # np.sum(t), np.concatenate([t, u]), np.where(c, t, 0)... run fg.numpy's function of the
    # same name; one fg.numpy lacks raises the tracer-to-NumPy conversion error.
    self._check_alive()
    fn = _fnp_function(func)
    if fn is None:
        return self.__array__()
    return fn(*args, **kwargs)


for _name, _fn in _OPERATORS.items():
    setattr(Tracer, _name, _fn)
for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _fn)
Tracer.reshape = _reshape  # type: ignore[attr-defined]
Tracer.transpose = _transpose  # type: ignore[attr-defined]
Tracer.__iter__ = _iter  # type: ignore[attr-defined]
Tracer.__array_ufunc__ = _array_ufunc  # type: ignore[method-assign]
Tracer.__array_function__ = _array_function  # type: ignore[method-assign]
Tracer.T = property(lambda self: fnp.transpose(self))  # type: ignore[attr-defined]
Tracer.mT = property(lambda self: fnp.swapaxes(self, -1, -2))  # type: ignore[attr-defined]
Tracer.real = property(lambda self: fnp.real(self))  # type: ignore[attr-defined]
Tracer.imag = property(lambda self: fnp.imag(self))  # type: ignore[attr-defined]
Tracer.at = property(IndexHelper)  # type: ignore[attr-defined]
