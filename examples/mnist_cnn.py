"""Train a LeNet-style CNN on handwritten digits with fg.jit(value_and_grad) and fg.optim.adam.

Run: python examples/mnist_cnn.py            (scikit-learn's bundled 8x8 digits, no download)
     python examples/mnist_cnn.py --data DIR (MNIST IDX files in DIR, gzip or plain)
     python examples/mnist_cnn.py --smoke    (a few steps, for the tests)

Prints the held-out test accuracy, the training time and the time per step, and saves a PNG
with the loss/accuracy curves and a grid of test digits with their predictions.
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np

import funcgrad as fg
from funcgrad import nn


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (MNIST's format), gzip-compressed or plain."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(directory: str, stem: str) -> str:
    dotted = stem.replace("-idx", ".idx")             # some mirrors name them train-images.idx3-...
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_mnist(directory: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST from IDX files: images scaled to [0, 1] as (N, 1, 28, 28) float32, labels int."""
    parts = []
    for split in ("train", "t10k"):
        images = read_idx(_find(directory, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find(directory, f"{split}-labels-idx1-ubyte"))
        parts += [(images[:, None] / np.float32(255)).astype(np.float32), labels.astype(np.int64)]
    return parts[0], parts[1], parts[2], parts[3]


def load_digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 1797 bundled 8x8 digits, 80/20 stratified split, scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = sk_load_digits()
    x = (digits.images[:, None] / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target)
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def init(key: np.ndarray, image_size: int, width: int = 16) -> dict[str, np.ndarray]:
    """He-normal conv/dense weights for conv-relu-pool, conv-relu-pool, dense-relu, dense."""
    k1, k2, k3, k4 = fg.random.split(key, 4)
    side = image_size // 4

    def he(k: np.ndarray, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return fg.random.normal(k, shape, np.float32) * np.float32(np.sqrt(2.0 / fan_in))

    return {"c1": he(k1, (width, 1, 3, 3), 9), "b1": np.zeros(width, np.float32),
            "c2": he(k2, (2 * width, width, 3, 3), 9 * width),
            "b2": np.zeros(2 * width, np.float32),
            "w3": he(k3, (2 * width * side * side, 64), 2 * width * side * side),
            "b3": np.zeros(64, np.float32),
            "w4": he(k4, (64, 10), 64), "b4": np.zeros(10, np.float32)}


def logits_fn(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = nn.max_pool(nn.relu(nn.conv(x, params["c1"], params["b1"], padding="SAME")), 2)
    h = nn.max_pool(nn.relu(nn.conv(h, params["c2"], params["b2"], padding="SAME")), 2)
    h = nn.relu(nn.dense(nn.flatten(h), params["w3"], params["b3"]))
    return nn.dense(h, params["w4"], params["b4"])


def loss_fn(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return nn.cross_entropy(logits_fn(params, x), y)


def accuracy(predict, params, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    hits = sum(int(np.sum(np.argmax(predict(params, x[i:i + batch]), 1) == y[i:i + batch]))
               for i in range(0, len(x), batch))
    return hits / len(x)


def save_figure(path: str, history: dict[str, list[float]], x: np.ndarray, y: np.ndarray,
                predictions: np.ndarray) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 4.5))
    ax = fig.add_subplot(1, 3, 1)
    ax.plot(history["step"], history["loss"])
    ax.set(xlabel="step", ylabel="training loss (epoch mean)", yscale="log", title="loss")
    ax = fig.add_subplot(1, 3, 2)
    ax.plot(history["step"], history["test_accuracy"], marker="o")
    ax.set(xlabel="step", ylabel="held-out accuracy", title="accuracy")
    grid = fig.add_gridspec(4, 6, left=0.68, right=0.98, wspace=0.1, hspace=0.5)
    for i in range(min(24, len(x))):
        sub = fig.add_subplot(grid[i // 6, i % 6])
        sub.imshow(x[i, 0], cmap="gray_r")
        ok = predictions[i] == y[i]
        sub.set_title(f"{predictions[i]}" + ("" if ok else f" ({y[i]})"), fontsize=8,
                      color="black" if ok else "red")
        sub.axis("off")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", metavar="DIR", help="directory with MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (digits 30, MNIST 3)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="mnist_cnn.png", help="PNG path ('' for none)")
    parser.add_argument("--smoke", action="store_true", help="a few steps on a little data")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    if args.data:
        x_train, y_train, x_test, y_test = load_mnist(args.data)
    else:
        x_train, y_train, x_test, y_test = load_digits(args.seed)
    epochs = args.epochs if args.epochs is not None else (3 if args.data else 30)
    if args.smoke:
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:64], y_test[:64]
        epochs = 1
    print(f"{len(x_train)} training and {len(x_test)} held-out images of size "
          f"{x_train.shape[2]}x{x_train.shape[3]}")

    key = fg.random.key(args.seed)
    key, init_key = fg.random.split(key)
    params = init(init_key, x_train.shape[2])
    optimizer = fg.optim.adam(args.lr)
    opt_state = optimizer.init(params)
    grad_fn = fg.jit(fg.value_and_grad(loss_fn))
    predict = fg.jit(logits_fn)

    steps_per_epoch = len(x_train) // args.batch_size
    history: dict[str, list[float]] = {"step": [], "loss": [], "test_accuracy": []}
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="epochs", disable=not sys.stderr.isatty() and args.smoke)
    for epoch in bar:
        key, perm_key = fg.random.split(fg.random.fold_in(key, epoch))
        order = np.argsort(fg.random.uniform(perm_key, (len(x_train),)))
        losses = []
        for i in range(steps_per_epoch):
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            loss, grads = grad_fn(params, x_train[idx], y_train[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = fg.optim.apply_updates(params, updates)
            losses.append(float(loss))
        test_acc = accuracy(predict, params, x_test, y_test)
        history["step"].append((epoch + 1) * steps_per_epoch)
        history["loss"].append(float(np.mean(losses)))
        history["test_accuracy"].append(test_acc)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}", test_acc=f"{test_acc:.3f}")
    elapsed = time.perf_counter() - start
    steps = epochs * steps_per_epoch
    test_acc = history["test_accuracy"][-1]
    print(f"held-out accuracy {test_acc:.4f} after {epochs} epochs ({steps} steps); "
          f"training took {elapsed:.1f} s ({1e3 * elapsed / max(steps, 1):.2f} ms per step, "
          "compilation and evaluation included)")
    if args.plot:
        shown = x_test[:24]
        save_figure(args.plot, history, shown, y_test[:24],
                    np.argmax(predict(params, shown), 1))
        print(f"saved the curves and test predictions to {os.path.abspath(args.plot)}")
    return test_acc


if __name__ == "__main__":
    main()
