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

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core.errors import FuncgradValueError
from funcgrad.tree_util import tree_leaves, tree_map

__all__ = ["GradientTransformation", "ScaleByAdamState", "TraceState", "ScaleByScheduleState",
           "adam", "adamw", "add_decayed_weights", "apply_updates", "chain",
           "clip_by_global_norm", "constant_schedule", "cosine_decay_schedule",
           "exponential_decay", "scale_by_adam", "scale_by_learning_rate", "sgd", "trace"]

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
    return tree_map(lambda x: np.zeros_like(np.asarray(x)), tree)


def apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` leaf by leaf (keeping each parameter's dtype).

    >>> apply_updates({"a": np.ones(1)}, {"a": np.ones(1)})["a"]
    array([2.])
    """
    return tree_map(lambda p, u: np.asarray(p + u).astype(np.asarray(p).dtype), params, updates)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states.

    >>> len(chain(sgd(1.0), sgd(1.0)).init({"a": np.ones(1)}))
    2
    """
    def init(params: Any) -> Any:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        new = []
        for t, s in zip(transforms, state):
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
        dc = np.asarray(count, dtype=np.float64) - transition_begin
        p = dc / transition_steps
        if staircase:
            p = np.floor(p)
        v = np.where(dc <= 0, init_value, init_value * decay_rate ** p)
        if end_value is not None:
            v = np.maximum(v, end_value) if decay_rate < 1 else np.minimum(v, end_value)
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
        c = np.minimum(np.asarray(count, dtype=np.float64), decay_steps)
        cosine = 0.5 * (1 + np.cos(np.pi * c / decay_steps))
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
        out = tree_map(lambda m, v: (m / c1) / (np.sqrt(v / c2 + eps_root) + eps), mu, nu)
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
        norm = np.sqrt(sum(np.sum(np.square(x)) for x in tree_leaves(updates)))
        if norm < max_norm:
            return updates, state
        return tree_map(lambda g: g / norm * max_norm, updates), state
    return GradientTransformation(lambda params: EmptyState(), update)
