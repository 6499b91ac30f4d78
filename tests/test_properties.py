"""Property tests: public ``fg.numpy`` and ``fg.nn`` functions on random shapes, dtypes and
argument values, eager, staged (jit), under vmap and under grad, with NumPy as the oracle.

Where NumPy raises, funcgrad raises an error of the same family (TypeError, ValueError,
IndexError; never an AttributeError or KeyError from its internals, never a result); where
NumPy answers, funcgrad gives the same dtype, shape and values. Gradients are checked against
central differences of the NumPy function. Derandomized under CI (conftest's profile); every
test draws 100 examples (about 10 s for the file); FUNCGRAD_PROPERTY_EXAMPLES=500
searches deeper.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
hnp = pytest.importorskip("hypothesis.extra.numpy")
from hypothesis import given, settings  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402

FAMILIES = (IndexError, TypeError, ValueError)
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.bool_, np.complex128]
# More examples for a deeper local search: FUNCGRAD_PROPERTY_EXAMPLES=500 pytest ...
FEW = settings(deadline=None,
               max_examples=int(os.environ.get("FUNCGRAD_PROPERTY_EXAMPLES", "100")))


# == the harness ===============================================================================

def _numpy(fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with np.errstate(divide="raise"):
                out = fn(*args)
        except FloatingPointError:
            out = fn(*args)
            if _is_integer(out):
                # An integer division by zero: NumPy's value is whatever the C loop left.
                out = _Unspecified(out)
        except Exception as e:  # noqa: BLE001 (NumPy's refusal is the oracle)
            return None, e
        return out, None


class _Unspecified:
    """A NumPy result whose shape and dtype are defined but whose values are not."""

    def __init__(self, value: Any):
        self.value = np.asarray(value)


def _is_integer(x: Any) -> bool:
    if isinstance(x, (tuple, list)):
        return any(_is_integer(a) for a in x)
    return np.asarray(x).dtype.kind in "biu"


def _families(e: BaseException) -> tuple[type, ...]:
    return tuple(f for f in FAMILIES if isinstance(e, f))


def _broadcastable(*args: Any) -> bool:
    try:
        np.broadcast_shapes(*(np.shape(a) for a in args))
    except ValueError:
        return False
    return True


def _assert_raises_like(run: Callable[[], Any], np_error: BaseException, what: str,
                        also: tuple[type, ...] = ()) -> None:
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = run()
    except (AttributeError, KeyError) as e:
        raise AssertionError(f"{what}: an internal {type(e).__name__} ({e}) where NumPy "
                             f"raised {type(np_error).__name__}: {np_error}") from e
    except Exception as e:  # noqa: BLE001
        fam = (_families(np_error) or FAMILIES) + also
        assert isinstance(e, fam), (
            f"{what}: {type(e).__name__} ({e}) where NumPy raised "
            f"{type(np_error).__name__}: {np_error}")
        return
    raise AssertionError(f"{what}: returned {out!r} where NumPy raised "
                         f"{type(np_error).__name__}: {np_error}")


def _tol(dtype: np.dtype) -> tuple[float, float]:
    if dtype in (np.float32, np.complex64):
        return 2e-5, 2e-5
    if dtype == np.float16:
        return 2e-3, 2e-3
    return 1e-10, 1e-10


def _assert_close(got: Any, want: Any, what: str) -> None:
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), (what, got, want)
        for g, w in zip(got, want, strict=True):
            _assert_close(g, w, what)
        return
    values = not isinstance(want, _Unspecified)
    want = np.asarray(want.value if isinstance(want, _Unspecified) else want)
    got_a = np.asarray(got)
    assert got_a.shape == want.shape, f"{what}: shape {got_a.shape} != NumPy's {want.shape}"
    assert got_a.dtype == want.dtype, f"{what}: dtype {got_a.dtype} != NumPy's {want.dtype}"
    if not values:
        return
    if want.dtype.kind in "fc":
        rtol, atol = _tol(want.dtype)
        np.testing.assert_allclose(got_a, want, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got_a, want, err_msg=what)


def check(fg_fn: Callable[..., Any], np_fn: Callable[..., Any], *args: np.ndarray,
          vmap: bool = True, grad: bool = False, jit: bool = True) -> None:
    """fg_fn(*args) against np_fn(*args): eager, jit, vmap over a stack of two, and grad."""
    want, err = _numpy(np_fn, *args)
    if err is not None:
        # Operands wrong twice (dtypes and shapes) may be refused for either reason.
        also = () if _broadcastable(*args) else (ValueError,)
        _assert_raises_like(lambda: fg_fn(*args), err, "eager", also)
        if jit:
            _assert_raises_like(lambda: fg.jit(fg_fn)(*args), err, "jit", also)
        return
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_close(fg_fn(*args), want, "eager")
        if jit:
            _assert_close(fg.jit(fg_fn)(*args), want, "jit")
        if vmap and args:
            second = [a[::-1].copy() if a.ndim else a for a in args]
            want2, err2 = _numpy(np_fn, *second)
            if err2 is None and _stackable(want, want2) and not isinstance(
                    want, _Unspecified) and not isinstance(want2, _Unspecified):
                stacked = [np.stack([a, b]) for a, b in zip(args, second, strict=True)]
                _assert_close(fg.vmap(fg_fn)(*stacked), _stack(want, want2), "vmap")
    if grad:
        _check_grad(fg_fn, np_fn, args, want)


def _stackable(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)):
        return all(_stackable(x, y) for x, y in zip(a, b, strict=True))
    return np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype


def _stack(a: Any, b: Any) -> Any:
    if isinstance(a, (tuple, list)):
        return type(a)(_stack(x, y) for x, y in zip(a, b, strict=True))
    return np.stack([a, b])


def _check_grad(fg_fn: Callable[..., Any], np_fn: Callable[..., Any],
                args: tuple[np.ndarray, ...], want: Any) -> None:
    """Reverse mode of <w, f(x)> in the first argument against central differences."""
    x = args[0]
    if isinstance(want, (tuple, list)) or x.dtype != np.float64 or x.size == 0 or (
            np.asarray(want).dtype != np.float64):
        return
    w = np.random.default_rng(0).normal(size=np.shape(want))
    rest = args[1:]
    g = fg.grad(lambda x: fnp.sum(fg_fn(x, *rest) * w))(x)
    h = 1e-6
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        num[i] = (np.sum(np_fn(x + e, *rest) * w) - np.sum(np_fn(x - e, *rest) * w)) / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-4, err_msg="grad")


# == strategies ===============================================================================

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
dtypes = st.sampled_from(DTYPES)


def _values(dtype: Any, shape: tuple[int, ...], seed: int, lo: float = -3.0,
            hi: float = 3.0, special: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        return np.asarray(rng.integers(int(lo) - 2, int(hi) + 3, size=shape).astype(dtype))
    x = rng.uniform(lo, hi, size=shape)
    if special and x.size:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size)] = rng.choice([0.0, -0.0, 1.0, -1.0, 0.5])
    if dtype.kind == "c":
        x = x + 1j * rng.uniform(lo, hi, size=shape)
    return np.asarray(x.astype(dtype))


@st.composite
def arrays(draw: Any, dtype: Any = None, shape: Any = None, lo: float = -3.0, hi: float = 3.0,
           special: bool = True) -> np.ndarray:
    dtype = draw(dtypes) if dtype is None else dtype
    shape = draw(shapes) if shape is None else shape
    return _values(dtype, shape, draw(st.integers(0, 2**31)), lo, hi,
                   special and draw(st.booleans()))


# == elementwise ==============================================================================

UNARY = ["abs", "negative", "positive", "sign", "exp", "exp2", "expm1", "log", "log2", "log10",
         "log1p", "sqrt", "square", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
         "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "floor", "ceil", "reciprocal",
         "isfinite", "isinf", "isnan", "logical_not", "invert", "conj", "real", "imag",
         "angle", "round"]
# Smooth on (lo, hi), so the gradient is checked there.
SMOOTH = {"negative": (-3, 3), "exp": (-3, 3), "exp2": (-3, 3), "expm1": (-3, 3),
          "log": (0.2, 3), "log2": (0.2, 3), "log10": (0.2, 3), "log1p": (-0.5, 3),
          "sqrt": (0.2, 3), "square": (-3, 3), "sin": (-3, 3), "cos": (-3, 3),
          "tan": (-1.2, 1.2), "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctan": (-3, 3),
          "sinh": (-3, 3), "cosh": (-3, 3), "tanh": (-3, 3), "arcsinh": (-3, 3),
          "arccosh": (1.2, 3), "arctanh": (-0.9, 0.9), "reciprocal": (0.3, 3)}


@FEW
@given(st.sampled_from(UNARY), arrays())
def test_unary_ufuncs_match_numpy(name: str, x: np.ndarray) -> None:
    check(getattr(fnp, name), getattr(np, name), x)


@FEW
@given(st.sampled_from(sorted(SMOOTH)), st.data())
def test_unary_gradients_match_finite_differences(name: str, data: Any) -> None:
    lo, hi = SMOOTH[name]
    x = data.draw(arrays(np.float64, lo=lo, hi=hi, special=False))
    check(getattr(fnp, name), getattr(np, name), x, grad=True)


BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power",
          "remainder", "mod", "maximum", "minimum", "arctan2", "logaddexp", "equal",
          "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
          "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]


@st.composite
def operand_pairs(draw: Any) -> tuple[Any, Any]:
    if draw(st.booleans()):
        shapes2 = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
        sx, sy = shapes2.input_shapes
    else:  # often not broadcastable: NumPy's ValueError is the oracle
        sx, sy = draw(shapes), draw(shapes)
    x = draw(arrays(shape=sx))
    kind = draw(st.sampled_from(["array", "array", "int", "float", "bool"]))
    y: Any = draw(arrays(shape=sy))
    if kind == "int":
        y = draw(st.integers(-3, 3))
    elif kind == "float":
        y = draw(st.sampled_from([0.5, -1.5, 2.0, 0.0]))
    elif kind == "bool":
        y = draw(st.booleans())
    return (y, x) if draw(st.booleans()) else (x, y)


@FEW
@given(st.sampled_from(BINARY), operand_pairs())
def test_binary_ufuncs_match_numpy(name: str, xy: tuple[Any, Any]) -> None:
    x, y = xy
    fg_fn, np_fn = getattr(fnp, name), getattr(np, name)
    arrays_only = [a for a in (x, y) if isinstance(a, np.ndarray)]
    if len(arrays_only) == 2:
        check(fg_fn, np_fn, x, y)
    elif isinstance(x, np.ndarray):
        check(lambda a: fg_fn(a, y), lambda a: np_fn(a, y), x)
    else:
        check(lambda b: fg_fn(x, b), lambda b: np_fn(x, b), y)


# == reductions ===============================================================================

REDUCTIONS = ["sum", "prod", "max", "min", "amax", "amin", "mean", "std", "var", "argmax",
              "argmin", "all", "any", "cumsum", "cumprod"]
# Differentiable at distinct random values.
SMOOTH_REDUCTIONS = {"sum", "prod", "max", "min", "mean", "std", "var", "cumsum", "cumprod"}
axes = st.one_of(st.none(), st.integers(-4, 3),
                 st.tuples(st.integers(-3, 3), st.integers(-3, 3)))


@FEW
@given(st.sampled_from(REDUCTIONS), arrays(), axes, st.booleans(), st.data())
def test_reductions_match_numpy(name: str, x: np.ndarray, axis: Any, keepdims: bool,
                                data: Any) -> None:
    if x.ndim == 0 and isinstance(axis, int):
        # NumPy's ufunc reductions take axis 0 or -1 of a 0-d array (its mean and std
        # refuse it); funcgrad refuses it throughout, as JAX.
        axis = None
    kwargs: dict[str, Any] = {"axis": axis}
    if name not in ("cumsum", "cumprod"):
        kwargs["keepdims"] = keepdims
    if name in ("std", "var"):
        kwargs["ddof"] = data.draw(st.integers(0, 1))
    fg_fn, np_fn = getattr(fnp, name), getattr(np, name)
    check(lambda a: fg_fn(a, **kwargs), lambda a: np_fn(a, **kwargs), x)


@FEW
@given(st.sampled_from(sorted(SMOOTH_REDUCTIONS)), arrays(np.float64, special=False), axes)
def test_reduction_gradients_match_finite_differences(name: str, x: np.ndarray, axis: Any
                                                      ) -> None:
    if x.ndim == 0 and isinstance(axis, int):
        axis = None  # (see test_reductions_match_numpy)
    fg_fn, np_fn = getattr(fnp, name), getattr(np, name)
    want, err = _numpy(lambda a: np.mean(a, axis=axis), x)
    if name == "std" and err is None and x.size <= np.size(want):
        return  # one element per reduction: std is 0, where sqrt has no derivative
    check(lambda a: fg_fn(a, axis=axis), lambda a: np_fn(a, axis=axis), x, grad=True)


# == shapes ===================================================================================

def _shape_calls(draw: Any, x: np.ndarray) -> tuple[str, Callable[[Any, Any], Any]]:
    """A random shape operation as (name, op(namespace, x)) for NumPy and fnp alike."""
    n = x.ndim
    ax = st.integers(-n - 1, n)
    name = draw(st.sampled_from(
        ["reshape", "transpose", "squeeze", "expand_dims", "moveaxis", "swapaxes", "flip",
         "roll", "tile", "repeat", "concatenate", "stack", "split", "pad", "take",
         "broadcast_to", "ravel", "diagonal", "trace", "tril", "triu", "clip", "where",
         "rot90", "take_along_axis", "atleast_2d"]))
    if name == "reshape":
        shape = list(draw(st.permutations(list(x.shape))))
        if shape and draw(st.booleans()):
            shape[draw(st.integers(0, len(shape) - 1))] = -1
        if draw(st.booleans()):
            shape = list(draw(st.lists(st.integers(-1, 5), max_size=3)))
        return name, lambda m, a: m.reshape(a, tuple(shape))
    if name == "transpose":
        perm = draw(st.one_of(st.none(), st.permutations(list(range(n))),
                              st.lists(st.integers(-n, n), max_size=n + 1)))
        return name, lambda m, a: m.transpose(a, perm)
    if name == "squeeze":
        axis = draw(st.one_of(st.none(), ax)) if n else None  # (0-d: as for reductions)
        return name, lambda m, a: m.squeeze(a, axis)
    if name == "expand_dims":
        axis = draw(st.one_of(st.integers(-n - 2, n + 1),
                              st.tuples(st.integers(-n - 2, n + 1), st.integers(-n - 2, n + 1))))
        return name, lambda m, a: m.expand_dims(a, axis)
    if name == "moveaxis":
        s, d = draw(ax), draw(ax)
        return name, lambda m, a: m.moveaxis(a, s, d)
    if name == "swapaxes":
        s, d = draw(ax), draw(ax)
        return name, lambda m, a: m.swapaxes(a, s, d)
    if name == "flip":
        axis = draw(st.one_of(st.none(), ax))
        return name, lambda m, a: m.flip(a, axis)
    if name == "roll":
        shift, axis = draw(st.integers(-5, 5)), draw(st.one_of(st.none(), ax))
        return name, lambda m, a: m.roll(a, shift, axis)
    if name == "tile":
        reps = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=4)))
        return name, lambda m, a: m.tile(a, reps)
    if name == "repeat":
        reps, axis = draw(st.integers(0, 3)), draw(st.one_of(st.none(), ax))
        return name, lambda m, a: m.repeat(a, reps, axis)
    if name in ("concatenate", "stack"):
        axis = draw(st.one_of(st.none(), ax) if name == "concatenate" else ax)
        other = x[::-1] if n and draw(st.booleans()) else x[..., :1] if n else x
        return name, lambda m, a: getattr(m, name)([a, other], axis=axis)
    if name == "split":
        k, axis = draw(st.integers(1, 3)), draw(ax)
        return name, lambda m, a: tuple(m.split(a, k, axis=axis))
    if name == "pad":
        width = draw(st.one_of(st.integers(0, 2),
                               st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                        min_size=n, max_size=n + 1)))
        return name, lambda m, a: m.pad(a, width)
    if name == "take":
        idx = np.array(draw(st.lists(st.integers(-5, 4), max_size=3)), dtype=np.int64)
        # (NumPy takes axis 0 of a 0-d array; funcgrad refuses it, as for reductions)
        axis = draw(st.one_of(st.none(), ax)) if n else None
        return name, lambda m, a: m.take(a, idx, axis=axis)
    if name == "broadcast_to":
        shape = tuple(draw(st.lists(st.integers(0, 3), max_size=2))) + tuple(
            s if draw(st.booleans()) else draw(st.integers(1, 3)) for s in x.shape)
        return name, lambda m, a: m.broadcast_to(a, shape)
    if name in ("diagonal", "trace"):
        off, a1, a2 = draw(st.integers(-2, 2)), draw(ax), draw(ax)
        return name, lambda m, a: getattr(m, name)(a, off, a1, a2)
    if name in ("tril", "triu"):
        k = draw(st.integers(-2, 2))
        return name, lambda m, a: getattr(m, name)(a, k)
    if name == "clip":
        lo, hi = draw(st.sampled_from([(-1, 1), (None, 0.5), (0, None), (1, -1)]))
        return name, lambda m, a: m.clip(a, lo, hi)
    if name == "where":
        cond = np.asarray(x).astype(bool) if x.dtype.kind != "c" else np.abs(x) > 1
        return name, lambda m, a: m.where(cond, a, 0)
    if name == "rot90":
        k = draw(st.integers(-2, 3))
        return name, lambda m, a: m.rot90(a, k)
    if name == "take_along_axis":
        axis = draw(st.one_of(st.none(), ax))
        idx_shape = x.shape if axis is None or not -n <= axis < n else x.shape
        idx = np.asarray(np.random.default_rng(0).integers(0, 2, size=idx_shape))
        if axis is None:
            idx = idx.reshape(-1)
        return name, lambda m, a: m.take_along_axis(a, idx, axis=axis)
    return name, lambda m, a: getattr(m, name)(a)


@FEW
@given(arrays(), st.data())
def test_shape_functions_match_numpy(x: np.ndarray, data: Any) -> None:
    name, op = _shape_calls(data.draw, x)
    check(lambda a: op(fnp, a), lambda a: op(np, a), x, grad=x.dtype == np.float64)


# == indexing =================================================================================

@st.composite
def index_keys(draw: Any, shape: tuple[int, ...]) -> Any:
    bound = st.one_of(st.none(), st.integers(-6, 6))
    step = st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0))
    entries = st.one_of(
        st.integers(-5, 4), st.builds(slice, bound, bound, step), st.just(None),
        st.just(Ellipsis),
        st.lists(st.integers(-5, 4), min_size=0, max_size=3).map(
            lambda v: np.array(v, dtype=np.int64)))
    key = draw(st.lists(entries, min_size=0, max_size=3))
    if draw(st.integers(0, 4)) == 0 and shape:  # (0-d masks are refused, see indexing.py)
        return np.random.default_rng(draw(st.integers(0, 9))).random(shape) < 0.5
    return tuple(key) if draw(st.booleans()) else (key[0] if len(key) == 1 else tuple(key))


@FEW
@given(arrays(np.float64, special=False), st.data())
def test_indexing_matches_numpy(x: np.ndarray, data: Any) -> None:
    key = data.draw(index_keys(x.shape))
    check(lambda a: fnp.asarray(a)[key],
          lambda a: a[key], x, vmap=False, grad=True)



# == products =================================================================================

PRODUCTS = ["matmul", "dot", "outer", "inner", "vdot", "tensordot", "kron_free_einsum"]


@st.composite
def product_operands(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    dt = draw(st.sampled_from([np.float64, np.float32, np.int64, np.complex128]))
    k = draw(st.integers(0, 3))
    sx = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + (k,)
    sy = (draw(st.sampled_from([k, k, k + 1])),) + tuple(
        draw(st.lists(st.integers(1, 3), max_size=2)))
    if draw(st.booleans()):
        sx, sy = sx[-1:], sy[:1]  # vectors
    return (draw(arrays(dt, sx, special=False)),
            draw(arrays(draw(st.sampled_from([dt, np.float64])), sy, special=False)))


@FEW
@given(st.sampled_from(PRODUCTS), product_operands())
def test_products_match_numpy(name: str, xy: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = xy
    if name == "kron_free_einsum":
        if x.ndim < 1 or y.ndim < 1:
            return
        sub = "ab"[:x.ndim - 1] + "k," + "k" + "cd"[:y.ndim - 1]
        check(lambda a, b: fnp.einsum(sub, a, b), lambda a, b: np.einsum(sub, a, b), x, y,
              grad=True)
        return
    fg_fn, np_fn = getattr(fnp, name), getattr(np, name)
    check(fg_fn, np_fn, x, y, grad=name != "vdot")


# == fg.nn ====================================================================================

def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_logsumexp(x: np.ndarray, axis: Any) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


_SQRT_2_PI = np.sqrt(2 / np.pi)
NN: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "relu": (fg.nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (fg.nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    "sigmoid": (fg.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": (fg.nn.softplus, lambda x: np.logaddexp(x, 0)),
    "silu": (fg.nn.silu, lambda x: x / (1 + np.exp(-x))),
    "log_sigmoid": (fg.nn.log_sigmoid, lambda x: -np.logaddexp(-x, 0)),
    "elu": (fg.nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "leaky_relu": (fg.nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "gelu": (fg.nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(_SQRT_2_PI * (x + 0.044715 * x**3)))),
    "tanh": (fg.nn.tanh, np.tanh),
    "hard_tanh": (fg.nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "softmax": (fg.nn.softmax, lambda x: _np_softmax(x, -1)),
    "log_softmax": (fg.nn.log_softmax, lambda x: np.log(_np_softmax(x, -1))),
    "logsumexp": (fg.nn.logsumexp, lambda x: _np_logsumexp(x, None)),
    "standardize": (fg.nn.standardize, lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-5)),
}


@FEW
@given(st.sampled_from(sorted(NN)), arrays(st.sampled_from([np.float64, np.float32]).example()
                                           if False else np.float64, special=False))
def test_nn_functions_match_numpy_formulas(name: str, x: np.ndarray) -> None:
    fg_fn, np_fn = NN[name]
    if x.ndim == 0 and name in ("softmax", "log_softmax", "standardize"):
        x = x.reshape(1)
    check(fg_fn, np_fn, x, grad=name not in ("relu", "relu6", "hard_tanh", "leaky_relu"))


@FEW
@given(st.sampled_from(sorted(NN)), arrays(np.float32, special=False))
def test_nn_functions_keep_float32(name: str, x: np.ndarray) -> None:
    fg_fn, np_fn = NN[name]
    if x.ndim == 0 and name in ("softmax", "log_softmax", "standardize"):
        x = x.reshape(1)
    check(fg_fn, lambda a: np.asarray(np_fn(a), np.float32), x)


# == regressions the properties found (each a wrong number or dtype on main) ==================

def test_var_and_std_of_complex_are_real_as_numpy() -> None:
    x = np.array([1j, -1j, 2 + 1j])
    for fn in ("var", "std"):
        got, want = getattr(fnp, fn)(x), getattr(np, fn)(x)
        assert got.dtype == want.dtype == np.float64
        np.testing.assert_allclose(got, want)
        np.testing.assert_allclose(fg.jit(getattr(fnp, fn))(x), want)


def test_out_of_range_axes_do_not_wrap() -> None:
    x = np.ones((2, 3))
    for call in (lambda: fnp.transpose(x, (0, 2)), lambda: fnp.concatenate([x, x], 2),
                 lambda: fnp.moveaxis(x, 0, 2), lambda: fnp.roll(x, 1, 2),
                 lambda: fnp.expand_dims(x, 4), lambda: fnp.sum(x, (0, 0)),
                 lambda: fg.nn.softmax(x, axis=2), lambda: fg.nn.logsumexp(x, axis=5),
                 lambda: fg.lax.rev(x, (2,)), lambda: fg.lax.expand_dims(x, (5,)),
                 lambda: fnp.tensordot(x, x, ((0,), (2,)))):
        with pytest.raises(ValueError):
            call()


def test_select_impl_is_np_where_bit_for_bit_on_large_arrays() -> None:
    # select's impl works on the bit patterns above 4096 elements: it must be np.where's
    # result exactly, NaN payloads, signed zeros and infinities included.
    from funcgrad.lax.elementwise import select_impl
    rng = np.random.default_rng(3)
    specials = [np.nan, -0.0, np.inf, -np.inf, 0.0, -np.nan]
    for dt in (np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.complex64):
        a = (rng.standard_normal(5000) * 10).astype(dt)
        b = (rng.standard_normal(5000) * 10).astype(dt)
        if np.dtype(dt).kind == "f":
            a[:6], b[:6] = specials, specials[::-1]
        p = rng.random(5000) < 0.5
        for f in (b, np.broadcast_to(np.zeros((), dt), a.shape),
                  np.broadcast_to(np.array(-0.0 if np.dtype(dt).kind == "f" else 3, dt), a.shape)):
            got, want = select_impl(p, a, f), np.where(p, a, f)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), dt
