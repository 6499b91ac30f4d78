"""``fg.debug.print``/``callback``/``breakpoint``: when they run and what they see, eagerly and
under grad, jvp, vmap, make_jaxpr and jit (an effect the passes never remove)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import eval_jaxpr
from funcgrad.transforms import passes


def _recorder() -> tuple[list[Any], Any]:
    seen: list[Any] = []

    def f(x: Any) -> Any:
        fg.debug.callback(lambda v: seen.append(np.array(v)), x)
        return fnp.sum(fnp.sin(x))

    return seen, f


def test_eager_grad_and_jvp_see_primal_values() -> None:
    x = np.array([0.5, 1.5])
    seen, f = _recorder()
    f(x)
    g = fg.grad(f)(x)
    np.testing.assert_allclose(g, np.cos(x))
    fg.jvp(f, (x,), (np.ones(2),))
    fg.grad(fg.grad(lambda v: f(v) * 1.0))(np.array(0.3))
    assert len(seen) == 4
    for v in seen[:3]:
        np.testing.assert_array_equal(v, x)
    np.testing.assert_array_equal(seen[3], 0.3)


def test_vmap_calls_once_per_example_in_order() -> None:
    seen, f = _recorder()
    xs = np.arange(6.0).reshape(3, 2)
    fg.vmap(f)(xs)
    assert [v.tolist() for v in seen] == xs.tolist()
    seen.clear()
    fg.vmap(f, in_axes=1)(xs)
    assert [v.tolist() for v in seen] == xs.T.tolist()
    seen.clear()
    fg.vmap(fg.grad(f))(xs)  # per-example gradients: primal values per example
    assert [v.tolist() for v in seen] == xs.tolist()


def test_staged_program_runs_the_callback_each_time() -> None:
    seen, f = _recorder()
    x = np.array([1.0, 2.0])
    closed = fg.make_jaxpr(f)(x)
    assert seen == []  # tracing does not call it
    assert "debug_callback" in str(closed)
    for _ in range(2):
        eval_jaxpr(closed.jaxpr, closed.consts, x)
    assert len(seen) == 2
    # dead-code elimination keeps it although nothing reads its output
    kept = passes.dce(closed.jaxpr)
    assert any(e.primitive.name == "debug_callback" for e in kept.eqns)


def test_jit_runs_the_callback_on_every_call_and_under_grad() -> None:
    seen, f = _recorder()
    x = np.array([1.0, 2.0])
    jf = fg.jit(f)
    jf(x)
    jf(x + 1)  # the cached executable still calls it
    assert [v.tolist() for v in seen] == [[1.0, 2.0], [2.0, 3.0]]
    seen.clear()
    np.testing.assert_allclose(fg.grad(jf)(x), np.cos(x))
    np.testing.assert_allclose(fg.jit(fg.grad(f))(x), np.cos(x))
    assert len(seen) == 2 and all(v.tolist() == [1.0, 2.0] for v in seen)

    def unused(x: Any) -> Any:
        fg.debug.callback(lambda v: seen.append(v), x * 2)
        return x

    seen.clear()
    fg.jit(unused)(x)
    np.testing.assert_array_equal(seen[0], 2 * x)


def test_print_formats_like_jax(capsys: pytest.CaptureFixture[str]) -> None:
    def f(x: Any) -> Any:
        fg.debug.print("x={x} sum={}", fnp.sum(x), x=x)
        return x * 2

    f(np.array([1, 2]))
    fg.vmap(f)(np.array([[1.0], [2.0]]))
    fg.jit(f)(np.array([3.0]))
    fg.debug.print("pytree {}", {"a": np.array(1)})
    assert capsys.readouterr().out.splitlines() == [
        "x=[1 2] sum=3", "x=[1.] sum=1.0", "x=[2.] sum=2.0", "x=[3.] sum=3.0",
        "pytree {'a': array(1)}"]


def test_breakpoint_enters_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(sys, "breakpointhook", lambda *a, **k: calls.append(1))

    def f(x: Any) -> Any:
        fg.debug.breakpoint(x=x)
        return x

    f(np.ones(2))
    fg.jit(f)(np.ones(2))
    fg.vmap(f)(np.ones((3, 2)))
    assert len(calls) == 5


def test_non_array_arguments_are_a_clear_error() -> None:
    with pytest.raises(TypeError, match="arrays"):
        fg.debug.callback(print, "text")


def test_typing_names() -> None:
    import typing

    from funcgrad.core.tracing import Tracer
    assert {"Array", "ArrayLike", "DTypeLike", "Shape"} <= set(dir(fg.typing))
    assert Tracer in typing.get_args(fg.typing.ArrayLike)
    assert np.ndarray in typing.get_args(fg.typing.Array)
    kinds: list[bool] = []
    fg.grad(lambda x: (kinds.append(isinstance(x, fg.typing.Array)), fnp.sum(x))[1])(np.ones(2))
    assert kinds == [True] and isinstance(np.ones(2), fg.typing.ArrayLike)
