"""What jit compiled: the traced IR, the generated NumPy source and its cost, for a train step.

Run: python examples/inspect_jit.py [--out DIR] [--smoke]

``fg.make_jaxpr`` shows the program funcgrad traced (one equation per primitive, the user's
line beside each with ``source_info=True``); ``fg.jit(f).lower(*args)`` shows what jit made of
it: ``.as_text()`` the optimised IR, ``.source()`` the generated Python/NumPy function (each
group of lines under a comment naming your line, backward lines marked ``[vjp of ...]``), and
``.cost()`` the FLOPs, bytes and NumPy calls per equation. The source is also written to
``DIR/train_step.py`` so you can read it in an editor; tracebacks and pdb show its lines.
``.to_dot()`` / ``.to_mermaid()`` draw the program (fused regions as clusters, forward blue,
backward red, your lines as tooltips): ``DIR/train_step.dot`` always, and
``DIR/train_step.svg`` when the ``graphviz`` package and its ``dot`` program are installed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def mlp_loss(params: dict[str, Any], x: Any, y: Any) -> Any:
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    return fg.nn.cross_entropy(logits, y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for train_step.py")
    parser.add_argument("--smoke", action="store_true", help="small shapes, for the tests")
    args = parser.parse_args(argv)
    batch, d_in, d_hidden = (4, 3, 5) if args.smoke else (64, 784, 128)
    key = fg.random.key(0)
    k1, k2 = fg.random.split(key)
    init = fg.nn.initializers.glorot_normal()
    params = {"w1": init(k1, (d_in, d_hidden)), "b1": np.zeros(d_hidden),
              "w2": init(k2, (d_hidden, 10)), "b2": np.zeros(10)}
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(batch, d_in)), rng.integers(0, 10, batch)

    print("== make_jaxpr(mlp_loss): the traced program, with your lines")
    print(fg.make_jaxpr(mlp_loss)(params, x, y).pretty_print(source_info=True))

    step = fg.jit(fg.value_and_grad(mlp_loss))
    lowered = step.lower(params, x, y)
    print("\n== jit(value_and_grad(mlp_loss)).lower(...).source(): the generated NumPy")
    source = lowered.source()
    print(source)
    print("== .cost(): FLOPs, bytes and NumPy calls per equation")
    print(lowered.cost())

    path = os.path.join(args.out, "train_step.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    dot_path = os.path.join(args.out, "train_step.dot")
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(lowered.to_dot())
    print(f"the program's picture: {dot_path}", end="")
    try:
        import graphviz
        svg = graphviz.Source(lowered.to_dot()).render(
            os.path.join(args.out, "train_step"), format="svg", cleanup=True)
        print(f" and {svg}")
    except Exception as e:  # noqa: BLE001 - the package or its dot program may be missing
        print(f" (no SVG: {type(e).__name__}; install graphviz and its dot program)")
    loss, grads = step(params, x, y)
    eager_loss, eager_grads = fg.value_and_grad(mlp_loss)(params, x, y)
    assert np.allclose(loss, eager_loss)
    assert all(np.allclose(a, b) for a, b in zip(fg.tree_util.tree_leaves(grads),
                                                 fg.tree_util.tree_leaves(eager_grads),
                                                     strict=True))
    print(f"jit and eager agree (loss {float(loss):.6f}); the source is in {path}; "
          f"cache: {step.cache_info()}")


if __name__ == "__main__":
    main()
