"""Train a small CNN (conv -> relu -> max pool -> conv -> global pool -> dense) with fg.nn.

Run: python examples/train_cnn.py [--epochs N] [--smoke]

The data are synthetic 12x12 images of three classes (a horizontal bar, a vertical bar, a
diagonal) with noise, made here, so nothing is downloaded. The training step is
`value_and_grad` of a pure loss over a params dict, and the update a tree_map.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn


def make_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 3, n)
    images = rng.normal(0.0, 0.3, (n, 1, 12, 12)).astype(np.float32)
    for img, label, pos in zip(images, labels, rng.integers(2, 10, n), strict=True):
        if label == 0:
            img[0, pos, 2:10] += 1.0
        elif label == 1:
            img[0, 2:10, pos] += 1.0
        else:
            idx = np.arange(2, 10)
            img[0, idx, idx] += 1.0
    return images, labels


def init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def he(*shape: int, fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return {"c1": he(8, 1, 3, 3, fan_in=9), "b1": np.zeros(8, np.float32),
            "c2": he(16, 8, 3, 3, fan_in=72), "b2": np.zeros(16, np.float32),
            "w": he(16, 3, fan_in=16), "b": np.zeros(3, np.float32)}


def logits_fn(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = nn.relu(nn.conv(x, params["c1"], params["b1"], padding=1))   # (N, 8, 12, 12)
    h = nn.max_pool(h, 2)                                              # (N, 8, 6, 6)
    h = nn.relu(nn.conv(h, params["c2"], params["b2"], padding="SAME"))
    h = nn.global_avg_pool(h)                                          # (N, 16)
    return nn.dense(h, params["w"], params["b"])


def loss_fn(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return nn.cross_entropy(logits_fn(params, x), y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="one epoch, for the tests")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs
    rng = np.random.default_rng(0)
    x, y = make_images(256, rng)
    x_test, y_test = make_images(256, rng)          # held out: never trained on
    params = init(rng)
    step = fg.jit(fg.value_and_grad(loss_fn))
    optimizer = fg.optim.sgd(0.5)
    opt_state = optimizer.init(params)
    start, steps = time.perf_counter(), 0
    for epoch in range(epochs):
        losses = []
        for i in range(0, len(x), 32):
            loss, grads = step(params, x[i:i + 32], y[i:i + 32])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = fg.optim.apply_updates(params, updates)
            losses.append(float(loss))
            steps += 1
        accuracy = np.mean(np.argmax(logits_fn(params, x_test), axis=1) == y_test)
        print(f"epoch {epoch}  mean loss {np.mean(losses):.4f}  held-out accuracy {accuracy:.3f}")
    elapsed = time.perf_counter() - start
    print(f"{steps} steps in {elapsed:.2f} s ({1e3 * elapsed / steps:.2f} ms per step)")
    assert all(g.dtype == np.float32 for g in grads.values())

    # Per-example gradient norms of the first conv kernel, without a Python loop.
    per_example = fg.vmap(fg.grad(lambda p, xi, yi: loss_fn(p, xi[None], yi[None])),
                          in_axes=(None, 0, 0))(params, x_test[:4], y_test[:4])
    print("per-example |dL/dc1|:", np.round(np.sqrt((per_example["c1"] ** 2).sum((1, 2, 3, 4))), 4))
    print("IR of the first conv layer:")
    print(fg.make_jaxpr(lambda w: fnp.sum(nn.conv(x[:2], w, padding=1)))(params["c1"]))


if __name__ == "__main__":
    main()
