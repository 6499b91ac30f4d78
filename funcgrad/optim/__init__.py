"""Gradient transformations with optax's API: pure functions over pytrees.

Each optimiser is a :class:`GradientTransformation` ``(init, update)``; ``update(grads, state,
params=None) -> (updates, new_state)`` and :func:`apply_updates` adds the updates. A learning
rate may be a schedule: a callable of the step count (starting at 0).

>>> import numpy as np, funcgrad as fg
>>> opt = fg.optim.sgd(0.1)
>>> params = {"w": np.ones(2)}
>>> upd, st = opt.update({"w": np.ones(2)}, opt.init(params))
>>> fg.optim.apply_updates(params, upd)["w"]
array([0.9, 0.9])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.core.errors import FuncgradValueError
from funcgrad.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = ["GradientTransformation", "InjectHyperparamsState", "MaskedState", "ScaleByAdamState",
           "ScaleByRmsState", "ScaleByRssState", "ScaleByScheduleState", "TraceState",
           "adabelief", "adagrad", "adam", "adamax", "adamw", "add_decayed_weights",
           "apply_updates", "chain", "clip_by_global_norm", "constant_schedule",
           "cosine_decay_schedule", "exponential_decay", "inject_hyperparams",
           "join_schedules", "linear_schedule", "lion", "masked", "multi_transform",
           "MultiTransformState", "piecewise_constant_schedule",
           "polynomial_schedule", "rmsprop", "scale_by_adam", "scale_by_adamax",
           "scale_by_belief", "scale_by_learning_rate", "scale_by_lion", "scale_by_rms",
           "scale_by_rss", "scale_by_stddev", "sgd", "trace", "warmup_cosine_decay_schedule"]

Schedule = Callable[[Any], Any]


class GradientTransformation(NamedTuple):
    """A pair of pure functions ``init(params) -> state`` and ``update(updates, state,
    params=None) -> (updates, state)``.

    >>> GradientTransformation(lambda p: (), lambda u, s, p=None: (u, s)).init(None)
    ()
    """
    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    pass


class TraceState(NamedTuple):
    trace: Any


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByScheduleState(NamedTuple):
    count: Any


def _zeros_like(tree: Any) -> Any:
    return tree_map(lambda x: fnp.zeros_like(fnp.asarray(x)), tree)


def apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` leaf by leaf (keeping each parameter's dtype).

    >>> apply_updates({"a": np.ones(1)}, {"a": np.ones(1)})["a"]
    array([2.])
    """
    return tree_map(lambda p, u: fnp.asarray(p + u, dtype=fnp.result_type(p)), params, updates)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states.

    >>> len(chain(sgd(1.0), sgd(1.0)).init({"a": np.ones(1)}))
    2
    """
    def init(params: Any) -> Any:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        new = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params)
            new.append(s)
        return updates, tuple(new)
    return GradientTransformation(init, update)


def constant_schedule(value: float) -> Schedule:
    """``count -> value``.

    >>> constant_schedule(0.5)(10)
    0.5
    """
    return lambda count: value


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    """``init_value * decay_rate ** ((count - transition_begin) / transition_steps)``, as optax.

    >>> float(exponential_decay(1.0, 1, 0.5)(2))
    0.25
    """
    if transition_steps <= 0:
        raise FuncgradValueError(f"transition_steps must be positive, got {transition_steps}")

    def schedule(count: Any) -> Any:
        dc = fnp.asarray(count, dtype=np.float64) - transition_begin
        p = dc / transition_steps
        if staircase:
            p = fnp.floor(p)
        v = fnp.where(dc <= 0, init_value, init_value * decay_rate ** p)
        if end_value is not None:
            v = fnp.maximum(v, end_value) if decay_rate < 1 else fnp.minimum(v, end_value)
        return v
    return schedule


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0,
                          exponent: float = 1.0) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    >>> float(cosine_decay_schedule(1.0, 10)(10))
    0.0
    """
    if decay_steps <= 0:
        raise FuncgradValueError(f"decay_steps must be positive, got {decay_steps}")

    def schedule(count: Any) -> Any:
        c = fnp.minimum(fnp.asarray(count, dtype=np.float64), decay_steps)
        cosine = 0.5 * (1 + fnp.cos(np.pi * c / decay_steps))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)
    return schedule


def scale_by_learning_rate(learning_rate: float | Schedule) -> GradientTransformation:
    """Multiply by ``-learning_rate`` (a schedule is called with the step count).

    >>> scale_by_learning_rate(2.0).update(np.ones(1), EmptyState())[0]
    array([-2.])
    """
    if callable(learning_rate):
        def init(params: Any) -> Any:
            return ScaleByScheduleState(np.zeros((), np.int64))

        def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
            lr = learning_rate(state.count)
            return (tree_map(lambda g: -lr * g, updates),
                    ScaleByScheduleState(state.count + 1))
        return GradientTransformation(init, update)
    return GradientTransformation(
        lambda params: EmptyState(),
        lambda updates, state, params=None: (tree_map(lambda g: -learning_rate * g, updates),
                                             state))


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: ``t = g + decay * t``; the update is ``t`` (or ``g + decay * t``, Nesterov).

    >>> trace(0.9).init(np.ones(2)).trace
    array([0., 0.])
    """
    def init(params: Any) -> Any:
        return TraceState(_zeros_like(params))

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        t = tree_map(lambda g, t: g + decay * t, updates, state.trace)
        out = tree_map(lambda g, t: g + decay * t, updates, t) if nesterov else t
        return out, TraceState(t)
    return GradientTransformation(init, update)


def sgd(learning_rate: float | Schedule, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    >>> sgd(0.1, momentum=0.9).update(np.ones(1), sgd(0.1, 0.9).init(np.ones(1)))[0]
    array([-0.1])
    """
    parts = [] if momentum is None else [trace(momentum, nesterov)]
    return chain(*parts, scale_by_learning_rate(learning_rate))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_root: float = 0.0) -> GradientTransformation:
    """Adam's per-element bias-corrected moment scaling (no learning rate).

    >>> scale_by_adam().init(np.ones(3)).nu.shape
    (3,)
    """
    def init(params: Any) -> Any:
        return ScaleByAdamState(np.zeros((), np.int64), _zeros_like(params), _zeros_like(params))

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        mu = tree_map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tree_map(lambda g, v: b2 * v + (1 - b2) * g * g, updates, state.nu)
        count = state.count + 1
        c1, c2 = 1 - b1 ** count, 1 - b2 ** count
        out = tree_map(lambda m, v: (m / c1) / (fnp.sqrt(v / c2 + eps_root) + eps), mu, nu)
        return out, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float = 0.0) -> GradientTransformation:
    """``updates + weight_decay * params`` (``params`` is required).

    >>> add_decayed_weights(0.5).update(np.ones(1), EmptyState(), np.ones(1))[0]
    array([1.5])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        if params is None:
            raise FuncgradValueError("add_decayed_weights: params must be passed to update")
        return tree_map(lambda g, p: g + weight_decay * p, updates, params), state
    return GradientTransformation(lambda params: EmptyState(), update)


def adam(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> GradientTransformation:
    """Adam, as ``optax.adam``.

    >>> adam(0.1).update(np.ones(1), adam(0.1).init(np.ones(1)))[0]
    array([-0.1])
    """
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 1e-4) -> GradientTransformation:
    """Adam with decoupled weight decay, as ``optax.adamw``.

    >>> len(adamw(0.1).init(np.ones(1)))
    3
    """
    return chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay),
                 scale_by_learning_rate(learning_rate))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale all updates so their joint L2 norm is at most ``max_norm``.

    >>> clip_by_global_norm(1.0).update(np.array([3.0, 4.0]), EmptyState())[0]
    array([0.6, 0.8])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        norm = fnp.sqrt(sum(fnp.sum(fnp.square(x)) for x in tree_leaves(updates)))
        keep = norm < max_norm      # fnp.where, not `if`: the norm is traced under jit
        return tree_map(lambda g: fnp.where(keep, g, g / norm * max_norm), updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


# == more optimisers (optax 0.2 formulas) =====================================================

class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRStdDevState(NamedTuple):
    mu: Any
    nu: Any


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


class ScaleByLionState(NamedTuple):
    count: Any
    mu: Any


def _full_like(tree: Any, value: float) -> Any:
    return tree_map(lambda x: fnp.full_like(fnp.asarray(x), value), tree)


def _identity() -> GradientTransformation:
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                 eps_in_sqrt: bool = True) -> GradientTransformation:
    """``g / sqrt(nu + eps)`` (or ``g / (sqrt(nu) + eps)``), ``nu`` an EMA of ``g^2``.

    >>> scale_by_rms(0.0).update(np.array([2.0]), scale_by_rms(0.0).init(np.zeros(1)))[0]
    array([1.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        nu = tree_map(lambda g, v: decay * v + (1 - decay) * g * g, updates, state.nu)
        if eps_in_sqrt:
            out = tree_map(lambda g, v: g / fnp.sqrt(v + eps), updates, nu)
        else:
            out = tree_map(lambda g, v: g / (fnp.sqrt(v) + eps), updates, nu)
        return out, ScaleByRmsState(nu)
    return GradientTransformation(lambda p: ScaleByRmsState(_full_like(p, initial_scale)),
                                  update)


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                    eps_in_sqrt: bool = True) -> GradientTransformation:
    """Centred RMS scaling: ``g / sqrt(nu - mu^2 + eps)``.

    >>> scale_by_stddev().init(np.zeros(2)).mu
    array([0., 0.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        mu = tree_map(lambda g, m: decay * m + (1 - decay) * g, updates, state.mu)
        nu = tree_map(lambda g, v: decay * v + (1 - decay) * g * g, updates, state.nu)
        if eps_in_sqrt:
            out = tree_map(lambda g, m, v: g / fnp.sqrt(v - m * m + eps), updates, mu, nu)
        else:
            out = tree_map(lambda g, m, v: g / (fnp.sqrt(v - m * m) + eps), updates, mu, nu)
        return out, ScaleByRStdDevState(mu, nu)
    return GradientTransformation(
        lambda p: ScaleByRStdDevState(_zeros_like(p), _full_like(p, initial_scale)), update)


def rmsprop(learning_rate: float | Schedule, decay: float = 0.9, eps: float = 1e-8,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, centered: bool = False,
            momentum: float | None = None, nesterov: bool = False) -> GradientTransformation:
    """RMSProp, as ``optax.rmsprop`` (``eps`` inside the square root by default, unlike
    PyTorch; ``eps_in_sqrt=False`` matches PyTorch).

    >>> len(rmsprop(0.1, momentum=0.9).init(np.zeros(1)))
    3
    """
    scaler = (scale_by_stddev if centered else scale_by_rms)(decay, eps, initial_scale,
                                                             eps_in_sqrt)
    return chain(scaler, scale_by_learning_rate(learning_rate),
                 trace(momentum, nesterov) if momentum is not None else _identity())


def scale_by_rss(initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7) -> GradientTransformation:
    """Adagrad's scaling: ``g / sqrt(sum g^2 + eps)`` (0 where the sum is 0).

    >>> o = scale_by_rss(0.0, 0.0)
    >>> o.update(np.array([2.0]), o.init(np.zeros(1)))[0]
    array([1.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        sos = tree_map(lambda g, t: g * g + t, updates, state.sum_of_squares)
        out = tree_map(lambda g, t: fnp.where(t > 0, g / fnp.sqrt(t + eps), 0.0), updates, sos)
        return out, ScaleByRssState(sos)
    return GradientTransformation(
        lambda p: ScaleByRssState(_full_like(p, initial_accumulator_value)), update)


def adagrad(learning_rate: float | Schedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformation:
    """Adagrad, as ``optax.adagrad``.

    >>> len(adagrad(0.1).init(np.zeros(1)))
    2
    """
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                    ) -> GradientTransformation:
    """Adamax: ``m_hat / u`` with ``u = max(b2 * u, |g| + eps)``.

    >>> scale_by_adamax().init(np.zeros(2)).nu
    array([0., 0.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        count = state.count + 1
        mu = tree_map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tree_map(lambda g, v: fnp.maximum(b2 * v, fnp.abs(g) + eps), updates, state.nu)
        c1 = 1 - b1 ** count
        return tree_map(lambda m, v: (m / c1) / v, mu, nu), ScaleByAdamState(count, mu, nu)
    return GradientTransformation(
        lambda p: ScaleByAdamState(np.zeros((), np.int64), _zeros_like(p), _zeros_like(p)),
        update)


def adamax(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> GradientTransformation:
    """Adamax, as ``optax.adamax``.

    >>> len(adamax(0.1).init(np.zeros(1)))
    2
    """
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def scale_by_belief(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16,
                    eps_root: float = 1e-16) -> GradientTransformation:
    """AdaBelief: Adam with the EMA of ``(g - m)^2`` (plus ``eps_root``) as second moment.

    >>> scale_by_belief().init(np.zeros(2)).nu
    array([0., 0.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        count = state.count + 1
        mu = tree_map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tree_map(lambda g, m, v: b2 * v + (1 - b2) * (g - m) ** 2 + eps_root,
                      updates, mu, state.nu)
        c1, c2 = 1 - b1 ** count, 1 - b2 ** count
        out = tree_map(lambda m, v: (m / c1) / (fnp.sqrt(v / c2) + eps), mu, nu)
        return out, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(
        lambda p: ScaleByAdamState(np.zeros((), np.int64), _zeros_like(p), _zeros_like(p)),
        update)


def adabelief(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-16, eps_root: float = 1e-16) -> GradientTransformation:
    """AdaBelief, as ``optax.adabelief`` (without its ``nesterov`` option).

    >>> len(adabelief(0.1).init(np.zeros(1)))
    2
    """
    return chain(scale_by_belief(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
    """Lion's update direction ``sign((1 - b1) g + b1 m)``; ``m`` an EMA of ``g`` (rate
    ``b2``).

    >>> scale_by_lion().update(np.array([-3.0]), scale_by_lion().init(np.zeros(1)))[0]
    array([-1.])
    """
    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        out = tree_map(lambda g, m: fnp.sign((1 - b1) * g + b1 * m), updates, state.mu)
        mu = tree_map(lambda g, m: b2 * m + (1 - b2) * g, updates, state.mu)
        return out, ScaleByLionState(state.count + 1, mu)
    return GradientTransformation(
        lambda p: ScaleByLionState(np.zeros((), np.int64), _zeros_like(p)), update)


def lion(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.99,
         weight_decay: float = 1e-3) -> GradientTransformation:
    """Lion, as ``optax.lion`` (decoupled weight decay applied to the sign update).

    >>> len(lion(0.1).init(np.zeros(1)))
    3
    """
    return chain(scale_by_lion(b1, b2), add_decayed_weights(weight_decay),
                 scale_by_learning_rate(learning_rate))


# == more schedules ===========================================================================

def polynomial_schedule(init_value: float, end_value: float, power: float,
                        transition_steps: int, transition_begin: int = 0) -> Schedule:
    """``(init - end) * (1 - t / T) ** power + end`` with ``t`` clipped to ``[0, T]``.

    >>> float(polynomial_schedule(1.0, 0.0, 2, 4)(2))
    0.25
    """
    if transition_steps <= 0:
        return lambda count: init_value
    begin = max(int(transition_begin), 0)

    def schedule(count: Any) -> Any:
        c = fnp.clip(fnp.asarray(count, dtype=np.float64) - begin, 0, transition_steps)
        return (init_value - end_value) * (1 - c / transition_steps) ** power + end_value
    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """Linear interpolation from ``init_value`` to ``end_value`` over ``transition_steps``.

    >>> float(linear_schedule(0.0, 1.0, 4)(1))
    0.25
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def piecewise_constant_schedule(init_value: float,
                                boundaries_and_scales: dict[int, float] | None = None
                                ) -> Schedule:
    """``init_value`` times each ``scale`` whose boundary the count has reached.

    >>> s = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})
    >>> [float(s(c)) for c in (1, 2, 4)]
    [1.0, 0.5, 0.05]
    """
    items = sorted((boundaries_and_scales or {}).items())
    if any(sc < 0 for _, sc in items):
        raise FuncgradValueError("piecewise_constant_schedule expects non-negative scales, got "
                                 f"{dict(items)}")

    def schedule(count: Any) -> Any:
        v = fnp.asarray(init_value, dtype=np.float64)
        c = fnp.asarray(count)
        for boundary, sc in items:
            v = fnp.where(c >= boundary, v * sc, v)
        return v
    return schedule


def join_schedules(schedules: list[Schedule], boundaries: list[int]) -> Schedule:
    """``schedules[i](count - boundaries[i - 1])`` between consecutive boundaries.

    >>> float(join_schedules([constant_schedule(1.0), constant_schedule(2.0)], [3])(3))
    2.0
    """
    def schedule(count: Any) -> Any:
        out = schedules[0](count)
        for boundary, sch in zip(boundaries, schedules[1:], strict=True):
            out = fnp.where(fnp.asarray(count) < boundary, out, sch(fnp.asarray(count) - boundary))
        return out
    return schedule


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                 decay_steps: int, end_value: float = 0.0,
                                 exponent: float = 1.0) -> Schedule:
    """Linear warmup to ``peak_value`` over ``warmup_steps``, then cosine decay to ``end_value``
    at ``decay_steps`` (counted from 0, warmup included), as optax.

    >>> s = warmup_cosine_decay_schedule(0.0, 1.0, 2, 10)
    >>> [round(float(s(c)), 3) for c in (0, 1, 2, 10)]
    [0.0, 0.5, 1.0, 0.0]
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha,
                                                 exponent)], [warmup_steps])


# == wrappers =================================================================================

class InjectHyperparamsState(NamedTuple):
    count: Any
    hyperparams: dict[str, Any]
    inner_state: Any


def inject_hyperparams(inner_factory: Callable[..., GradientTransformation],
                       static_args: str | tuple[str, ...] = ()
                       ) -> Callable[..., GradientTransformation]:
    """Make an optimiser's numeric hyperparameters part of its state (``state.hyperparams``,
    which may be edited between steps); callables among them are schedules of the step count,
    re-evaluated every step. Arguments named in ``static_args``, and non-numeric ones, stay
    fixed, as ``optax.inject_hyperparams``.

    >>> opt = inject_hyperparams(sgd)(learning_rate=0.5)
    >>> float(opt.init(np.zeros(1)).hyperparams["learning_rate"])
    0.5
    """
    static = (static_args,) if isinstance(static_args, str) else tuple(static_args)
    sig = inspect.signature(inner_factory)

    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformation:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        numeric, schedules, fixed = {}, {}, {}
        for name, v in bound.arguments.items():
            if name in static:
                fixed[name] = v
            elif callable(v):
                schedules[name] = v
            elif isinstance(v, (int, float, np.number, np.ndarray)) and not isinstance(v, bool):
                numeric[name] = v
            else:
                fixed[name] = v

        def hparams(count: Any, stored: dict[str, Any] | None) -> dict[str, Any]:
            hp = {k: fnp.asarray(v) for k, v in (stored if stored is not None
                                                else numeric).items() if k not in schedules}
            hp.update({k: fnp.asarray(f(count)) for k, f in schedules.items()})
            return hp

        def init(params: Any) -> Any:
            count = np.zeros((), np.int64)
            hp = hparams(count, None)
            return InjectHyperparamsState(count, hp, inner_factory(**fixed, **hp).init(params))

        def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
            hp = hparams(state.count, state.hyperparams)
            out, inner = inner_factory(**fixed, **hp).update(updates, state.inner_state, params)
            return out, InjectHyperparamsState(state.count + 1, hp, inner)
        return GradientTransformation(init, update)
    return wrapped


class MaskedState(NamedTuple):
    inner_state: Any


def masked(inner: GradientTransformation, mask: Any) -> GradientTransformation:
    """Apply ``inner`` only to the leaves where ``mask`` (a pytree of bools with the params'
    structure, or a callable of the params returning one) is True; other updates pass
    through unchanged.

    >>> opt = masked(sgd(1.0), {"a": True, "b": False})
    >>> opt.update({"a": np.ones(1), "b": np.ones(1)}, opt.init({"a": 0, "b": 0}))[0]["b"]
    array([1.])
    """
    def flags(tree: Any) -> list[bool]:
        m = mask(tree) if callable(mask) else mask
        leaves, treedef = tree_flatten(tree)
        mleaves = tree_leaves(m)
        if len(mleaves) != len(leaves):
            raise FuncgradValueError(f"masked: mask has {len(mleaves)} leaves, the tree "
                                     f"{len(leaves)}")
        return [bool(f) for f in mleaves]

    def init(params: Any) -> Any:
        f = flags(params)
        sel = [x for x, k in zip(tree_leaves(params), f, strict=True) if k]
        return MaskedState(inner.init(sel))

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        f = flags(updates if params is None else params)
        leaves, treedef = tree_flatten(updates)
        sel = [x for x, k in zip(leaves, f, strict=True) if k]
        psel = None if params is None else [x for x, k in zip(tree_leaves(params), f,
                                                              strict=True) if k]
        new, inner_state = inner.update(sel, state.inner_state, psel)
        it = iter(new)
        out = [next(it) if k else x for x, k in zip(leaves, f, strict=True)]
        return tree_unflatten(treedef, out), MaskedState(inner_state)
    return GradientTransformation(init, update)


class MultiTransformState(NamedTuple):
    inner_states: dict[Any, Any]


def multi_transform(transforms: dict[Any, GradientTransformation],
                    param_labels: Any) -> GradientTransformation:
    """A different transformation per group of parameters, as ``optax.multi_transform``:
    ``param_labels`` is a pytree of labels with the params' structure (or a callable of the
    params returning one), and each leaf is updated by ``transforms[label]``. Each inner state
    sees only its own leaves, as a list in tree order.

    >>> opt = multi_transform({"fast": sgd(1.0), "slow": sgd(0.1)}, {"a": "fast", "b": "slow"})
    >>> upd, _ = opt.update({"a": np.ones(1), "b": np.ones(1)}, opt.init({"a": 0., "b": 0.}))
    >>> upd["a"], upd["b"]
    (array([-1.]), array([-0.1]))
    """
    def labels(tree: Any) -> list[Any]:
        lab = param_labels(tree) if callable(param_labels) else param_labels
        leaves = tree_leaves(tree)
        lab_leaves = tree_leaves(lab)
        if len(lab_leaves) != len(leaves):
            raise FuncgradValueError(f"multi_transform: param_labels has {len(lab_leaves)} "
                                     f"leaves, the tree {len(leaves)}")
        unknown = sorted({repr(x) for x in lab_leaves if x not in transforms})
        if unknown:
            raise FuncgradValueError(f"multi_transform: labels {', '.join(unknown)} have no "
                                     f"transformation (known: {sorted(map(repr, transforms))})")
        return lab_leaves

    def init(params: Any) -> Any:
        lab = labels(params)
        leaves = tree_leaves(params)
        return MultiTransformState({
            name: t.init([x for x, k in zip(leaves, lab, strict=True) if k == name])
            for name, t in transforms.items()})

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        lab = labels(updates if params is None else params)
        leaves, treedef = tree_flatten(updates)
        pleaves = None if params is None else tree_leaves(params)
        out = list(leaves)
        new_states = {}
        for name, t in transforms.items():
            idx = [i for i, k in enumerate(lab) if k == name]
            psel = None if pleaves is None else [pleaves[i] for i in idx]
            new, new_states[name] = t.update([leaves[i] for i in idx],
                                             state.inner_states[name], psel)
            for i, x in zip(idx, new, strict=True):
                out[i] = x
        return tree_unflatten(treedef, out), MultiTransformState(new_states)
    return GradientTransformation(init, update)
