"""``fg.numpy``: NumPy's API on funcgrad primitives (import as ``fnp``).

NumPy semantics are kept: broadcasting (made explicit in the IR), NumPy 2 / NEP 50 dtype
promotion (Python scalars are weak, float32 stays float32), axis arguments and ``keepdims``.
Outside any transform the results are plain ``numpy.ndarray``.

The functions live in modules by family and are re-exported here by name: ``_core``
(conversion, promotion, broadcasting, axis arguments), ``_ufuncs`` (elementwise),
``_indexing``, ``_shape``, ``_reductions``, ``_products`` (matmul, dot, einsum...),
``_creation``; ``linalg`` is the ``fg.numpy.linalg`` namespace.

>>> import funcgrad.numpy as fnp, numpy as np
>>> fnp.sum(fnp.sin(np.zeros(3, np.float32)) + 1.0).dtype
dtype('float32')
"""

from __future__ import annotations

import numpy as np

from funcgrad.numpy._calculus import (
    convolve,
    correlate,
    diff,
    ediff1d,
    gradient,
    interp,
    polyfit,
    polyval,
    trapezoid,
)
from funcgrad.numpy._core import (
    array,
    asarray,
    astype,
    ndim,
    result_type,
    shape,
    size,
)
from funcgrad.numpy._creation import (
    arange,
    empty,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    tril,
    triu,
    zeros,
    zeros_like,
)
from funcgrad.numpy._indexing import (
    nonzero,
    take,
    take_along_axis,
)
from funcgrad.numpy._products import (
    diagonal,
    dot,
    einsum,
    inner,
    matmul,
    outer,
    tensordot,
    trace,
    vdot,
)
from funcgrad.numpy._reductions import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumprod,
    cumsum,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from funcgrad.numpy._shape import (
    atleast_1d,
    atleast_2d,
    broadcast_arrays,
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    fliplr,
    flipud,
    hstack,
    moveaxis,
    pad,
    ravel,
    repeat,
    reshape,
    roll,
    rot90,
    split,
    squeeze,
    stack,
    swapaxes,
    tile,
    transpose,
    vstack,
)
from funcgrad.numpy._sorting import (
    UniqueAllResult,
    UniqueCountsResult,
    UniqueInverseResult,
    argpartition,
    argsort,
    lexsort,
    median,
    nanmedian,
    nanpercentile,
    nanquantile,
    partition,
    percentile,
    quantile,
    searchsorted,
    sort,
    unique,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
)
from funcgrad.numpy._statistics import (
    average,
    bincount,
    corrcoef,
    count_nonzero,
    cov,
    cumulative_prod,
    cumulative_sum,
    histogram,
    histogram_bin_edges,
    nanargmax,
    nanargmin,
    nancumprod,
    nancumsum,
    nanmax,
    nanmean,
    nanmin,
    nanprod,
    nanstd,
    nansum,
    nanvar,
)
from funcgrad.numpy._ufuncs import (
    abs,
    absolute,
    add,
    angle,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    ceil,
    clip,
    conj,
    conjugate,
    cos,
    cosh,
    divide,
    equal,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    imag,
    invert,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    positive,
    power,
    real,
    reciprocal,
    remainder,
    round,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    where,
)

ndarray = np.ndarray
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint32, uint64 = np.uint8, np.uint32, np.uint64
complex64, complex128 = np.complex64, np.complex128
bool_ = np.bool_
pi, e, inf, nan, newaxis = np.pi, np.e, np.inf, np.nan, None
dtype = np.dtype

# -- issue 17: more of NumPy's names, and the array API standard's (2024.12) ----------------
from funcgrad.numpy._arrays import (  # noqa: E402
    append,
    array_split,
    atleast_3d,
    c_,
    column_stack,
    concat,
    cross,
    diag,
    diag_indices,
    diag_indices_from,
    diagflat,
    dsplit,
    dstack,
    hsplit,
    ix_,
    kron,
    matrix_transpose,
    meshgrid,
    permute_dims,
    piecewise,
    r_,
    rollaxis,
    select,
    tril_indices,
    tril_indices_from,
    triu_indices,
    triu_indices_from,
    unstack,
    vecdot,
    vsplit,
)
from funcgrad.numpy._creation import empty_like  # noqa: E402
from funcgrad.numpy._numeric import (  # noqa: E402
    __array_namespace_info__,
    acos,
    acosh,
    allclose,
    array_equal,
    array_equiv,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_invert,
    bitwise_left_shift,
    bitwise_not,
    bitwise_right_shift,
    can_cast,
    cbrt,
    copysign,
    deg2rad,
    degrees,
    fabs,
    finfo,
    fix,
    float_power,
    fmax,
    fmin,
    from_dlpack,
    heaviside,
    hypot,
    iinfo,
    isclose,
    iscomplexobj,
    isdtype,
    isrealobj,
    left_shift,
    logaddexp2,
    nan_to_num,
    nextafter,
    pow,
    rad2deg,
    radians,
    right_shift,
    signbit,
    sinc,
    trunc,
)

__array_api_version__ = "2024.12"
uint16 = np.uint16
bool = np.bool_  # noqa: A001  (the array API's name of the boolean dtype)
int_, intp, uintp = np.int_, np.intp, np.uintp
generic, number, inexact, floating = np.generic, np.number, np.inexact, np.floating
complexfloating, integer = np.complexfloating, np.integer
signedinteger, unsignedinteger = np.signedinteger, np.unsignedinteger
issubdtype, promote_types, isscalar = np.issubdtype, np.promote_types, np.isscalar
euler_gamma = float(np.euler_gamma)

# After the names above: these modules read them from this package at import time.
from funcgrad.numpy import _array_methods  # noqa: E402  (installs Tracer operators)
from funcgrad.numpy import fft as fft  # noqa: E402
from funcgrad.numpy import linalg as linalg  # noqa: E402

__all__ = [
    "abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "arccos", "arccosh",
    "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "around", "array",
    "asarray", "astype", "atleast_1d", "atleast_2d", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bool_", "broadcast_arrays", "broadcast_to", "ceil", "clip", "complex128",
    "complex64", "concatenate", "cos", "cosh", "cumprod", "cumsum", "diagonal", "divide",
    "dot", "dtype", "e", "einsum", "empty", "equal", "exp", "exp2", "expand_dims", "expm1",
    "eye", "finfo", "flip", "fliplr", "flipud", "float16", "float32", "float64", "floor",
    "floor_divide", "full", "full_like", "greater", "greater_equal", "hstack", "identity",
    "iinfo", "inf", "inner", "int16", "int32", "int64", "int8", "invert", "isfinite", "isinf",
    "isnan", "less", "less_equal", "linalg", "linspace", "log", "log10", "log1p", "log2",
    "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mod", "moveaxis", "multiply", "nan", "ndarray",
    "ndim", "negative", "newaxis", "nonzero", "not_equal", "ones", "ones_like", "outer", "pad",
    "pi", "positive", "power", "prod", "ravel", "reciprocal", "remainder", "repeat", "reshape",
    "result_type", "roll", "rot90", "round", "shape", "sign", "sin", "sinh", "size", "split",
    "sqrt", "square", "squeeze", "stack", "std", "subtract", "sum", "swapaxes", "take",
    "take_along_axis", "tan", "tanh", "tensordot", "tile", "trace", "transpose", "tril",
    "triu", "true_divide", "uint32", "uint64", "uint8", "var", "vdot", "vstack", "where",
    "zeros", "zeros_like",
    "angle", "conj", "conjugate", "imag", "real",
    # issue 17
    "__array_api_version__", "__array_namespace_info__", "acos", "acosh", "allclose",
    "append", "array_equal", "array_equiv", "array_split", "asin", "asinh", "atan", "atan2",
    "atanh", "atleast_3d", "bitwise_invert", "bitwise_left_shift", "bitwise_not",
    "bitwise_right_shift", "bool", "c_", "can_cast", "cbrt", "column_stack", "complexfloating",
    "concat", "copysign", "cross", "deg2rad", "degrees", "diag", "diag_indices",
    "diag_indices_from", "diagflat", "dsplit", "dstack", "empty_like", "euler_gamma", "fabs",
    "fix", "float_power", "floating", "fmax", "fmin", "from_dlpack", "generic", "heaviside",
    "hsplit", "hypot", "inexact", "int_", "integer", "intp", "iscomplexobj", "isclose", "isdtype",
    "isrealobj", "isscalar", "issubdtype", "ix_", "kron", "left_shift", "logaddexp2",
    "matrix_transpose", "meshgrid", "nan_to_num", "nextafter", "number", "permute_dims",
    "piecewise", "pow", "promote_types", "r_", "rad2deg", "radians", "right_shift",
    "rollaxis", "select", "signbit", "signedinteger", "sinc", "tril_indices",
    "tril_indices_from", "triu_indices", "triu_indices_from", "trunc", "uint16", "uintp",
    "unsignedinteger", "unstack", "vecdot", "vsplit",
    "UniqueAllResult", "UniqueCountsResult", "UniqueInverseResult", "argpartition",
    "argsort", "lexsort", "median", "nanmedian", "nanpercentile", "nanquantile", "partition",
    "percentile", "quantile", "searchsorted", "sort", "unique", "unique_all", "unique_counts",
    "unique_inverse", "unique_values",
    # statistics and numerical calculus (_statistics, _calculus)
    "average", "bincount", "convolve", "corrcoef", "correlate", "count_nonzero", "cov",
    "cumulative_prod", "cumulative_sum", "diff", "ediff1d", "gradient", "histogram",
    "histogram_bin_edges", "interp", "nanargmax", "nanargmin", "nancumprod", "nancumsum",
    "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "polyfit",
    "polyval", "trapezoid",
]

__all__ += ["fft"]

del _array_methods
