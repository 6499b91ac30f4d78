"""The examples run (``--smoke``), the digits CNN reaches 97% held-out, the README's code runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _run(args: list[str], cwd: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py")))
def test_example_smoke(name: str, tmp_path) -> None:
    path = os.path.join(EXAMPLES, name)
    assert "--smoke" in _run([path, "--help"], str(tmp_path))
    _run([path, "--smoke"], str(tmp_path))


def test_mnist_cnn_digits_accuracy(tmp_path) -> None:
    sys.path.insert(0, EXAMPLES)
    try:
        import mnist_cnn
    finally:
        sys.path.remove(EXAMPLES)
    png = tmp_path / "digits.png"
    accuracy = mnist_cnn.main(["--plot", str(png)])
    assert accuracy >= 0.97
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mnist_cnn_reads_idx_files(tmp_path) -> None:
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        head = struct.pack(">HBBIII", 0, 8, 3, n, 28, 28)
        with gzip.open(tmp_path / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(head + images.tobytes())
        (tmp_path / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">HBBI", 0, 8, 1, n) + labels.tobytes())
        if split == "train":
            train_images, train_labels = images, labels
    sys.path.insert(0, EXAMPLES)
    try:
        import mnist_cnn
    finally:
        sys.path.remove(EXAMPLES)
    x_train, y_train, x_test, y_test = mnist_cnn.load_mnist(str(tmp_path))
    assert x_train.shape == (5, 1, 28, 28) and x_test.shape == (3, 1, 28, 28)
    np.testing.assert_allclose(x_train[:, 0] * 255, train_images, atol=1e-3)
    np.testing.assert_array_equal(y_train, train_labels)


def _python_blocks(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


DOCS = [os.path.join(ROOT, "README.md")] + sorted(
    os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
    if f.endswith(".md")) if os.path.isdir(os.path.join(ROOT, "docs")) else [
    os.path.join(ROOT, "README.md")]


@pytest.mark.parametrize("path", DOCS, ids=os.path.basename)
def test_markdown_python_blocks_run(path: str, tmp_path) -> None:
    blocks = _python_blocks(path)
    assert blocks, f"{path} has no python code block"
    script = tmp_path / "blocks.py"
    script.write_text("\n".join(blocks))   # one namespace: later blocks may use earlier ones
    _run([str(script)], str(tmp_path))


def test_dp_sgd_reaches_accuracy_under_clipping_and_noise() -> None:
    sys.path.insert(0, EXAMPLES)
    try:
        import per_example_grads
    finally:
        sys.path.remove(EXAMPLES)
    assert per_example_grads.main(["--epochs", "10"]) >= 0.9
