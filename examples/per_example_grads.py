"""Per-example gradients with vmap(grad), and DP-SGD on scikit-learn's handwritten digits.

Run: python examples/per_example_grads.py [--epochs N] [--clip C] [--noise-multiplier S]
     [--smoke]

DP-SGD (Abadi et al., 2016) needs each example's gradient, not the batch's: every one is
clipped to an L2 norm of at most ``--clip``, the clipped gradients are summed, Gaussian noise
of standard deviation ``noise_multiplier * clip`` (from ``fg.random``) is added, and the sum is
divided by the batch size. ``fg.vmap(fg.grad(loss))`` gives all the per-example gradients in
one call, and ``fg.jit`` compiles the whole private step.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def load_digits(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    x = (data.images.reshape(len(data.images), -1) / 16.0).astype(np.float64)
    y = data.target.astype(np.int64)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    return x[:cut], y[:cut], x[cut:], y[cut:]


def init_params(key: Any, sizes: list[int]) -> list[dict[str, Any]]:
    keys = fg.random.split(key, len(sizes) - 1)
    init = fg.nn.initializers.glorot_normal()
    return [{"w": init(k, (m, n)), "b": np.zeros(n)}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def predict(params: list[dict[str, Any]], x: Any) -> Any:
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def example_loss(params: list[dict[str, Any]], x: Any, y: Any) -> Any:
    """The loss of one example: ``x`` has shape (features,), ``y`` is a class index."""
    return fg.nn.cross_entropy(predict(params, x[None]), y[None])


def private_gradient(params: list[dict[str, Any]], x: Any, y: Any, key: Any, clip: float,
                     noise_multiplier: float) -> tuple[Any, Any]:
    grads = fg.vmap(fg.grad(example_loss), in_axes=(None, 0, 0))(params, x, y)
    leaves, treedef = fg.tree_util.tree_flatten(grads)
    batch = x.shape[0]
    norms = fnp.sqrt(sum(fnp.sum(fnp.reshape(g, (batch, -1)) ** 2, axis=1) for g in leaves))
    scale = fnp.minimum(1.0, clip / (norms + 1e-12))         # per-example clipping factor
    keys = fg.random.split(key, len(leaves))
    noisy = [(fnp.tensordot(scale, g, axes=1)
              + noise_multiplier * clip * fg.random.normal(k, g.shape[1:])) / batch
             for g, k in zip(leaves, keys, strict=True)]
    return fg.tree_util.tree_unflatten(treedef, noisy), norms


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--clip", type=float, default=1.0, help="per-example L2 clipping norm")
    parser.add_argument("--noise-multiplier", type=float, default=0.8,
                        help="noise std as a multiple of the clipping norm")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--smoke", action="store_true", help="one short epoch, for the tests")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x_train, y_train, x_test, y_test = load_digits(rng)
    epochs = 1 if args.smoke else args.epochs
    if args.smoke:
        x_train, y_train = x_train[:256], y_train[:256]
    key = fg.random.key(0)
    key, init_key = fg.random.split(key)
    params = init_params(init_key, [64, 64, 10])
    optimizer = fg.optim.sgd(args.lr, momentum=0.9)
    opt_state = optimizer.init(params)

    @fg.jit
    def step(params: Any, opt_state: Any, x: Any, y: Any, key: Any) -> tuple[Any, ...]:
        grads, norms = private_gradient(params, x, y, key, args.clip, args.noise_multiplier)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return fg.optim.apply_updates(params, updates), opt_state, norms

    # Per-example gradients agree with one-example-at-a-time gradients.
    per_example = fg.vmap(fg.grad(example_loss), in_axes=(None, 0, 0))(
        params, x_train[:4], y_train[:4])
    one = fg.grad(example_loss)(params, x_train[2], y_train[2])
    assert np.allclose(per_example[0]["w"][2], one[0]["w"])

    print(f"DP-SGD: clipping norm {args.clip}, noise multiplier {args.noise_multiplier}, "
          f"batch {args.batch}, {epochs} epoch(s)")
    start, steps = time.perf_counter(), 0
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        clipped = []
        for i in range(0, len(order) - args.batch + 1, args.batch):
            idx = order[i:i + args.batch]
            key, sub = fg.random.split(key)
            params, opt_state, norms = step(params, opt_state, x_train[idx], y_train[idx], sub)
            clipped.append(np.mean(norms > args.clip))
            steps += 1
        accuracy = np.mean(np.argmax(predict(params, x_test), axis=1) == y_test)
        print(f"epoch {epoch + 1:2d}  held-out accuracy {accuracy:.3f}  "
              f"examples clipped {np.mean(clipped):.0%}")
    elapsed = time.perf_counter() - start
    print(f"{steps} private steps in {elapsed:.2f} s ({1e3 * elapsed / max(steps, 1):.1f} ms "
          f"per step); final held-out accuracy {accuracy:.3f}")
    return float(accuracy)


if __name__ == "__main__":
    main()
