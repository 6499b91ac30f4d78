"""Silent wrong answers (issue 15): each of these used to return a plausible but wrong result."""

import os

import numpy as np

import funcgrad.numpy as fnp

THIS_FILE = os.path.basename(__file__)


def test_arange_step_keyword_without_stop():
    np.testing.assert_array_equal(fnp.arange(10, step=2), np.arange(10, step=2))
    np.testing.assert_array_equal(fnp.arange(0, step=7), np.arange(0, step=7))
    assert fnp.arange(0, step=7).shape == (0,)
    np.testing.assert_array_equal(fnp.arange(2, 10, step=3), np.arange(2, 10, 3))
    np.testing.assert_array_equal(fnp.arange(5), np.arange(5))
    np.testing.assert_array_equal(fnp.arange(1, 5), np.arange(1, 5))
    np.testing.assert_array_equal(fnp.arange(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25))
    assert fnp.arange(3, dtype=np.float32).dtype == np.float32
