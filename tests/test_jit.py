"""fg.jit: equal to eager on every op spec and composition, the cache, static and keyword
arguments, donation, the retrace explanation, the generated source and its errors."""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id
from test_compose import PROGRAMS
from test_grad_ops import DIFF_SPECS, diff_problem

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.errors import ConcretizationTypeError, TracerArrayConversionError
from funcgrad.core.pytree import tree_leaves, tree_map
from funcgrad.transforms.jit import jit_p


def _close(got, want, rtol: float = 1e-12) -> None:
    got_l, want_l = tree_leaves(got), tree_leaves(want)
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert (g.shape, g.dtype) == (w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)


def _jit_count(closed) -> int:
    return sum(e.primitive is jit_p for e in closed.eqns)


# == jit equals eager ==========================================================================

SPEC_DTYPES = [(s, np.dtype(d)) for s in all_specs() for d in s.dtypes]


@pytest.mark.parametrize("spec, dtype", SPEC_DTYPES,
                         ids=[f"{s.name}-{d.name}" for s, d in SPEC_DTYPES])
def test_jit_equals_eager_on_every_spec(spec: OpSpec, dtype: np.dtype) -> None:
    # The generated code makes the same NumPy calls as eager, so results are identical.
    args = tuple(a.astype(dtype) if np.asarray(a).dtype == np.float64 else a
                 for a in spec.args(np.random.default_rng(0)))
    want = spec.fn(*args)
    jitted = fg.jit(spec.fn)
    _close(jitted(*args), want, rtol=0.0)
    _close(jitted(*args), want, rtol=0.0)  # the cached executable again
    assert jitted.cache_info().misses == 1


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_jit_composes_with_vjp_jvp_and_vmap(spec: OpSpec, rng) -> None:
    f, args = diff_problem(spec, rng)
    jf = fg.jit(f)
    out, pull = fg.vjp(f, *args)
    j_out, j_pull = fg.vjp(jf, *args)  # grad(jit(f)): a jitted forward and backward
    _close(j_out, out)
    ct = tree_map(lambda o: rng.normal(size=np.shape(o)).astype(np.asarray(o).dtype), out)
    _close(j_pull(ct), pull(ct), rtol=1e-10)
    tangents = tuple(rng.normal(size=np.shape(a)).astype(np.asarray(a).dtype) for a in args)
    _close(fg.jvp(jf, args, tangents), fg.jvp(f, args, tangents), rtol=1e-10)
    batched = tuple(np.stack([a, 0.5 * a]) for a in args)
    _close(fg.vmap(jf)(*batched), fg.vmap(f)(*batched), rtol=1e-10)
    # jit of the transformed functions
    _close(fg.jit(lambda *a: fg.vjp(f, *a)[1](ct))(*args), pull(ct), rtol=1e-10)
    _close(fg.jit(fg.vmap(f))(*batched), fg.vmap(f)(*batched), rtol=1e-10)


@pytest.fixture(params=sorted(PROGRAMS))
def program(request: pytest.FixtureRequest):
    f, n = PROGRAMS[request.param]
    return f, np.random.default_rng(3).standard_normal(n) * 0.8


def test_composition_matrix(program) -> None:
    f, w = program
    g = fg.grad(f)(w)
    _close(fg.jit(fg.grad(f))(w), g, 1e-10)
    _close(fg.grad(fg.jit(f))(w), g, 1e-10)
    _close(fg.jit(fg.grad(fg.jit(f)))(w), g, 1e-10)
    _close(fg.jit(fg.jit(f))(w), f(w), 1e-12)  # nested
    h = fg.hessian(f)(w)
    _close(fg.jit(fg.hessian(f))(w), h, 1e-9)
    _close(fg.hessian(fg.jit(f))(w), h, 1e-9)
    ws = np.stack([w, 0.5 * w, -w])
    per_example = fg.vmap(fg.grad(f))(ws)
    _close(fg.jit(fg.vmap(fg.grad(f)))(ws), per_example, 1e-10)
    _close(fg.vmap(fg.jit(fg.grad(f)))(ws), per_example, 1e-10)
    t = np.ones_like(w)
    _close(fg.jvp(fg.jit(f), (w,), (t,)), fg.jvp(f, (w,), (t,)), 1e-10)


def test_jit_of_control_flow_writes_python_control_flow() -> None:
    def f(x, n):
        def body(i, c):
            return fg.lax.cond(fnp.sum(c) > 0, lambda c: c * 0.5, lambda c: c + 1.0, c)
        y = fg.lax.fori_loop(0, n, body, x)
        h, ys = fg.lax.scan(lambda h, xi: (fnp.tanh(h + xi), h * xi), y, np.ones((3, 2)))
        z = fg.lax.while_loop(lambda c: fnp.sum(c) < 10.0, lambda c: c * 2.0 + 0.1, h)
        return z, ys
    jf = fg.jit(f, static_argnums=1)
    x = np.array([0.3, -0.2])
    _close(jf(x, 3), f(x, 3))
    src = jf.lower(x, 3).source()
    assert "while " in src and "for " in src and "if " in src
    assert "_impl(" not in src.split("def ")[1].split("\n")[0]
    _close(fg.jvp(lambda x: jf(x, 3), (x,), (np.ones(2),)),
           fg.jvp(lambda x: f(x, 3), (x,), (np.ones(2),)), 1e-10)


def test_jit_keeps_custom_rules_and_checkpoint() -> None:
    @fg.custom_vjp
    def clip(x):
        return x

    clip.defvjp(lambda x: (x, None), lambda r, g: (100.0 * g,))

    @fg.custom_jvp
    def twice(x):
        return 2.0 * x

    twice.defjvp(lambda p, t: (twice(p[0]), 7.0 * t[0]))

    def f(x):
        return fnp.sum(clip(x)) + fnp.sum(fg.checkpoint(lambda y: fnp.sin(twice(y)))(x))

    x = np.array([0.1, 0.2])
    _close(fg.grad(fg.jit(f))(x), fg.grad(f)(x))
    _close(fg.jit(fg.grad(f))(x), fg.grad(f)(x))
    assert np.allclose(fg.jit(fg.grad(f))(x), 100.0 + 7.0 * np.cos(2 * x))


def test_grad_of_jit_is_a_jitted_forward_and_backward() -> None:
    f = fg.jit(lambda x: fnp.sum(fnp.tanh(x) ** 2))
    closed = fg.make_jaxpr(fg.grad(f))(np.ones(3))
    assert _jit_count(closed) == 2  # the forward with residuals, and the backward
    fwd, bwd = (e for e in closed.eqns if e.primitive is jit_p)
    # the backward reads the residuals the forward returned, not the inputs again
    assert len(fwd.outvars) > 1
    assert set(fwd.outvars[1:]) & set(bwd.invars)


def test_jit_inside_a_staged_program_is_one_equation() -> None:
    inner = fg.jit(lambda x: fnp.sin(x) * 2.0)
    closed = fg.make_jaxpr(lambda x: inner(x) + 1.0)(np.ones(2))
    assert _jit_count(closed) == 1
    assert "jit[" in str(closed) and "name='lambda_fn'" in str(closed)


def test_jitted_function_called_from_another_is_inlined() -> None:
    inner = fg.jit(lambda x: fnp.sin(x) * 2.0)

    @fg.jit
    def outer(x):
        return inner(x) + inner(x * 3.0)

    x = np.linspace(0, 1, 4)
    _close(outer(x), np.sin(x) * 2.0 + np.sin(3 * x) * 2.0)
    src = outer.lower(x).source()
    # The inner program is fused into the caller (fresh variables per call site).
    assert "def lambda_fn" not in src and src.count("np_sin(") == 2


def test_nested_jit_holding_an_array_constant_stays_a_call() -> None:
    table = np.arange(4.0)
    inner = fg.jit(lambda x: fnp.sin(x) * table)

    @fg.jit
    def outer(x):
        return inner(x) + inner(x * 3.0)

    x = np.linspace(0, 1, 4)
    _close(outer(x), np.sin(x) * table + np.sin(3 * x) * table)
    assert outer.lower(x).source().count("def lambda_fn") == 1  # one function, called twice


# == the cache ================================================================================

def test_cache_hits_and_misses() -> None:
    f = fg.jit(lambda x, y: x * y)
    f(np.ones(3), np.ones(3))
    f(np.ones(3), np.ones(3))
    assert f.cache_info()[:2] == (1, 1)
    f(np.ones(4), np.ones(4))                       # a new shape
    f(np.ones(3, np.float32), np.ones(3, np.float32))  # a new dtype
    f(np.ones(3), 2.0)                              # a weak Python scalar
    f(np.ones(3), np.float64(2.0))                  # a strong 0-d value: another signature
    assert f.cache_info().misses == 5
    assert f.cache_info().currsize == 5
    f.clear_cache()
    assert f.cache_info() == (0, 0, None, 0)


def test_weak_scalars_keep_their_promotion() -> None:
    f = fg.jit(lambda x, s: x * s)
    out = f(np.ones(3, np.float32), 2.0)
    assert out.dtype == np.float32
    assert f(np.ones(3, np.float32), np.float64(2.0)).dtype == np.float64


def test_static_arguments() -> None:
    calls = []

    def f(x, n, *, mode="sum"):
        calls.append(n)
        return fnp.sum(x ** n) if mode == "sum" else fnp.max(x ** n)

    jf = fg.jit(f, static_argnums=1, static_argnames="mode")
    x = np.array([1.0, 2.0])
    assert jf(x, 2) == 5.0 and jf(x, 2) == 5.0 and jf(x, 3) == 9.0
    assert jf(x, 3, mode="max") == 8.0
    assert calls == [2, 3, 3]
    with pytest.raises(TypeError, match="static.*hashable.*list"):
        fg.jit(lambda x, s: x, static_argnums=1)(x, [1, 2])


def test_keyword_arguments_are_traced_like_positional_ones() -> None:
    jf = fg.jit(lambda x, scale: x * scale)
    x = np.ones(2)
    _close(jf(x, scale=np.array([2.0, 3.0])), np.array([2.0, 3.0]))
    _close(jf(x, scale=np.array([4.0, 5.0])), np.array([4.0, 5.0]))
    assert jf.cache_info().misses == 1


def test_pytrees_in_and_out() -> None:
    @fg.jit
    def f(params, x):
        w, b = params["w"], params["b"]
        return {"y": x @ w + b, "n": (fnp.sum(w),)}

    p = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    out = f(p, np.ones(2))
    _close(out["y"], np.full(3, 2.0))
    assert isinstance(out["n"], tuple)


def test_decorator_forms() -> None:
    @functools.partial(fg.jit, static_argnums=(1,))
    def f(x, n):
        return x * n

    @fg.jit(static_argnames=("n",))
    def g(x, n):
        return x + n

    _close(f(np.ones(2), 3), np.full(2, 3.0))
    _close(g(np.ones(2), n=3), np.full(2, 4.0))
    assert f.__name__ == "f" and f.__wrapped__ is not None


def test_fast_path_agrees_with_general_path() -> None:
    f = fg.jit(lambda x, y: fnp.tanh(x) + y)
    x, y = np.ones(3), np.arange(3.0)
    first = f(x, y)
    second = f(x, y)  # served by the flat-array fast path
    _close(second, first)
    assert f.cache_info().hits == 1
    assert f(np.ones(3, np.float32), np.ones(3, np.float32)).dtype == np.float32


def test_flags_that_change_code_are_in_the_key() -> None:
    f = fg.jit(lambda x: fnp.log(x))
    f(np.ones(2))
    fg.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="log"):
            f(-np.ones(2))
    finally:
        fg.config.update("debug_nans", False)
    assert f.cache_info().misses == 2


def test_explain_cache_misses_and_retrace_warning(caplog) -> None:
    f = fg.jit(lambda x: x + 1.0)
    fg.config.update("explain_cache_misses", True)
    try:
        with caplog.at_level(logging.WARNING, logger="funcgrad.jit"):
            f(np.ones(2))
            f(np.ones(3))
    finally:
        fg.config.update("explain_cache_misses", False)
    assert "changed from f64[2] to f64[3]" in caplog.text
    g = fg.jit(lambda x: x * 2.0)
    with pytest.warns(UserWarning, match=r"traced for 9 different signatures.*f64\[8\] to "
                                         r"f64\[9\]"):
        for n in range(1, 10):
            g(np.ones(n))


def test_log_compiles_and_dump_dir(caplog, tmp_path) -> None:
    fg.config.update("log_compiles", True)
    fg.config.update("jit_dump_dir", str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="funcgrad.jit"):
            fg.jit(lambda x: fnp.exp(x))(np.ones(2))
    finally:
        fg.config.update("log_compiles", False)
        fg.config.update("jit_dump_dir", None)
    assert "compiled lambda_fn for ['f64[2]'] in" in caplog.text
    dumped = list(tmp_path.iterdir())
    assert len(dumped) == 1 and "np_exp(a)" in dumped[0].read_text()


def test_disable_jit_runs_eagerly() -> None:
    seen = []

    def f(x):
        seen.append(type(x))
        return x + 1

    jf = fg.jit(f)
    with fg.disable_jit():
        jf(np.ones(2))
    assert seen == [np.ndarray]
    fg.config.update("jax_disable_jit", True)
    try:
        jf(np.ones(2))
    finally:
        fg.config.update("jax_disable_jit", False)
    assert seen == [np.ndarray, np.ndarray]
    jf(np.ones(2))
    assert seen[-1] is not np.ndarray


def test_closing_over_an_outer_tracer_is_not_cached() -> None:
    def loss(w):
        inner = fg.jit(lambda x: fnp.sum(x * w))  # w is a tracer of grad
        return inner(np.ones(2)) + inner(np.full(2, 2.0))
    _close(fg.grad(loss)(np.array([1.0, 2.0])), np.array([3.0, 3.0]))


# == donation ==================================================================================

def test_donated_buffer_is_reused_and_others_are_never_written() -> None:
    f = fg.jit(lambda x, y: fnp.exp(x) * 2.0 + y, donate_argnums=0)
    x, y = np.ones(4096), np.arange(4096.0)  # large enough for out= to pay
    x_before_id, y_copy = x.ctypes.data, y.copy()
    want = np.exp(1.0) * 2.0 + y
    out = f(x, y)
    _close(out, want)
    assert out.ctypes.data == x_before_id   # the output lives in the donated buffer
    np.testing.assert_array_equal(y, y_copy)  # the non-donated input is untouched
    g = fg.jit(lambda x, y: fnp.exp(x) * 2.0 + y)
    x2 = np.ones(4096)
    g(x2, y)
    np.testing.assert_array_equal(x2, np.ones(4096))


def test_donation_is_dropped_when_another_argument_sees_the_buffer() -> None:
    f = fg.jit(lambda x, y: fnp.exp(x) + y, donate_argnums=0)
    x = np.zeros(3)
    out = f(x, x)  # the same buffer twice: writing it would corrupt y while in use
    _close(out, np.ones(3))
    np.testing.assert_array_equal(x, np.zeros(3))


# == the generated source =====================================================================

def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = fnp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    return fnp.mean((logits - y) ** 2)


def _mlp_args():
    rng = np.random.default_rng(0)
    params = (rng.normal(size=(4, 8)), np.zeros(8), rng.normal(size=(8, 2)), np.zeros(2))
    return params, rng.normal(size=(5, 4)), rng.normal(size=(5, 2))


def test_mlp_source_is_readable_numpy() -> None:
    step = fg.jit(fg.value_and_grad(_mlp_loss))
    src = step.lower(*_mlp_args()).source()
    lines = src.splitlines()
    assert lines[0].startswith("def ")
    # the user's lines, as comments, with the code; backward lines name the rule
    assert any("test_jit.py" in ln and "h = fnp.tanh(x @ w1 + b1)" in ln for ln in lines)
    assert any("[vjp of tanh]" in ln for ln in lines)
    assert "np_tanh(" in src and "np_add.reduce(" in src and "bind(" not in src
    names = [ln.split(" = ")[0].strip() for ln in lines if " = " in ln and "#" not in ln]
    assert all(n.replace(", ", "").replace(",", "").isalpha() for n in names
               if not n.startswith(("for", "while")))
    _close(step(*_mlp_args()), fg.value_and_grad(_mlp_loss)(*_mlp_args()))


def test_cnn_source_calls_kernels_directly() -> None:
    def cnn(kernel, x):
        y = fg.nn.conv(x, kernel, padding=1)
        return fnp.sum(fg.nn.max_pool(fnp.maximum(y, 0.0), 2))
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(2, 1, 6, 6)))
    step = fg.jit(fg.grad(cnn))
    src = step.lower(*args).source()
    # the kernels are called directly (the conv's reverse-mode forward is its im2col kernel
    # and a GEMM, lax/conv.py); the pool's maxima are computed once and the backward masks
    # against them (select_and_scatter_add reads the forward's output)
    assert "conv_patches_impl(" in src and "select_and_scatter_add_impl(" in src
    assert src.count("reduce_window_max_impl(") == 1
    pooled = next(line.split(" = ")[0].strip() for line in src.splitlines()
                  if "reduce_window_max_impl(" in line)
    assert any("select_and_scatter_add_impl(" in line and f", {pooled}," in line
               for line in src.splitlines())
    _close(step(*args), fg.grad(cnn)(*args), 1e-12)


def test_lower_as_text_and_cost() -> None:
    f = fg.jit(lambda a, b: fnp.sum(fnp.tanh(a @ b)))
    lowered = f.lower(np.ones((3, 4)), np.ones((4, 5)))
    assert lowered.as_text() == str(fg.make_jaxpr(lambda a, b: fnp.sum(fnp.tanh(a @ b)))(
        np.ones((3, 4)), np.ones((4, 5))))
    cost = lowered.cost()
    dot = next(r for r in cost.rows if r.primitive == "dot_general")
    assert dot.flops == 2 * 3 * 4 * 5
    assert dot.bytes_read == (12 + 20) * 8 and dot.bytes_written == 15 * 8
    assert cost.flops >= dot.flops + 15 and cost.numpy_calls == len(cost.rows)
    assert "total" in str(cost)
    _close(lowered.compile()(np.ones((3, 4)), np.ones((4, 5)))[0],
           f(np.ones((3, 4)), np.ones((4, 5))))


def test_generated_source_is_in_linecache_and_errors_name_the_users_line() -> None:
    def f(x):
        return fnp.linalg.solve(x, np.ones(2))  # a singular matrix fails at run time

    jf = fg.jit(f)
    with pytest.raises(np.linalg.LinAlgError) as info:
        jf(np.zeros((2, 2)))
    text = "".join(traceback.format_exception(info.value))
    assert "<funcgrad-jit f" in text               # the generated frame ...
    assert "solve_impl(" in text                   # ... shows its line (linecache)
    assert "test_jit.py" in text and "fnp.linalg.solve(x, np.ones(2))" in text  # the note


# == errors ===================================================================================

def test_python_control_flow_on_a_traced_value() -> None:
    @fg.jit
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(ConcretizationTypeError, match="static_argnums.*fg.lax.cond") as info:
        f(np.array(1.0))
    assert "test_jit.py" in str(info.value)
    with pytest.raises(ConcretizationTypeError, match="static_argnums"):
        fg.jit(lambda x: float(x))(np.array(1.0))
    with pytest.raises(TracerArrayConversionError):
        fg.jit(lambda x: np.asarray(x))(np.array(1.0))


def test_escaped_tracer_is_caught() -> None:
    saved = []

    @fg.jit
    def f(x):
        saved.append(x)
        return x * 2.0

    f(np.ones(2))
    with pytest.raises(Exception, match="escaped tracer"):
        fg.jit(lambda y: y + saved[0])(np.ones(2))


def test_non_array_leaf_is_refused_with_advice() -> None:
    with pytest.raises(TypeError, match="static_argnums"):
        fg.jit(lambda x, s: x)(np.ones(2), "mode")


def test_unknown_jit_keyword() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'statc_argnums'"):
        fg.jit(lambda x: x, statc_argnums=1)


def test_codegen_names_are_never_keywords_or_builtins_or_np() -> None:
    import builtins
    import keyword

    from funcgrad.core.ir import _var_names
    names = list(zip(range(5000), _var_names(), strict=False))  # the names never end
    assert all(not keyword.iskeyword(n) and n not in dir(builtins) and n != "np"
               for _, n in names)


# == passes ====================================================================================

def test_passes_simplify_cse_and_dce() -> None:
    from funcgrad.transforms import passes
    closed = fg.make_jaxpr(lambda x: (fnp.sin(x) * 1.0 + fnp.sin(x), fnp.cos(x))[0] + x ** 2)(
        np.ones(3))
    opt = passes.optimize(closed.jaxpr)
    names = [e.primitive.name for e in opt.eqns]
    assert names.count("sin") == 1 and "cos" not in names and "integer_pow" not in names
    assert names.count("mul") == 1  # x * 1 is gone; x ** 2 became x * x
    # never x * 0 -> 0 or x + 0 -> x: they change NaN and -0.0
    closed = fg.make_jaxpr(lambda x: x * 0.0 + (-x + 0.0))(np.ones(3))
    names = [e.primitive.name for e in passes.optimize(closed.jaxpr).eqns]
    assert names == ["mul", "sub", "add"]  # (-x) + 0.0 is 0.0 - x; nothing dropped


def _special_values(dtype: Any) -> np.ndarray:
    v = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 3e38], dtype)
    return np.stack(np.meshgrid(v, v)).reshape(2, -1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
def test_simplify_folds_negations_into_their_readers(dtype: Any) -> None:
    from funcgrad.transforms import passes
    fns = {"neg neg": (lambda a, b: fnp.negative(-a) * b, ["mul"]),
           "a + -b": (lambda a, b: a + (-b), ["sub"]),
           "-a + b": (lambda a, b: (-a) + b, ["sub"]),
           "a - -b": (lambda a, b: a - (-b), ["add"])}
    a, b = _special_values(np.float64)
    if np.dtype(dtype).kind != "f":
        a, b = np.arange(-8, 8) * 37, np.arange(16) * 11
    a, b = a.astype(dtype), b.astype(dtype)
    for name, (f, want) in fns.items():
        opt = passes.optimize(fg.make_jaxpr(f)(a, b).jaxpr)
        assert [e.primitive.name for e in opt.eqns] == want, name
        with np.errstate(all="ignore"):
            got, ref = fg.jit(f)(a, b), f(a, b)
        np.testing.assert_array_equal(got, ref)  # NaN where NaN, and the sign of zero
        numbers = ~np.isnan(ref) if np.dtype(dtype).kind == "f" else slice(None)
        assert (np.signbit(got) == np.signbit(ref))[numbers].all(), name


def test_the_backward_sum_of_a_negated_cotangent_is_one_subtraction() -> None:
    from funcgrad.transforms import passes
    f = fg.grad(lambda x: fnp.sum(fnp.sin(x) - fnp.exp(-x) * fnp.cos(x)))
    x = np.linspace(-2, 2, 7)
    opt = passes.optimize(fg.make_jaxpr(f)(x).jaxpr)
    assert "neg" not in [e.primitive.name for e in opt.eqns][-4:]
    _close(fg.jit(f)(x), f(x), 1e-15)


def test_cse_lengthens_lifetimes_and_buffers_respect_it() -> None:
    # After CSE the square is read again in the backward pass: writing another result into
    # its buffer (out=) would silently corrupt the gradient.
    f = lambda x: fnp.sum(fnp.tanh(x * 0.5 + 0.1) ** 2 + fnp.exp(-x) * fnp.sin(x))  # noqa: E731
    x = np.random.default_rng(0).standard_normal(1000)
    _close(fg.jit(fg.value_and_grad(f))(x), fg.value_and_grad(f)(x), 1e-12)


def test_checkpoint_recomputation_is_not_merged_with_the_forward() -> None:
    from funcgrad.core.staging import RECOMPUTATION
    from funcgrad.transforms import passes
    body = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    loss = fg.value_and_grad(lambda x: fnp.sum(body(x)))
    opt = passes.optimize(fg.make_jaxpr(loss)(np.ones(3)).jaxpr)
    recomputed = [e for e in opt.eqns if e.primitive.name == "sin"
                  and getattr(e.source_info, "backward_of", None) == RECOMPUTATION]
    # CSE would have replaced the recomputed sin by the forward's (keeping it alive)
    assert len(recomputed) == 1
    assert [e.primitive.name for e in opt.eqns].count("sin") == 3
    _close(fg.jit(loss)(np.ones(3)), loss(np.ones(3)))


# == blocked evaluation ========================================================================

def _chain(x):
    return fnp.sum(fnp.tanh(x * 0.5 + 0.1) ** 2 + fnp.exp(-x) * fnp.sin(x))


@pytest.mark.parametrize("n", [3 * 16384, 1_000_003])
def test_blocked_evaluation_of_a_large_elementwise_region(n: int) -> None:
    from funcgrad.transforms import codegen
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    step = fg.jit(fg.value_and_grad(_chain))
    src = step.lower(x).source()
    blocked = n >= codegen.BLOCK_MIN_SIZE
    assert ("fused over" in src) == blocked and ("def fused_block" in src) == blocked
    value, grad = step(x)
    want_value, want_grad = fg.value_and_grad(_chain)(x)
    # elementwise values are the same ufuncs on the same elements: identical bits
    np.testing.assert_array_equal(grad, want_grad)
    # the sum is accumulated block by block: float32 rounding differs from one np.sum
    np.testing.assert_allclose(value, want_value, rtol=1e-5)
    assert value.dtype == np.float32 and value.shape == ()


def test_blocked_region_with_max_reduction_and_later_readers() -> None:
    x = np.random.default_rng(2).standard_normal((600, 1000))   # blocked: >= BLOCK_MIN_SIZE
    f = lambda x: (fnp.max(fnp.exp(x) - x), fnp.tanh(x) * 2.0, fnp.sum(x * x))  # noqa: E731
    got = fg.jit(f)(x)
    want = f(x)
    assert got[0] == want[0]  # max is exact in any order
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
    xt = np.asfortranarray(x)  # a non-contiguous input is flattened by a copy
    np.testing.assert_array_equal(fg.jit(f)(xt)[1], want[1])


def test_generated_names_never_collide_with_constants() -> None:
    # A function named like a constant's global (f, with six captured constants a..f) used to
    # have its sixth constant overwritten by its own definition.
    consts = [np.full(2, float(i)) for i in range(8)]

    def f(x):
        out = x
        for c in consts:
            out = out * 2.0 + c
        return out

    x = np.ones(2)
    _close(fg.jit(f)(x), f(x))
