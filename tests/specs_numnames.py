"""Op specs for issue 17's ``fg.numpy`` names (``_numeric.py``, ``_arrays.py``, the pad modes)
and for the shift and nextafter primitives.

Each spec runs forward against NumPy (float64, and float32 where listed), through
``check_grads`` to order 2 and the adjoint test when differentiable, under ``vmap`` against a
loop, staged against eager and under ``jit``. Inputs with NaN and infinities (where finite
differences mean nothing) are checked forward in ``test_numnames.py``. Domains keep finite
differences off kinks (hypot and copysign away from 0, fmax/fmin on distinct values,
piecewise/select away from the boundaries with overwhelming probability).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec
from specs_core import AWAY, SPECIAL, TIES, B, U, _Gen

import funcgrad.numpy as fnp
from funcgrad import lax

F32_64 = (np.float64, np.float32)
S23 = (2, 3)
SPECS: list[OpSpec] = []


def spec(name: str, fn: Callable[..., Any], args: list[_Gen], ref: Callable[..., Any] | None,
         prims: tuple[str, ...] = (), order: int = 2, dtypes: tuple[Any, ...] = (np.float64,),
         tol: float | None = None, vmap_size0: bool = True, numpy: tuple[str, ...] = (),
         diff_argnums: tuple[int, ...] | None = None) -> None:
    gens = tuple(args)
    SPECS.append(OpSpec(
        name=f"nn17_{name}", fn=fn, arg_shapes=tuple(g.shape for g in gens), primitives=prims,
        dtypes=dtypes, tol=tol, grad_order=order, diff_argnums=diff_argnums,
        make_args=lambda rng, gens=gens: tuple(g(rng) for g in gens), reference=ref,
        extra={"numpy": numpy, "vmap_size0": vmap_size0, "vmap_none": True,
               "tracer_only": False}))


def INT(shape: tuple[int, ...], lo: int, hi: int, dtype: Any) -> _Gen:
    return _Gen(shape, lambda rng: rng.integers(lo, hi, shape).astype(dtype))


def FIXED(value: Any) -> _Gen:
    arr = np.asarray(value)
    return _Gen(arr.shape, lambda rng: arr.copy())


# == new primitives ===========================================================================

for _dt in (np.int8, np.int32, np.uint8, np.uint16):
    _n = np.dtype(_dt).itemsize * 8
    _name = np.dtype(_dt).name
    spec(f"left_shift_{_name}", fnp.left_shift,
         [INT(S23, 0 if _dt in (np.uint8, np.uint16) else -50, 50, _dt), INT(S23, 0, _n + 2, _dt)],
         np.left_shift, ("shift_left",), order=0)
    spec(f"right_shift_{_name}", fnp.right_shift,
         [INT(S23, 0 if _dt in (np.uint8, np.uint16) else -50, 50, _dt), INT(S23, 0, _n + 2, _dt)],
         np.right_shift, ("shift_right_arithmetic",) if _name.startswith("int") else
         ("shift_right_logical",), order=0)


def _logical_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    u = np.dtype(f"u{x.dtype.itemsize}")
    return np.right_shift(x.view(u), y.astype(u)).view(x.dtype)


spec("lax_shift_right_logical_int8", lax.shift_right_logical,
     [INT(S23, -128, 127, np.int8), INT(S23, 0, 9, np.int8)], _logical_ref,
     ("shift_right_logical",), order=0)
spec("lax_shift_right_arithmetic_uint8", lax.shift_right_arithmetic,
     [INT(S23, 0, 255, np.uint8), INT(S23, 0, 9, np.uint8)],
     lambda x, y: np.right_shift(x.view(np.int8), y.view(np.int8)).view(np.uint8),
     ("shift_right_arithmetic",), order=0)
spec("signbit", fnp.signbit, [FIXED([[-0.0, 0.0, -1.5, -np.nan], [2.0, -np.inf, np.inf, np.nan]])],
     np.signbit, ("signbit",), order=0)
spec("nextafter", fnp.nextafter, [U(S23), U(S23)], np.nextafter, ("nextafter",), order=0,
     dtypes=F32_64)
spec("nextafter_special", fnp.nextafter, [SPECIAL((3, 4)), SPECIAL((3, 4))], np.nextafter,
     ("nextafter",), order=0)

# == elementwise composites ===================================================================

_ELEMENTWISE_1: list[tuple[str, Any, Any, _Gen, int]] = [
    ("fabs", fnp.fabs, np.fabs, AWAY(S23), 2),
    ("deg2rad", fnp.deg2rad, np.deg2rad, U(S23), 2),
    ("rad2deg", fnp.rad2deg, np.rad2deg, U(S23), 2),
    ("radians", fnp.radians, np.radians, U(S23), 2),
    ("degrees", fnp.degrees, np.degrees, U(S23), 2),
    ("sinc", fnp.sinc, np.sinc, U((3, 4)), 2),
    ("sinc_near_zero", fnp.sinc, np.sinc, FIXED([0.0, 1e-5, -3e-4, 0.5]), 2),
    ("cbrt", fnp.cbrt, np.cbrt, AWAY(S23), 2),
    ("trunc", fnp.trunc, np.trunc, U(S23, -3, 3), 0),
    ("nan_to_num", fnp.nan_to_num, np.nan_to_num, U(S23), 2),
]
for _name, _fn, _ref, _gen, _order in _ELEMENTWISE_1:
    spec(_name, _fn, [_gen], _ref, order=_order, dtypes=F32_64 if _order else (np.float64,))


_ELEMENTWISE_2: list[tuple[str, Any, Any, _Gen, _Gen, int]] = [
    ("fmax", fnp.fmax, np.fmax, U(S23), U((3,)), 2),
    ("fmin", fnp.fmin, np.fmin, U(S23), U((3,)), 2),
    ("hypot", fnp.hypot, np.hypot, AWAY(S23), AWAY(S23), 2),
    ("logaddexp2", fnp.logaddexp2, np.logaddexp2, U(S23), U(S23), 2),
    ("copysign", fnp.copysign, np.copysign, AWAY(S23), AWAY(S23), 2),
    ("float_power", fnp.float_power, np.float_power, U(S23, 0.5, 2.0), U(S23), 2),
]
for _name, _fn, _ref, _g1, _g2, _order in _ELEMENTWISE_2:
    spec(_name, _fn, [_g1, _g2], _ref, order=_order,
         dtypes=F32_64 if _order and _name != "float_power" else (np.float64,))

# x1 has ties at the step (0): only x2, which passes through where x1 == 0, is differentiated.
spec("heaviside", fnp.heaviside, [TIES((3, 4)), U((3, 4))], np.heaviside, diff_argnums=(1,),
     dtypes=F32_64)
spec("isclose", lambda x, y: fnp.isclose(x, x + y * 1e-6), [U(S23), U(S23)],
     lambda x, y: np.isclose(x, x + y * 1e-6), order=0)
spec("isclose_special", lambda x, y: fnp.isclose(x, y, equal_nan=True),
     [SPECIAL((3, 4)), SPECIAL((3, 4))], lambda x, y: np.isclose(x, y, equal_nan=True),
     order=0)
spec("allclose", lambda x, y: fnp.allclose(x, x + y * 1e-9), [U(S23), U(S23)],
     lambda x, y: np.asarray(np.allclose(x, x + y * 1e-9)), order=0)
spec("array_equal", lambda x, y: fnp.array_equal(x, y), [TIES(S23), TIES(S23)],
     lambda x, y: np.asarray(np.array_equal(x, y)), order=0)
spec("array_equiv", lambda x, y: fnp.array_equiv(x, y), [TIES(S23), TIES((3,))],
     lambda x, y: np.asarray(np.array_equiv(x, y)), order=0)
spec("clip_min_max", lambda x: fnp.clip(x, min=-0.5, max=0.75), [U(S23)],
     lambda x: np.clip(x, min=-0.5, max=0.75), dtypes=F32_64)

# == building arrays ==========================================================================

spec("diag_1d", lambda v: fnp.diag(v), [U((3,))], np.diag, dtypes=F32_64)
spec("diag_1d_k1", lambda v: fnp.diag(v, 1), [U((3,))], lambda v: np.diag(v, 1))
spec("diag_1d_km2", lambda v: fnp.diag(v, -2), [U((3,))], lambda v: np.diag(v, -2))
spec("diag_2d", lambda m: fnp.diag(m, 1), [U((3, 4))], lambda m: np.diag(m, 1))
spec("diagflat", lambda v: fnp.diagflat(v, -1), [U((2, 2))], lambda v: np.diagflat(v, -1))
spec("meshgrid_xy", lambda x, y: fnp.meshgrid(x, y), [U((3,)), U((4,))],
     lambda x, y: np.meshgrid(x, y))
spec("meshgrid_ij_3", lambda x, y, z: fnp.meshgrid(x, y, z, indexing="ij"),
     [U((2,)), U((3,)), U((4,))], lambda x, y, z: np.meshgrid(x, y, z, indexing="ij"))
spec("meshgrid_sparse", lambda x, y: fnp.meshgrid(x, y, sparse=True), [U((3,)), U((4,))],
     lambda x, y: np.meshgrid(x, y, sparse=True))
spec("kron_2d", fnp.kron, [U((2, 3)), U((3, 2))], np.kron, dtypes=F32_64)
spec("kron_mixed_rank", fnp.kron, [U((3,)), U((2, 2))], np.kron)
spec("cross_3", fnp.cross, [U((4, 3)), U((3,))], np.cross, dtypes=F32_64)
spec("cross_axis", lambda a, b: fnp.cross(a, b, axisa=0, axisb=1, axisc=0),
     [U((3, 2)), U((2, 3))], lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0))
spec("vecdot", fnp.vecdot, [U((2, 3)), U((3,))], lambda a, b: np.vecdot(a, b), dtypes=F32_64)
spec("vecdot_axis0", lambda a, b: fnp.vecdot(a, b, axis=0), [U((3, 2)), U((3, 1))],
     lambda a, b: np.vecdot(a, b, axis=0))
spec("matrix_transpose", fnp.matrix_transpose, [U((2, 3, 4))],
     lambda x: np.matrix_transpose(x))
spec("permute_dims", lambda x: fnp.permute_dims(x, (2, 0, 1)), [U((2, 3, 4))],
     lambda x: np.permute_dims(x, (2, 0, 1)))
spec("concat_none", lambda x, y: fnp.concat([x, y], axis=None), [U((2, 2)), U((3,))],
     lambda x, y: np.concat([x, y], axis=None))
spec("unstack", lambda x: fnp.unstack(x, axis=1), [U((2, 3))],
     lambda x: np.unstack(x, axis=1))
spec("atleast_3d", lambda a, b, c: fnp.atleast_3d(a, b, c), [U(()), U((3,)), U((2, 3))],
     lambda a, b, c: np.atleast_3d(a, b, c))
spec("column_stack", lambda a, b: fnp.column_stack([a, b]), [U((3,)), U((3, 2))],
     lambda a, b: np.column_stack([a, b]))
spec("dstack", lambda a, b: fnp.dstack([a, b]), [U((3,)), U((1, 3))],
     lambda a, b: np.dstack([a, b]))
spec("append_flat", fnp.append, [U((2, 2)), U((3,))], np.append)
spec("append_axis1", lambda a, b: fnp.append(a, b, axis=1), [U((2, 2)), U((2, 1))],
     lambda a, b: np.append(a, b, axis=1))
spec("array_split", lambda x: fnp.array_split(x, 3, axis=1), [U((2, 7))],
     lambda x: np.array_split(x, 3, axis=1))
spec("array_split_points", lambda x: fnp.array_split(x, [1, -2, 9]), [U((5, 2))],
     lambda x: np.array_split(x, [1, -2, 9]))
spec("hsplit", lambda x: fnp.hsplit(x, [1]), [U((2, 3))], lambda x: np.hsplit(x, [1]))
spec("vsplit", lambda x: fnp.vsplit(x, 2), [U((4, 3))], lambda x: np.vsplit(x, 2))
spec("dsplit", lambda x: fnp.dsplit(x, 2), [U((1, 2, 4))], lambda x: np.dsplit(x, 2))
spec("rollaxis", lambda x: fnp.rollaxis(x, 2, 1), [U((2, 3, 4))],
     lambda x: np.rollaxis(x, 2, 1))
spec("rollaxis_back", lambda x: fnp.rollaxis(x, 0, 3), [U((2, 3, 4))],
     lambda x: np.rollaxis(x, 0, 3))
spec("select", lambda x, y: fnp.select([x < 0, y > 0.5], [x * y, y * y], 1.5),
     [U((3, 4)), U((3, 4))], lambda x, y: np.select([x < 0, y > 0.5], [x * y, y * y], 1.5),
     dtypes=F32_64)
spec("piecewise", lambda x: fnp.piecewise(x, [x < -0.5, x > 1.0],
                                         [lambda v: v * v, lambda v: 2 * v, lambda v: v + 1]),
     [U((3, 4))], lambda x: np.piecewise(x, [x < -0.5, x > 1.0],
                                         [lambda v: v * v, lambda v: 2 * v, lambda v: v + 1]),
     dtypes=F32_64)
spec("piecewise_scalars", lambda x: fnp.piecewise(x, [x < 0], [0.5, lambda v: v ** 3]),
     [U((4,))], lambda x: np.piecewise(x, [x < 0], [0.5, lambda v: v ** 3]))
spec("r_", lambda x, y: fnp.r_[x, 0.5, y], [U((2,)), U((3,))], lambda x, y: np.r_[x, 0.5, y])
spec("r_axis1", lambda x, y: fnp.r_["1", x, y], [U((2, 2)), U((2, 3))],
     lambda x, y: np.r_["1", x, y])
spec("r_ndmin", lambda x, y: fnp.r_["0,2,1", x, y], [U((3,)), U((2, 3))],
     lambda x, y: np.r_["0,2,1", x, y])
spec("c_", lambda x, y: fnp.c_[x, y], [U((3,)), U((3, 2))], lambda x, y: np.c_[x, y])
spec("c_range", lambda x: fnp.c_[x, 0:3, 0:1:3j], [U((3,))],
     lambda x: np.c_[x, 0:3, 0:1:3j])
spec("logical_ops_bool", lambda a, b: fnp.bitwise_invert(a) & b, [B(S23), B(S23)],
     lambda a, b: np.bitwise_invert(a) & b, order=0)

# == pad modes ================================================================================

_PAD_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("edge", ((1, 2), (2, 0)), {}),
    ("wrap", ((1, 3), (2, 1)), {}),
    ("reflect", ((1, 2), (2, 4)), {}),
    ("symmetric", ((3, 2), (2, 1)), {}),
    ("reflect", 2, {"reflect_type": "odd"}),
    ("symmetric", ((1, 0), (4, 2)), {"reflect_type": "odd"}),
    ("linear_ramp", ((2, 1), (1, 3)), {"end_values": ((1.0, -1.0), (0.5, 2.0))}),
    ("maximum", ((1, 2), (0, 2)), {}),
    ("minimum", 1, {"stat_length": 2}),
    ("mean", ((2, 1), (1, 1)), {}),
    ("mean", 2, {"stat_length": ((1, 2), (3, 1))}),
    ("constant", ((1, 1), (2, 0)), {"constant_values": ((1.0, 2.0), (3.0, 4.0))}),
]
for _i, (_mode, _w, _kw) in enumerate(_PAD_CASES):
    spec(f"pad_{_mode}_{_i}",
         lambda x, m=_mode, w=_w, kw=_kw: fnp.pad(x, w, mode=m, **kw), [U((3, 4))],
         lambda x, m=_mode, w=_w, kw=_kw: np.pad(x, w, mode=m, **kw),
         dtypes=F32_64 if _mode not in ("reflect", "symmetric") else (np.float64,),
         tol=1e-3 if _mode in ("maximum", "minimum") else None)
