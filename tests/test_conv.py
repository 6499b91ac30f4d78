"""Convolution: the ``conv_general_dilated`` primitive, ``lax.conv_transpose`` and ``fg.nn.conv`` /
``fg.nn.conv_transpose`` against a loop reference, the seeds' worked examples written out as
explicit sums, PyTorch and JAX (when importable), finite differences to second order, and the
seed's bugs as regressions (non-dividing strides, asymmetric padding, dilation convention,
dtype preservation)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import reference as ref
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax, nn
from funcgrad.core.errors import ShapeError
from funcgrad.test_util import check_grads

conv_module = sys.modules["funcgrad.lax.conv"]


# == a seeded grid of convolutions ============================================================

def _make_grid(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    kinds = ["VALID", "SAME", "sym", "asym", "zero_high", "negative"]
    cases = []
    while len(cases) < count:
        nsp = int(rng.integers(1, 4))
        groups = [1, 2, "depthwise"][int(rng.integers(0, 3))]
        cin_per_group = 1 if groups == "depthwise" else int(rng.integers(1, 3))
        g = 3 if groups == "depthwise" else groups
        case = {
            "spatial": tuple(int(n) for n in rng.integers(3, 8 if nsp < 3 else 5, nsp)),
            "kernel": tuple(int(k) for k in rng.integers(1, 4, nsp)),
            "strides": tuple(int(s) for s in rng.integers(1, 4, nsp)),
            "lhs_dilation": tuple(int(d) for d in rng.integers(1, 3, nsp))
            if rng.random() < 0.3 else (1,) * nsp,
            "rhs_dilation": tuple(int(d) for d in rng.integers(1, 3, nsp)),
            "padding": kinds[int(rng.integers(0, len(kinds)))],
            "groups": g, "cin": cin_per_group * g, "cout": g * int(rng.integers(1, 3)),
            "batch": int(rng.integers(1, 3)),
        }
        case["pads"] = _pads(case["padding"], nsp, rng)
        if isinstance(case["pads"], str):  # as JAX: string padding is for lhs_dilation 1 only
            case["lhs_dilation"] = (1,) * nsp
        cases.append(case)
    return cases


def _pads(kind: str, nsp: int, rng: np.random.Generator) -> Any:
    if kind in ("VALID", "SAME"):
        return kind
    if kind == "sym":
        return [(int(p), int(p)) for p in rng.integers(0, 3, nsp)]
    if kind == "asym":
        return [(int(lo), int(hi)) for lo, hi in rng.integers(0, 3, (nsp, 2))]
    if kind == "zero_high":
        return [(int(lo), 0) for lo in rng.integers(1, 3, nsp)]
    return [(int(lo), int(hi)) for lo, hi in rng.integers(-1, 3, (nsp, 2))]


def _case_id(c: dict[str, Any]) -> str:
    return (f"{len(c['spatial'])}d-in{c['spatial']}-k{c['kernel']}-s{c['strides']}-"
            f"ld{c['lhs_dilation']}-rd{c['rhs_dilation']}-{c['padding']}-g{c['groups']}"
            ).replace(" ", "")


def _problem(c: dict[str, Any], rng: np.random.Generator, dtype: Any = np.float64
             ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    x = rng.standard_normal((c["batch"], c["cin"], *c["spatial"])).astype(dtype)
    w = rng.standard_normal((c["cout"], c["cin"] // c["groups"], *c["kernel"])).astype(dtype)
    params = {"window_strides": c["strides"], "padding": c["pads"],
              "lhs_dilation": c["lhs_dilation"], "rhs_dilation": c["rhs_dilation"],
              "feature_group_count": c["groups"]}
    return x, w, params


GRID = _make_grid(72, seed=20240611)
GRAD_GRID = GRID[::3]


@pytest.mark.parametrize("case", GRID, ids=_case_id)
def test_forward_matches_reference(case: dict[str, Any], rng: np.random.Generator) -> None:
    x, w, params = _problem(case, rng)
    got = lax.conv_general_dilated(x, w, **params)
    want = ref.conv(x, w, **params)
    assert type(got) is np.ndarray and got.dtype == np.float64
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", GRID[:12], ids=_case_id)
def test_forward_float32_matches_reference(case: dict[str, Any],
                                           rng: np.random.Generator) -> None:
    x, w, params = _problem(case, rng, np.float32)
    got = lax.conv_general_dilated(x, w, **params)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref.conv(x, w, **params), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", GRAD_GRID, ids=_case_id)
def test_check_grads_order2(case: dict[str, Any], rng: np.random.Generator) -> None:
    x, w, params = _problem(case, rng)
    f = lambda x, w: lax.conv_general_dilated(x, w, **params)  # noqa: E731
    check_grads(f, (x, w), order=2, modes=("rev",))
    check_grads(f, (x, w), order=2, modes=("fwd",))


def test_grid_covers_every_option() -> None:
    assert {len(c["spatial"]) for c in GRID} == {1, 2, 3}
    assert {c["padding"] for c in GRID} == {"VALID", "SAME", "sym", "asym", "zero_high",
                                           "negative"}
    assert {c["groups"] for c in GRID} == {1, 2, 3}
    assert any(max(c["strides"]) > 1 for c in GRID)
    assert any(max(c["lhs_dilation"]) > 1 for c in GRID)
    assert any(max(c["rhs_dilation"]) > 1 for c in GRID)
    assert any(c["groups"] == 3 and c["cin"] == 3 for c in GRID)  # depthwise


# == fg.nn.conv: every option, with bias, to second order =====================================

NN_OPTIONS = [
    ("1d", (2, 3, 9), (4, 3, 3), {"stride": 2, "padding": 1}),
    ("2d-stride2", (2, 3, 7, 6), (4, 3, 3, 3), {"stride": 2}),
    ("2d-stride-per-axis", (1, 2, 7, 6), (3, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
    ("2d-pad-pairs", (1, 2, 5, 6), (2, 2, 3, 3), {"padding": ((2, 0), (0, 1))}),
    ("2d-same", (1, 2, 5, 6), (2, 2, 3, 2), {"padding": "SAME"}),
    ("2d-same-stride2", (1, 2, 7, 6), (2, 2, 3, 3), {"padding": "SAME", "stride": 2}),
    ("2d-valid", (1, 2, 5, 6), (2, 2, 3, 3), {"padding": "VALID"}),
    ("2d-dilation2", (1, 2, 7, 7), (2, 2, 3, 3), {"dilation": 2, "padding": 2}),
    ("2d-groups2", (2, 4, 5, 5), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ("2d-depthwise", (2, 3, 5, 5), (3, 1, 3, 3), {"groups": 3, "stride": 2, "padding": 1}),
    ("3d", (1, 2, 4, 5, 4), (2, 2, 2, 3, 2), {"stride": (1, 2, 1), "padding": 1}),
]


@pytest.mark.parametrize("name, x_shape, w_shape, kwargs", NN_OPTIONS,
                         ids=[o[0] for o in NN_OPTIONS])
def test_nn_conv_check_grads(name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                             kwargs: dict[str, Any], rng: np.random.Generator) -> None:
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    f = lambda x, w, b: nn.conv(x, w, b, **kwargs)  # noqa: E731
    check_grads(f, (x, w, b), order=2, modes=("rev",))
    check_grads(f, (x, w, b), order=2, modes=("fwd",))


@pytest.mark.parametrize("name, x_shape, w_shape, kwargs", NN_OPTIONS,
                         ids=[o[0] for o in NN_OPTIONS])
def test_nn_conv_matches_reference(name: str, x_shape: tuple[int, ...],
                                   w_shape: tuple[int, ...], kwargs: dict[str, Any],
                                   rng: np.random.Generator) -> None:
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    nsp = len(x_shape) - 2
    stride = kwargs.get("stride", 1)
    strides = (stride,) * nsp if isinstance(stride, int) else stride
    dil = (kwargs.get("dilation", 1),) * nsp
    padding = kwargs.get("padding", 0)
    if isinstance(padding, int):
        padding = [(padding, padding)] * nsp
    elif not isinstance(padding, str):
        padding = [(p, p) if isinstance(p, int) else p for p in padding]
    want = ref.conv(x, w, strides, padding, None, dil, kwargs.get("groups", 1))
    want = want + b.reshape((1, -1) + (1,) * nsp)
    np.testing.assert_allclose(nn.conv(x, w, b, **kwargs), want, rtol=1e-12, atol=1e-12)


# == the blog's worked examples, written out as explicit sums =================================

def test_blog_example_stride1(rng: np.random.Generator) -> None:
    """3x3 input, 2x2 kernel, stride 1 (conv-backprop-blog.md): Z, dX and dW written out."""
    x, w, dz = rng.standard_normal((3, 3)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    (x00, x01, x02), (x10, x11, x12), (x20, x21, x22) = x
    (w00, w01), (w10, w11) = w
    (dz00, dz01), (dz10, dz11) = dz
    z_want = np.array([
        [x00 * w00 + x01 * w01 + x10 * w10 + x11 * w11,
         x01 * w00 + x02 * w01 + x11 * w10 + x12 * w11],
        [x10 * w00 + x11 * w01 + x20 * w10 + x21 * w11,
         x11 * w00 + x12 * w01 + x21 * w10 + x22 * w11]])
    dx_want = np.array([
        [w00 * dz00, w01 * dz00 + w00 * dz01, w01 * dz01],
        [w10 * dz00 + w00 * dz10, w11 * dz00 + w10 * dz01 + w01 * dz10 + w00 * dz11,
         w11 * dz01 + w01 * dz11],
        [w10 * dz10, w11 * dz10 + w10 * dz11, w11 * dz11]])
    dw_want = np.array([
        [x00 * dz00 + x01 * dz01 + x10 * dz10 + x11 * dz11,
         x01 * dz00 + x02 * dz01 + x11 * dz10 + x12 * dz11],
        [x10 * dz00 + x11 * dz01 + x20 * dz10 + x21 * dz11,
         x11 * dz00 + x12 * dz01 + x21 * dz10 + x22 * dz11]])
    f = lambda x, w: nn.conv(x, w)  # noqa: E731
    z, f_vjp = fg.vjp(f, x[None, None], w[None, None])
    dx, dw = f_vjp(dz[None, None])
    np.testing.assert_allclose(z[0, 0], z_want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dx[0, 0], dx_want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dw[0, 0], dw_want, rtol=1e-14, atol=1e-15)


def test_blog_example_stride2(rng: np.random.Generator) -> None:
    """5x5 input, 3x3 kernel, stride 2: the same expansion. dW correlates X with dZ dilated
    by one zero (dw[a, b] reads x two apart), and dX needs the dilated dZ (x22 gets four
    terms, its neighbours one or two)."""
    x, w, dz = rng.standard_normal((5, 5)), rng.standard_normal((3, 3)), rng.standard_normal((2, 2))
    z_want = np.array([[sum(x[2 * i + a, 2 * j + b] * w[a, b]
                            for a in range(3) for b in range(3)) for j in range(2)]
                       for i in range(2)])
    (w00, w01, w02), (w10, w11, w12), (w20, w21, w22) = w
    (dz00, dz01), (dz10, dz11) = dz
    dx_want = np.array([
        [w00 * dz00, w01 * dz00, w02 * dz00 + w00 * dz01, w01 * dz01, w02 * dz01],
        [w10 * dz00, w11 * dz00, w12 * dz00 + w10 * dz01, w11 * dz01, w12 * dz01],
        [w20 * dz00 + w00 * dz10, w21 * dz00 + w01 * dz10,
         w22 * dz00 + w20 * dz01 + w02 * dz10 + w00 * dz11,
         w21 * dz01 + w01 * dz11, w22 * dz01 + w02 * dz11],
        [w10 * dz10, w11 * dz10, w12 * dz10 + w10 * dz11, w11 * dz11, w12 * dz11],
        [w20 * dz10, w21 * dz10, w22 * dz10 + w20 * dz11, w21 * dz11, w22 * dz11]])
    dw_want = np.array([[x[a, b] * dz00 + x[a, b + 2] * dz01 + x[a + 2, b] * dz10
                         + x[a + 2, b + 2] * dz11 for b in range(3)] for a in range(3)])
    f = lambda x, w: nn.conv(x, w, stride=2)  # noqa: E731
    z, f_vjp = fg.vjp(f, x[None, None], w[None, None])
    dx, dw = f_vjp(dz[None, None])
    np.testing.assert_allclose(z[0, 0], z_want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dx[0, 0], dx_want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dw[0, 0], dw_want, rtol=1e-14, atol=1e-15)


def test_vjp_rules_are_primitives(monkeypatch: pytest.MonkeyPatch) -> None:
    # The backward pass is made of primitives, not NumPy on data: that is what makes
    # grad-of-grad, vmap and jit of the backward pass possible. The forward builds the
    # columns once and dW reuses them; dX is col2im at stride 2 and the seed rule's conv of
    # the padded dZ with the rotated kernel at stride 1 (16 or more input channels).
    x, w = np.ones((2, 3, 17, 17)), np.ones((4, 3, 3, 3))   # 8x8 outputs at stride 2

    def loss(stride: int) -> Any:
        return lambda x, w: fnp.sum(nn.conv(x, w, stride=stride) ** 2)

    closed = fg.make_jaxpr(fg.grad(loss(2), argnums=(0, 1)))(x, w)
    names = [e.primitive.name for e in closed.jaxpr.eqns]
    assert names.count("conv_patches") == 1, names
    assert names.count("conv_patches_transpose") == 1, names
    assert "conv_general_dilated" not in names
    assert names.count("dot_general") == 3, names
    for e in closed.jaxpr.eqns:
        hash(tuple(sorted(e.params.items())))

    # (at stride 1 with few input channels, or per image, dX is col2im too:
    # tests/test_kernels.py)
    monkeypatch.setattr(conv_module, "_PER_IMAGE_FLOPS", 0)
    x, w = np.ones((2, 16, 17, 17)), np.ones((4, 16, 3, 3))
    closed = fg.make_jaxpr(fg.grad(loss(1), argnums=(0, 1)))(x, w)
    names = [e.primitive.name for e in closed.jaxpr.eqns]
    assert names.count("conv_patches") == 1 and "conv_patches_transpose" not in names, names
    assert names.count("conv_general_dilated") == 1 and "rev" in names, names
    conv_eqn = next(e for e in closed.jaxpr.eqns if e.primitive.name == "conv_general_dilated")
    assert conv_eqn.params["padding"] == ((2, 2), (2, 2))   # dX: the padded dZ


# == conv_transpose ===========================================================================

TRANSPOSE_OPTIONS = [
    ("1d", (2, 4, 5), (4, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ("2d", (2, 3, 4, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
    ("2d-outpad", (1, 2, 3, 4), (2, 3, 3, 2), {"stride": (2, 3), "padding": (1, 0),
                                               "output_padding": (1, 2)}),
    ("2d-dilation", (1, 2, 4, 4), (2, 2, 2, 3), {"dilation": 2, "stride": 1}),
    ("2d-groups", (2, 4, 3, 3), (4, 3, 3, 3), {"groups": 2, "stride": 2, "padding": 1,
                                               "output_padding": 1}),
    ("2d-depthwise", (1, 3, 4, 4), (3, 1, 3, 3), {"groups": 3, "stride": 3}),
    ("3d", (1, 2, 3, 2, 3), (2, 2, 2, 2, 3), {"stride": (2, 1, 2), "padding": (0, 1, 1)}),
]


@pytest.mark.parametrize("name, x_shape, w_shape, kwargs", TRANSPOSE_OPTIONS,
                         ids=[o[0] for o in TRANSPOSE_OPTIONS])
def test_conv_transpose_is_the_input_gradient_of_conv(
        name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], kwargs: dict[str, Any],
        rng: np.random.Generator) -> None:
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    y = nn.conv_transpose(x, w, **kwargs)
    conv_kwargs = {k: v for k, v in kwargs.items() if k != "output_padding"}
    # The conv that maps y's shape back to x's shape, with the same kernel:
    _, f_vjp = fg.vjp(lambda u: nn.conv(u, w, **conv_kwargs), np.zeros(y.shape))
    (want,) = f_vjp(x)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, x_shape, w_shape, kwargs", TRANSPOSE_OPTIONS,
                         ids=[o[0] for o in TRANSPOSE_OPTIONS])
def test_conv_transpose_matches_reference_and_grads(
        name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], kwargs: dict[str, Any],
        rng: np.random.Generator) -> None:
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    nsp = len(x_shape) - 2

    def per_axis(v: Any) -> tuple[int, ...]:
        return (v,) * nsp if isinstance(v, int) else tuple(v)

    want = ref.conv_transpose_torch(x, w, per_axis(kwargs.get("stride", 1)),
                                    per_axis(kwargs.get("padding", 0)),
                                    per_axis(kwargs.get("output_padding", 0)),
                                    per_axis(kwargs.get("dilation", 1)), kwargs.get("groups", 1))
    np.testing.assert_allclose(nn.conv_transpose(x, w, **kwargs), want, rtol=1e-12, atol=1e-12)
    b = rng.standard_normal(want.shape[1])
    check_grads(lambda x, w, b: nn.conv_transpose(x, w, b, **kwargs), (x, w, b), order=2,
                modes=("rev", "fwd"))


def test_lax_conv_transpose_with_transpose_kernel_is_conv_gradient(
        rng: np.random.Generator) -> None:
    # jax.lax.conv_transpose(transpose_kernel=True) is the gradient of the matching conv;
    # default layout NHWC / HWIO, as JAX.
    x = rng.standard_normal((2, 4, 5, 3))                   # NHWC
    k = rng.standard_normal((3, 3, 6, 3))                   # HWIO of the forward conv: 6 -> 3
    dn = ("NHWC", "HWIO", "NHWC")
    fwd_in = np.zeros((2, 8, 10, 6))

    def fwd(u: Any) -> Any:
        return lax.conv_general_dilated(u, k, (2, 2), "SAME", dimension_numbers=dn)

    _, f_vjp = fg.vjp(fwd, fwd_in)
    assert fwd(fwd_in).shape == x.shape
    got = lax.conv_transpose(x, k, (2, 2), "SAME", transpose_kernel=True)
    np.testing.assert_allclose(got, f_vjp(x)[0], rtol=1e-12, atol=1e-12)


# == cross-checks with PyTorch and JAX ========================================================

TORCH_CASES = [
    ((2, 3, 9), (4, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 4, 8, 7), (6, 2, 3, 3), {"stride": 2, "padding": 1, "dilation": 1, "groups": 2}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"stride": 1, "padding": 2, "dilation": 2}),
    ((1, 3, 8, 8), (3, 1, 3, 3), {"stride": 2, "padding": 0, "groups": 3}),
    ((1, 2, 5, 6, 5), (3, 2, 3, 2, 3), {"stride": (2, 1, 2), "padding": (1, 0, 1)}),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", TORCH_CASES)
def test_conv_matches_torch_forward_and_backward(x_shape: tuple[int, ...],
                                                 w_shape: tuple[int, ...],
                                                 kwargs: dict[str, Any],
                                                 rng: np.random.Generator) -> None:
    torch = oracle("torch")
    tf = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
          3: torch.nn.functional.conv3d}[len(x_shape) - 2]
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = tf(tx, tw, tb, **kwargs)
    ct = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(ct))
    y, f_vjp = fg.vjp(lambda x, w, b: nn.conv(x, w, b, **kwargs), x, w, b)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for got, t in zip(f_vjp(ct), (tx, tw, tb), strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-11, atol=1e-11)


def test_conv_transpose_matches_torch(rng: np.random.Generator) -> None:
    torch = oracle("torch")
    x, w, b = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 3, 3, 2)), \
        rng.standard_normal(6)
    kwargs = {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2), "groups": 2,
              "dilation": (1, 2)}
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, **kwargs)
    ct = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(ct))
    y, f_vjp = fg.vjp(lambda x, w, b: nn.conv_transpose(x, w, b, **kwargs), x, w, b)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for got, t in zip(f_vjp(ct), (tx, tw, tb), strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-11, atol=1e-11)


JAX_CASES = [
    dict(window_strides=(2, 1), padding=((1, -1), (2, 0)), lhs_dilation=(2, 3),
         rhs_dilation=(1, 2), dimension_numbers=("NHWC", "OIHW", "NCHW"),
         feature_group_count=2),
    dict(window_strides=(1, 2), padding="SAME", rhs_dilation=(2, 1),
         dimension_numbers=("NCHW", "HWIO", "NHWC"), batch_group_count=2),
    dict(window_strides=(3,), padding=((2, -1),), lhs_dilation=(2,),
         dimension_numbers=("NWC", "WIO", "NCW")),
    dict(window_strides=(2, 3), padding="SAME_LOWER", dimension_numbers=("NHWC", "OIHW", "NHWC")),
]


@pytest.mark.parametrize("params", JAX_CASES)
def test_lax_conv_matches_jax(params: dict[str, Any], rng: np.random.Generator) -> None:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    dn = params["dimension_numbers"]
    nsp = len(dn[0]) - 2
    sizes = {"N": 4, "C": 4, "O": 6, "I": 4, "H": 7, "W": 6}
    if params.get("feature_group_count", 1) > 1:
        sizes["I"] = 2
    if nsp == 1:
        sizes["W"] = 9
    x = rng.standard_normal([sizes[ch] for ch in dn[0]])
    kernel_sizes = {**sizes, "H": 3, "W": 2}
    w = rng.standard_normal([kernel_sizes[ch] for ch in dn[1]])
    want, j_vjp = jax.vjp(lambda a, b: jax.lax.conv_general_dilated(a, b, **params), x, w)
    got, f_vjp = fg.vjp(lambda a, b: lax.conv_general_dilated(a, b, **params), x, w)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(got.shape)
    for g, j in zip(f_vjp(ct), j_vjp(ct), strict=True):
        np.testing.assert_allclose(g, np.asarray(j), rtol=1e-11, atol=1e-11)


def test_lax_conv_transpose_matches_jax(rng: np.random.Generator) -> None:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    x = rng.standard_normal((2, 5, 4, 3))                   # NHWC, 3 channels
    kernels = {False: rng.standard_normal((3, 2, 3, 4)),   # HWIO, I = 3
               True: rng.standard_normal((3, 2, 4, 3))}    # HWIO swapped by transpose_kernel
    for padding in ("SAME", "VALID", [(1, 2), (0, 1)]):
        for flip, k in kernels.items():
            want = jax.lax.conv_transpose(x, k, (2, 3), padding, rhs_dilation=(1, 2),
                                          transpose_kernel=flip)
            got = lax.conv_transpose(x, k, (2, 3), padding, rhs_dilation=(1, 2),
                                     transpose_kernel=flip)
            np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12, atol=1e-12)


# == the seed's bugs, as regressions ==========================================================

@pytest.mark.parametrize("h, k, s, p", [(8, 3, 2, 1), (7, 3, 3, 0), (8, 3, 2, 0), (9, 2, 4, 1)])
def test_non_dividing_stride(h: int, k: int, s: int, p: int, rng: np.random.Generator) -> None:
    # The seed crashed with a broadcasting error in the kernel gradient here. Rows and columns
    # no window reads must get exactly zero input gradient.
    x, w = rng.standard_normal((2, 3, h, h)), rng.standard_normal((4, 3, k, k))
    f = lambda x, w: nn.conv(x, w, stride=s, padding=p)  # noqa: E731
    y, f_vjp = fg.vjp(f, x, w)
    m = (h + 2 * p - k) // s + 1
    assert y.shape == (2, 4, m, m)
    ct = rng.standard_normal(y.shape)
    dx, dw = f_vjp(ct)
    assert dx.shape == x.shape and dw.shape == w.shape
    read = {o * s + t - p for o in range(m) for t in range(k)}
    unread = [r for r in range(h) if r not in read]
    for r in unread:
        assert np.all(dx[:, :, r, :] == 0.0) and np.all(dx[:, :, :, r] == 0.0)
    for r in sorted(read & set(range(h))):
        assert np.any(dx[:, :, r, :] != 0.0)
    check_grads(f, (x, w), order=1, modes=("rev",))


def test_unread_rows_exist_in_the_regression_cases() -> None:
    # Guards the test above against vacuously passing: H=7, k=3, s=3 leaves row 6 unread;
    # H=8, k=3, s=2, p=0 leaves row 7 unread.
    for h, k, s, p, unread in [(7, 3, 3, 0, [6]), (8, 3, 2, 0, [7]), (9, 2, 4, 1, [1, 2, 5, 6])]:
        m = (h + 2 * p - k) // s + 1
        read = {o * s + t - p for o in range(m) for t in range(k)}
        assert [r for r in range(h) if r not in read] == unread


def test_asymmetric_padding_with_zero_high_pad(rng: np.random.Generator) -> None:
    # The seed sliced x[p:-q], which is empty when q == 0.
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    pads = ((2, 0), (1, 0))
    y = nn.conv(x, w, padding=pads)
    xp = np.pad(x, ((0, 0), (0, 0), (2, 0), (1, 0)))
    np.testing.assert_allclose(y, ref.conv(xp, w, (1, 1), [(0, 0), (0, 0)]), rtol=1e-12,
                               atol=1e-12)
    assert y.shape == (2, 3, 6, 4)
    _, f_vjp = fg.vjp(lambda x: nn.conv(x, w, padding=pads), x)
    dx = f_vjp(np.ones(y.shape))[0]
    assert dx.shape == x.shape and np.all(np.isfinite(dx)) and np.any(dx != 0)
    check_grads(lambda x, w: nn.conv(x, w, padding=pads, stride=2), (x, w), order=2,
                modes=("rev",))
    # ... and low padding zero with high padding positive.
    y2 = nn.conv(x, w, padding=((0, 2), (0, 1)))
    np.testing.assert_allclose(
        y2, ref.conv(x, w, (1, 1), [(0, 2), (0, 1)]), rtol=1e-12, atol=1e-12)


def test_dilation_convention(rng: np.random.Generator) -> None:
    # Dilation 1 means none (PyTorch and JAX); the seed's 0 is rejected.
    x, w = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_array_equal(nn.conv(x, w, dilation=1), nn.conv(x, w))
    holes = np.zeros((3, 2, 5, 5))
    holes[:, :, ::2, ::2] = w
    np.testing.assert_allclose(nn.conv(x, w, dilation=2), nn.conv(x, holes), rtol=1e-12,
                               atol=1e-12)
    # The gradient of the dilated conv is the gradient of the holes kernel read at the taps.
    g_dil = fg.grad(lambda w: fnp.sum(nn.conv(x, w, dilation=2) ** 2))(w)
    g_holes = fg.grad(lambda k: fnp.sum(nn.conv(x, k) ** 2))(holes)
    np.testing.assert_allclose(g_dil, g_holes[:, :, ::2, ::2], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="dilation"):
        nn.conv(x, w, dilation=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 7, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    for kwargs in ({"stride": 2, "padding": 1}, {"dilation": 2}, {"stride": 1}):
        def f(x: Any, w: Any, b: Any, kwargs: dict[str, Any] = kwargs) -> Any:
            return nn.conv(x, w, b, **kwargs)

        def grad_x_sum(w: Any, f: Any = f) -> Any:
            return fnp.sum(fg.grad(lambda x: fnp.sum(f(x, w, b) ** 2))(x))

        y, f_vjp = fg.vjp(f, x, w, b)
        assert y.dtype == dtype
        assert all(g.dtype == dtype for g in f_vjp(np.ones_like(y)))
        _, t = fg.jvp(f, (x, w, b), (x, w, b))
        assert t.dtype == dtype
        assert fg.grad(grad_x_sum)(w).dtype == dtype
        t_out = nn.conv_transpose(x, np.swapaxes(w, 0, 1), stride=2)
        assert t_out.dtype == dtype


def test_mixed_dtypes(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((2, 2, 3, 3))
    with pytest.raises(TypeError, match="equal dtypes"):
        lax.conv_general_dilated(x, w, (1, 1), "VALID")
    assert nn.conv(x, w).dtype == np.float64  # the layer promotes as NumPy would


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(1, 3, 5, 5\).*\(2, 2, 3, 3\)"):
        lax.conv_general_dilated(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3)), (1, 1), "VALID")
    with pytest.raises(ValueError, match="padding"):
        lax.conv_general_dilated(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), (1, 1), "FULL")
    with pytest.raises(ValueError, match="window_strides"):
        lax.conv_general_dilated(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), (0, 1), "VALID")
    with pytest.raises(ValueError, match="lhs_dilation"):  # as JAX
        lax.conv_general_dilated(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), (1, 1), "SAME",
                                 lhs_dilation=(2, 2))


# == transforms: vmap, higher order ===========================================================

@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (2, 4), (None, 1)])
def test_vmap_conv_matches_loop(in_axes: tuple[Any, Any], rng: np.random.Generator) -> None:
    n = 3
    xs, ws = rng.standard_normal((n, 2, 4, 6, 5)), rng.standard_normal((n, 6, 2, 3, 2))

    def f(x: Any, w: Any) -> Any:
        return nn.conv(x, w, stride=(2, 1), padding=((1, 0), (0, 1)), groups=2)

    x_in = np.moveaxis(xs, 0, in_axes[0]) if in_axes[0] is not None else xs[0]
    w_in = np.moveaxis(ws, 0, in_axes[1]) if in_axes[1] is not None else ws[0]
    got = fg.vmap(f, in_axes=in_axes)(x_in, w_in)
    want = np.stack([f(xs[i] if in_axes[0] is not None else xs[0],
                       ws[i] if in_axes[1] is not None else ws[0]) for i in range(n)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_per_example_gradients(rng: np.random.Generator) -> None:
    w = rng.standard_normal((4, 3, 3, 3))
    xs = rng.standard_normal((5, 3, 6, 6))

    def loss(w: Any, x: Any) -> Any:
        return fnp.sum(nn.relu(nn.conv(x[None], w, stride=2, padding=1)) ** 2)

    got = fg.vmap(fg.grad(loss), in_axes=(None, 0))(w, xs)
    want = np.stack([fg.grad(loss)(w, x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_hessian_vector_product_vs_finite_differences(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 2, 6, 6))
    w, v = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((3, 2, 3, 3))

    def loss(w: Any) -> Any:
        y = nn.conv(x, w, stride=2, padding=1, dilation=1)
        return fnp.sum(fnp.tanh(y) ** 2)

    g = fg.grad(loss)
    hvp_fwd = fg.jvp(g, (w,), (v,))[1]                                    # forward-over-reverse
    hvp_rev = fg.grad(lambda w: fnp.sum(g(w) * v))(w)                     # reverse-over-reverse
    eps = 1e-5
    fd = (g(w + eps * v) - g(w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp_fwd, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hvp_rev, fd, rtol=1e-6, atol=1e-7)
    # Mixed second derivative d2/dx dw through the conv as well.
    check_grads(lambda x, w: fnp.tanh(nn.conv(x, w, stride=2)), (x, w), order=2,
                modes=("rev", "fwd"))


# == the two impl paths =======================================================================

@pytest.mark.parametrize("groups", [1, 2])
def test_scatter_and_im2col_impls_agree(groups: int, rng: np.random.Generator) -> None:
    # lhs_dilation > 1 with unit strides runs col2im (a strided += per kernel tap) instead of
    # convolving materialised zeros; both must compute the same function.
    x = rng.standard_normal((2, 2 * groups, 4, 5))
    w = rng.standard_normal((3 * groups, 2, 3, 2))
    pads, ld, rd = ((2, 1), (-1, 3)), (2, 3), (1, 2)
    out_sp = conv_module.conv_output_shape(x.shape[2:], w.shape[2:], (1, 1), pads, ld, rd)
    scattered = conv_module._conv_scatter(x, w, pads, ld, rd, groups, out_sp)
    dilated = conv_module._dilate_and_pad(x, ld, pads)
    im2col = conv_module._conv_im2col(dilated, w, (1, 1), rd, groups, out_sp)
    np.testing.assert_allclose(scattered, im2col, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scattered, ref.conv(x, w, (1, 1), pads, ld, rd, groups),
                               rtol=1e-12, atol=1e-12)


def test_dimension_numbers_layouts(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    want = lax.conv_general_dilated(x, w, (2, 1), ((1, 1), (0, 1)))
    got = lax.conv_general_dilated(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), (2, 1),
                                   ((1, 1), (0, 1)),
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, ("NCHW", "OIHW", "NCHW"))
    assert dn == lax.ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))


def test_empty_output_and_zero_batch(rng: np.random.Generator) -> None:
    w = rng.standard_normal((2, 1, 3, 3))
    y = nn.conv(np.ones((1, 1, 2, 2)), w)          # kernel larger than the input: 0 windows
    assert y.shape == (1, 2, 0, 0)
    g = fg.grad(lambda w: fnp.sum(nn.conv(np.ones((1, 1, 2, 2)), w)))(w)
    np.testing.assert_array_equal(g, np.zeros_like(w))
    z = nn.conv(np.ones((0, 1, 5, 5)), w)
    assert z.shape == (0, 2, 3, 3)
