"""Composition programs for tests/test_export.py, run by export_jax_worker.py in the JAX
subprocess: each check stores its error (or None) in ``results``."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax as flax
from funcgrad import nn

# == the programs, written with funcgrad ======================================================


def mlp_loss(params: dict[str, Any], x: Any, y: Any) -> Any:
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return fnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)


def mlp_params(rng: np.random.Generator) -> tuple[dict[str, Any], Any, Any]:
    params = {"w1": rng.standard_normal((4, 8)) * 0.5, "b1": rng.standard_normal(8) * 0.1,
              "w2": rng.standard_normal((8, 2)) * 0.5, "b2": np.zeros(2)}
    return params, rng.standard_normal((6, 4)), rng.standard_normal((6, 2))


def rnn_loss(w: Any, xs: Any) -> Any:
    def step(h: Any, x: Any) -> Any:
        h = fnp.tanh(w @ h + x)
        return h, fnp.sum(h ** 2)
    h, ys = flax.scan(step, fnp.zeros(w.shape[0]), xs)
    return fnp.sum(h) + fnp.sum(ys)


def cond_fn(x: Any) -> Any:
    return flax.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v) * v, lambda v: fnp.cos(v) + v, x)


def switch_fn(i: Any, x: Any) -> Any:
    return flax.switch(i, [fnp.sin, fnp.cos, lambda v: v ** 3], x)


def while_fn(x: Any) -> Any:
    _, y = flax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, fnp.sin(c[1]) * x), (0, x))
    return y


def fori_fn(x: Any) -> Any:
    return flax.fori_loop(0, 4, lambda i, v: fnp.tanh(v * x + i), x)


@fg.custom_vjp
def clip_gradient(x: Any) -> Any:
    return x


clip_gradient.defvjp(lambda x: (x, fnp.cos(x)),
                     lambda res, g: (fnp.clip(g * res, -0.5, 0.5),))


def custom_vjp_fn(x: Any) -> Any:
    return fnp.sum(clip_gradient(x * 3.0) ** 2)


@fg.custom_jvp
def odd_softplus(x: Any) -> Any:
    return fnp.log1p(fnp.exp(x))


@odd_softplus.defjvp
def _odd_softplus_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return odd_softplus(x), 2.0 * t * fnp.tanh(x)  # deliberately not the true derivative


def custom_jvp_fn(x: Any) -> Any:
    return fnp.sum(odd_softplus(x) * x)


def checkpoint_fn(w: Any, x: Any) -> Any:
    block = fg.checkpoint(lambda w, v: fnp.sin(fnp.tanh(v @ w)) @ w)
    return fnp.sum(block(w, block(w, x)) ** 2)


def named_checkpoint_fn(w: Any, x: Any) -> Any:
    def body(w: Any, v: Any) -> Any:
        h = fg.ad_checkpoint.checkpoint_name(fnp.tanh(v @ w), "h")
        return fnp.sin(h) @ w
    block = fg.checkpoint(body, policy=fg.checkpoint_policies.save_only_these_names("h"))
    return fnp.sum(block(w, x) ** 2)


@fg.jit
def _jitted_layer(w: Any, x: Any) -> Any:
    return fnp.tanh(x @ w)


def jit_fn(w: Any, x: Any) -> Any:
    return fnp.sum(_jitted_layer(w, _jitted_layer(w, x)))


def cnn_params(rng: np.random.Generator) -> dict[str, Any]:
    return {"c1": rng.standard_normal((4, 1, 3, 3)) * 0.3, "b1": np.zeros(4),
            "c2": rng.standard_normal((6, 4, 3, 3)) * 0.2, "b2": np.zeros(6),
            "w": rng.standard_normal((6 * 2 * 2, 3)) * 0.2, "b": np.zeros(3)}


def cnn_forward(params: dict[str, Any], x: Any) -> Any:
    h = nn.relu(nn.conv(x, params["c1"], params["b1"], padding=1))
    h = nn.max_pool(h, 2)
    h = nn.relu(nn.conv(h, params["c2"], params["b2"], padding=1))
    h = nn.avg_pool(h, 2)
    return nn.dense(nn.flatten(h), params["w"], params["b"])


def cnn_loss(params: dict[str, Any], x: Any, labels: Any) -> Any:
    return nn.cross_entropy(cnn_forward(params, x), labels)


def cnn_train_step(params: dict[str, Any], x: Any, labels: Any) -> Any:
    loss, grads = fg.value_and_grad(cnn_loss)(params, x, labels)
    new = fg.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    return loss, grads, new


# == the checks ===============================================================================

def _run(results: dict[str, Any], key: str, check: Callable[[], None]) -> None:
    try:
        check()
        results[key] = None
    except Exception as e:  # noqa: BLE001 (each failure is reported by its own test)
        results[key] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"


def program_checks(results: dict[str, Any]) -> None:
    import jax
    import jax.numpy as jnp
    from export_jax_worker import _close, _jnp_tree
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from funcgrad.core import primitives
    from funcgrad.core.primitive import Primitive
    from funcgrad.export import _jax_rules, to_jax

    rng = np.random.default_rng(0)
    results["missing_rules"] = sorted(set(primitives()) - set(_jax_rules.RULES))

    def value_and_grad_matches(f: Callable[..., Any], args: tuple[Any, ...],
                               jit: bool = True, tol: float = 1e-6) -> None:
        nums = tuple(range(len(args)))
        want = fg.value_and_grad(f, argnums=nums)(*args)
        vg = jax.value_and_grad(to_jax(f), argnums=nums)
        got = (jax.jit(vg) if jit else vg)(*_jnp_tree(args))
        _close(got, want, tol)

    params, x, y = mlp_params(rng)
    _run(results, "mlp_grad", lambda: value_and_grad_matches(mlp_loss, (params, x, y)))
    _run(results, "mlp_grad_eager",
         lambda: value_and_grad_matches(mlp_loss, (params, x, y), jit=False))

    def exported_funcgrad_grad() -> None:
        # funcgrad's own backward pass, staged and exported: a forward-only JAX program
        g = to_jax(fg.grad(mlp_loss))(*_jnp_tree((params, x, y)))
        _close(g, fg.grad(mlp_loss)(params, x, y))
    _run(results, "mlp_exported_fg_grad", exported_funcgrad_grad)

    w = rng.standard_normal((3, 3)) * 0.5
    _run(results, "scan_grad",
         lambda: value_and_grad_matches(rnn_loss, (w, rng.standard_normal((5, 3)))))
    _run(results, "fori_grad",
         lambda: value_and_grad_matches(lambda v: fnp.sum(fori_fn(v)), (rng.normal(size=3),)))
    for sign in (1.0, -1.0):
        xc = sign * np.abs(rng.normal(size=4))
        _run(results, f"cond_grad_{sign:+.0f}",
             lambda xc=xc: value_and_grad_matches(lambda v: fnp.sum(cond_fn(v)), (xc,)))
    for i in (-1, 0, 1, 2, 7):  # lax.switch clamps the index, as funcgrad
        _run(results, f"switch_{i}", lambda i=i: _close(
            jax.jit(to_jax(switch_fn))(jnp.asarray(i), jnp.arange(3.0)),
            switch_fn(np.asarray(i), np.arange(3.0))))

    def while_check() -> None:
        xw = rng.normal(size=3)
        _close(jax.jit(to_jax(while_fn))(jnp.asarray(xw)), while_fn(xw))
        t = np.ones(3)
        # while is differentiable in forward mode only, in JAX as in funcgrad
        _close(jax.jvp(to_jax(while_fn), (jnp.asarray(xw),), (jnp.asarray(t),)),
               fg.jvp(while_fn, (xw,), (t,)))
    _run(results, "while_value_and_jvp", while_check)

    def custom_vjp_check() -> None:
        xv = rng.normal(size=5)
        value_and_grad_matches(custom_vjp_fn, (xv,))
        g = jax.grad(to_jax(custom_vjp_fn))(jnp.asarray(xv))
        assert float(jnp.max(jnp.abs(g))) <= 1.5 + 1e-12  # the user's clipped rule ran
    _run(results, "custom_vjp_grad", custom_vjp_check)

    def custom_jvp_check() -> None:
        xv = rng.normal(size=5)
        value_and_grad_matches(custom_jvp_fn, (xv,))
        t = rng.normal(size=5)
        _close(jax.jvp(to_jax(custom_jvp_fn), (jnp.asarray(xv),), (jnp.asarray(t),)),
               fg.jvp(custom_jvp_fn, (xv,), (t,)))
    _run(results, "custom_jvp_grad_and_jvp", custom_jvp_check)

    def checkpoint_check() -> None:
        args = (rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((2, 3)))
        value_and_grad_matches(checkpoint_fn, args)
        text = str(jax.make_jaxpr(jax.grad(to_jax(checkpoint_fn)))(*_jnp_tree(args)))
        assert "checkpoint" in text or "remat" in text, text[:2000]
    _run(results, "checkpoint_grad", checkpoint_check)

    def checkpoint_policy_check() -> None:
        args = (rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((2, 3)))
        value_and_grad_matches(named_checkpoint_fn, args)
        text = str(jax.make_jaxpr(jax.grad(to_jax(named_checkpoint_fn)))(*_jnp_tree(args)))
        # JAX's own policy object, and the named value reaches the remat as a residual
        assert ("SaveOnlyTheseNames" in text or "save_only_these_names" in text) \
            and "name[name=h]" in text, text[:3000]
    _run(results, "checkpoint_policy_grad", checkpoint_policy_check)

    def jit_check() -> None:
        args = (rng.standard_normal((3, 3)), rng.standard_normal((2, 3)))
        value_and_grad_matches(jit_fn, args)
        text = str(jax.make_jaxpr(to_jax(jit_fn))(*_jnp_tree(args)))
        assert "pjit" in text or "jit[" in text, text[:2000]
    _run(results, "jit_grad", jit_check)

    def unknown_primitive() -> None:
        mystery_p = Primitive("mystery_export_example", register=False)
        mystery_p.def_impl(lambda v: v)
        mystery_p.def_abstract_eval(lambda v: v)
        try:
            to_jax(lambda v: mystery_p.bind(v) + 1.0)(jnp.ones(2))
        except NotImplementedError as e:
            assert "mystery_export_example" in str(e), str(e)
        else:
            raise AssertionError("no NotImplementedError for a primitive without a rule")
    _run(results, "unknown_primitive", unknown_primitive)

    def pytree_and_cache() -> None:
        f = to_jax(lambda d: {"s": fnp.sum(d["a"]), "t": (d["b"] * 2.0,)})
        out = f({"a": jnp.ones(3), "b": jnp.ones(2)})
        assert set(out) == {"s", "t"} and isinstance(out["t"], tuple)
        f({"a": jnp.zeros(3), "b": jnp.zeros(2)})
        assert len(f.jaxpr_cache) == 1  # type: ignore[attr-defined]
        f({"a": jnp.zeros(4), "b": jnp.zeros(2)})
        assert len(f.jaxpr_cache) == 2  # type: ignore[attr-defined]
    _run(results, "pytree_and_cache", pytree_and_cache)

    def random_bits_check() -> None:
        key = fg.random.key(3)
        f = lambda k: fg.random.normal(k, (4,))  # noqa: E731
        _close(jax.jit(to_jax(f))(jnp.asarray(key)), f(key), 1e-12)
    _run(results, "random_bits_jit", random_bits_check)

    def philox_bits_exact() -> None:
        # funcgrad's Philox stream computed natively in JAX: bit for bit, every dtype, salts
        # past 32 bits, keys with the top bit set, block-straddling lengths
        from funcgrad.random import random_bits_p
        keys = np.array([[0, 1], [123, 4567], [2 ** 32 - 1, 2 ** 31 + 5]], np.uint32)
        for dtype in map(np.dtype, (np.uint32, np.float32, np.float64)):
            for salt in (0, 3, 2 ** 40):
                for shape in ((7,), (2, 3), ()):
                    want = random_bits_p.impl(keys, shape=shape, dtype=dtype, salt=salt)
                    got = np.asarray(jax.jit(lambda k, shape=shape, dtype=dtype, salt=salt:
                                             _jax_rules._random_bits(k, shape=shape,
                                                                     dtype=dtype, salt=salt)
                                             )(keys))
                    assert got.dtype == want.dtype and np.array_equal(got, want), (
                        dtype, salt, shape, got, want)
        text = str(jax.make_jaxpr(to_jax(lambda k: fg.random.uniform(k, (3,))))(
            jnp.asarray(fg.random.key(1))))
        assert "callback" not in text, text  # native under x64, no host round trip
    _run(results, "philox_bits_exact", philox_bits_exact)

    def sharded_cnn() -> None:
        devices = jax.devices()
        assert len(devices) == 8, devices
        p = cnn_params(rng)
        xb = rng.standard_normal((16, 1, 8, 8))
        labels = rng.integers(0, 3, 16)
        step = to_jax(cnn_train_step)

        def jax_step(prm: Any, xx: Any, ll: Any) -> Any:
            # JAX's own gradient of the exported loss, next to funcgrad's exported backward
            loss, grads = jax.value_and_grad(to_jax(cnn_loss))(prm, xx, ll)
            return loss, grads, step(prm, xx, ll)

        p_j, x_j, l_j = _jnp_tree((p, xb, labels))
        one = jax.jit(jax_step)(p_j, x_j, l_j)
        mesh = Mesh(np.array(devices), ("data",))
        batch = NamedSharding(mesh, P("data"))
        repl = NamedSharding(mesh, P())
        x_s, l_s = jax.device_put(x_j, batch), jax.device_put(l_j, batch)
        p_s = jax.device_put(p_j, repl)
        assert len(x_s.sharding.device_set) == 8 and x_s.addressable_shards[0].data.shape[0] == 2
        sharded = jax.jit(jax_step, in_shardings=(repl, batch, batch))(p_s, x_s, l_s)
        _close(sharded, one, 1e-10)
        loss_fg, grads_fg, new_fg = cnn_train_step(p, xb, labels)
        _close(one[0], loss_fg)
        _close(one[1], grads_fg)
        _close(one[2], (loss_fg, grads_fg, new_fg))
    _run(results, "sharded_cnn_train_step", sharded_cnn)
