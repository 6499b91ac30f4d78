"""precision= and preferred_element_type= on dot_general/dot/matmul/einsum/conv, as JAX."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

A = np.arange(6, dtype=np.int8).reshape(2, 3)
B = np.arange(3, dtype=np.int8)


@pytest.mark.parametrize("precision", [None, "highest", "float32", fg.lax.Precision.HIGH,
                                       ("default", "highest")])
def test_precision_is_accepted_and_changes_nothing(precision: object) -> None:
    x, w = np.random.default_rng(0).normal(size=(2, 3)), np.random.default_rng(1).normal(size=3)
    np.testing.assert_array_equal(fnp.dot(x, w, precision=precision), x @ w)
    np.testing.assert_array_equal(fnp.matmul(x, w, precision=precision), x @ w)
    np.testing.assert_array_equal(fnp.einsum("ij,j->i", x, w, precision=precision), x @ w)
    np.testing.assert_array_equal(fg.lax.dot(x, w, precision=precision), x @ w)
    dn = (((1,), (0,)), ((), ()))
    np.testing.assert_array_equal(fg.lax.dot_general(x, w, dn, precision=precision), x @ w)
    img, k = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    np.testing.assert_array_equal(
        fg.lax.conv_general_dilated(img, k, (1, 1), "VALID", precision=precision),
        fg.lax.conv_general_dilated(img, k, (1, 1), "VALID"))


def test_preferred_element_type_is_the_result_dtype() -> None:
    for f in (lambda: fnp.dot(A, B, preferred_element_type=np.float32),
              lambda: fnp.matmul(A, B, preferred_element_type=np.float32),
              lambda: fnp.einsum("ij,j->i", A, B, preferred_element_type=np.float32),
              lambda: fg.lax.dot(A, B, preferred_element_type=np.float32),
              lambda: fg.lax.dot_general(A, B, (((1,), (0,)), ((), ())),
                                         preferred_element_type=np.float32)):
        out = f()
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, (A.astype(np.float32) @ B.astype(np.float32)))
    # int8 would overflow: the preferred type accumulates in int32, as JAX's
    big = np.full((1, 64), 100, np.int8)
    assert int(fnp.dot(big, big.T, preferred_element_type=np.int32)[0, 0]) == 640000
    # it is differentiable, and staged
    g = fg.grad(lambda x: fnp.sum(fnp.matmul(x, np.ones(3, np.float32),
                                             preferred_element_type=np.float64)))
    out = g(np.ones((2, 3), np.float32))
    assert out.dtype == np.float32 and np.all(out == 1.0)
    assert "convert_element_type" in str(fg.make_jaxpr(
        lambda a: fnp.dot(a, B, preferred_element_type=np.float32))(A))


def test_bad_precision_names_the_function() -> None:
    with pytest.raises(TypeError, match="matmul: precision must be"):
        fnp.matmul(np.ones((2, 2)), np.ones(2), precision="ultra")
    with pytest.raises(TypeError, match="dot: rank|dot: operands must have rank 1 or 2"):
        fg.lax.dot(np.ones((2, 2, 2)), np.ones(2))
