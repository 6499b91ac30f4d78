"""The README's main example runs and learns."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The examples import the funcgrad of this checkout, not whichever one is installed.
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_train_mlp_example_learns():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_mlp.py")],
                         capture_output=True, text=True, timeout=120, check=True, env=ENV).stdout
    accuracies = [float(a) for a in re.findall(r"accuracy (\d\.\d+)", out)]
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert len(accuracies) == 7
    assert accuracies[-1] >= 0.95
    assert losses[-1] < losses[0] / 5
    assert "dot_general" in out  # the printed IR


def test_train_cnn_example_learns():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_cnn.py")],
                         capture_output=True, text=True, timeout=300, check=True, env=ENV).stdout
    accuracies = [float(a) for a in re.findall(r"test accuracy (\d\.\d+)", out)]
    assert len(accuracies) == 8
    assert max(accuracies[-2:]) >= 0.9
    assert "conv_general_dilated" in out
