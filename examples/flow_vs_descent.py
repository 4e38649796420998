"""Gradient flow vs gradient descent in the paper's setting (docs/theory.md §6: sigmoid, A ~ N(0,1),
η = 1) at m = 10, k = 500, for a small signal (n = 20) and a large one (n = 500).

    python examples/flow_vs_descent.py [--out DIR] [--seeds 50] [--steps 25000]

Writes DIR/flow_vs_descent_n20.png and _n500.png (DIR: examples/out/ unless given) and prints,
per n and step size, the stability number η λ_max(H(W(0))) (§5: above 2 the linearised descent
step is unstable).
"""

import argparse
from pathlib import Path

import _command_line  # next to this file
import numpy as np

import wideDIP


def flow_vs_descent(n: int, out: Path, seeds: int = 50, steps: int = 25000) -> wideDIP.ComparisonResult:
    """The flow and descent with η = 1 and 0.1 from the same draws, at signal size `n`; draws
    OUT/flow_vs_descent_n{n}.png."""
    config = wideDIP.Config(m=10, n=n, d=500, k=500, seeds=seeds, steps=steps)
    result = wideDIP.compare(config, step_sizes=(1.0, 0.1), progress=False)
    result.plot(out / f"flow_vs_descent_n{n}.png")
    return result


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    arguments = _command_line.parser(__doc__)
    _command_line.add_out(arguments)
    arguments.add_argument("--seeds", type=int, default=50, help="seeds per comparison (default 50)")
    arguments.add_argument("--steps", type=int, default=25000, help="descent steps at η = 1 (default 25000)")
    return arguments


def main() -> None:
    arguments = parser().parse_args()
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)
    for n in (20, 500):
        result = flow_vs_descent(n, out, arguments.seeds, arguments.steps)
        print(result.summary())
        for eta, stability in zip(result.step_sizes, result.stability):
            print(
                f"n={n} eta={eta:g}: eta*lambda_max(H(0)) median {np.median(stability):.3g}, "
                f"range [{stability.min():.3g}, {stability.max():.3g}], below 2 for {(stability < 2).mean():.0%}"
            )
        print(f"figure: {out / f'flow_vs_descent_n{n}.png'}\n")


if __name__ == "__main__":
    main()
