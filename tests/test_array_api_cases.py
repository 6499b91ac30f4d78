"""The cases the array API conformance suite found on the merged main, one test each."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


def test_expm1_of_complex_on_the_real_axis() -> None:
    # The standard: expm1(+-0 + 0j) = 0 + 0j, expm1(inf + 0j) = inf + 0j, expm1(nan + 0j) =
    # nan + 0j; NumPy gives inf+nanj and nan+nanj for the last two.
    z = np.array([0j, complex(np.inf, 0.0), complex(np.nan, 0.0), 1 + 2j])
    out = fnp.expm1(z)
    np.testing.assert_array_equal(out.imag[:3], [0.0, 0.0, 0.0])
    assert out.real[0] == 0.0 and out.real[1] == np.inf and np.isnan(out.real[2])
    np.testing.assert_allclose(out[3], np.expm1(1 + 2j))
    # real inputs are the plain primitive, and the complex form is differentiable
    np.testing.assert_array_equal(fnp.expm1(np.array([0.5])), np.expm1(np.array([0.5])))
    g = fg.grad(lambda x: fnp.sum(fnp.real(fnp.expm1(x + 0j))))(np.array([0.5, 1.0]))
    np.testing.assert_allclose(g, np.exp([0.5, 1.0]))


def test_vecdot_keeps_the_dtype_and_refuses_a_broadcast_contraction() -> None:
    u8 = np.array([200, 100], np.uint8)
    for vecdot in (fnp.vecdot, fnp.linalg.vecdot):
        assert vecdot(u8, u8).dtype == np.uint8
        with pytest.raises(ValueError, match="contracted axis -1 has size 3 in x1"):
            vecdot(np.ones(3), np.ones(1))
    np.testing.assert_allclose(fnp.vecdot(np.array([1j, 2.0]), np.array([1j, 1.0])), 3.0)


def test_fftfreq_takes_the_array_api_keywords() -> None:
    np.testing.assert_array_equal(fnp.fft.fftfreq(4, d=0.5, device="cpu"),
                                  np.fft.fftfreq(4, 0.5))
    assert fnp.fft.rfftfreq(4, dtype=np.float32, device=None).dtype == np.float32
    with pytest.raises(ValueError, match="device"):
        fnp.fft.fftfreq(4, device="gpu")
