"""The composition matrix: every way to a derivative agrees, on several programs.

For each program f: grad == jacrev == jacfwd == vjp(1) == jvp over the basis == finite
differences; hessian == jacfwd(jacrev) == jacrev(jacrev) == jacrev(jacfwd) == jvp(grad)
columns; vmap of each agrees with a Python loop.
"""

from collections.abc import Callable

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.test_util import check_grads

RNG = np.random.default_rng(7)
W1, W2 = RNG.standard_normal((3, 4)) / 2, RNG.standard_normal((4, 2)) / 2
X = RNG.standard_normal((5, 3))


def mlp(w: np.ndarray) -> np.ndarray:
    """An MLP loss as a function of a flat parameter vector."""
    w1, w2 = w[:12].reshape(3, 4), w[12:].reshape(4, 2)
    h = fnp.tanh(X @ w1)
    logits = h @ w2
    return fnp.mean(fnp.logaddexp(logits[:, 0], logits[:, 1]) - logits[:, 0])


def rational(w: np.ndarray) -> np.ndarray:
    return fnp.sum(w[:3] ** 2 / (1.0 + w[3:] ** 2)) + fnp.prod(fnp.cos(w))


def indexing(w: np.ndarray) -> np.ndarray:
    m = fnp.reshape(w, (2, 3))
    picked = m[[0, 1, 1], [2, 0, 2]]
    return fnp.sum(picked * m[:, ::-1].ravel()[:3]) + fnp.max(m) * fnp.min(w)


def cnn(w: np.ndarray) -> np.ndarray:
    x = np.linspace(-1, 1, 2 * 1 * 5 * 5).reshape(2, 1, 5, 5)
    kernel = w[:18].reshape(2, 1, 3, 3)
    y = fg.nn.conv(x, kernel, padding=1)
    y = fg.nn.max_pool(fnp.tanh(y), 2)
    return fnp.sum(y ** 2) * w[18]


def scan_rnn(w: np.ndarray) -> np.ndarray:
    """A tanh RNN over 4 steps with lax.scan (a staged primitive even in eager mode)."""
    w_h, w_x = w[:4].reshape(2, 2), w[4:8].reshape(2, 2)
    xs = np.linspace(-1, 1, 8).reshape(4, 2)

    def step(h, x):
        h = fnp.tanh(h @ w_h + x @ w_x)
        return h, fnp.sum(h)

    h, ys = fg.lax.scan(step, w[8:10], xs)
    return fnp.sum(h * h) + fnp.sum(ys)


def with_cond(w: np.ndarray) -> np.ndarray:
    """A lax.cond whose predicate depends on the input, inside fori_loop."""
    def body(i, x):
        return fg.lax.cond(fnp.sum(x) > 0, lambda x: fnp.sin(x) * 1.5,
                           lambda x: x * x - 0.3, x)
    return fnp.sum(fg.lax.fori_loop(0, 3, body, w) ** 2)


PROGRAMS: dict[str, tuple[Callable[..., np.ndarray], int]] = {
    "mlp": (mlp, 20), "rational": (rational, 6), "indexing": (indexing, 6), "cnn": (cnn, 19),
    "scan_rnn": (scan_rnn, 10), "cond": (with_cond, 3),
}


@pytest.fixture(params=sorted(PROGRAMS))
def program(request: pytest.FixtureRequest) -> tuple[Callable[..., np.ndarray], np.ndarray]:
    f, n = PROGRAMS[request.param]
    return f, RNG.standard_normal(n) * 0.8


def test_first_derivatives_agree(program):
    f, w = program
    g = fg.grad(f)(w)
    np.testing.assert_allclose(fg.jacrev(f)(w), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fg.jacfwd(f)(w), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fg.vjp(f, w)[1](np.array(1.0))[0], g, rtol=1e-12)
    by_jvp = np.array([fg.jvp(f, (w,), (e,))[1] for e in np.eye(len(w))])
    np.testing.assert_allclose(by_jvp, g, rtol=1e-10, atol=1e-12)
    _, f_jvp = fg.linearize(f, w)
    np.testing.assert_allclose([f_jvp(e) for e in np.eye(len(w))], g, rtol=1e-10, atol=1e-12)
    check_grads(f, (w,), order=2)


def test_second_derivatives_agree(program):
    f, w = program
    h = fg.hessian(f)(w)
    np.testing.assert_allclose(h, h.T, atol=1e-10)
    for other in (fg.jacfwd(fg.jacrev(f)), fg.jacrev(fg.jacrev(f)), fg.jacrev(fg.jacfwd(f)),
                  fg.jacfwd(fg.jacfwd(f))):
        np.testing.assert_allclose(other(w), h, rtol=1e-8, atol=1e-10)
    v = RNG.standard_normal(len(w))
    np.testing.assert_allclose(fg.jvp(fg.grad(f), (w,), (v,))[1], h @ v, rtol=1e-8, atol=1e-10)
    hvps = fg.vmap(lambda v: fg.jvp(fg.grad(f), (w,), (v,))[1])(np.eye(len(w)))
    np.testing.assert_allclose(hvps, h, rtol=1e-8, atol=1e-10)


def test_vmap_of_derivatives_matches_loop(program):
    f, w = program
    ws = w + 0.1 * RNG.standard_normal((3, len(w)))
    np.testing.assert_allclose(fg.vmap(f)(ws), [f(wi) for wi in ws], rtol=1e-12)
    np.testing.assert_allclose(fg.vmap(fg.grad(f))(ws), [fg.grad(f)(wi) for wi in ws],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fg.vmap(fg.hessian(f))(ws[:2]),
                               [fg.hessian(f)(wi) for wi in ws[:2]], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fg.grad(lambda ws: fnp.sum(fg.vmap(f)(ws)))(ws),
                               [fg.grad(f)(wi) for wi in ws], rtol=1e-10, atol=1e-12)
