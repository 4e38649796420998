"""The NTK along the runs and Theorem 2.1 as a per-run certificate (docs/theory.md §3, §5).

    python examples/ntk_tracking.py [--out DIR] [--seeds 50]

Writes its figures into DIR (examples/out/ unless given).

1. k < n (m = 10, n = 200, k = 100, gradient flow): λ_min(K) = 0 for every seed, yet
   λ_min(H) > 0 and most seeds converge. Figure DIR/ntk_k_below_n.png.
2. How loose the theorem is: for a few widths, the fraction of seeds certified by (5), by the
   observation-space certificate, and the fraction that converged; in the paper's setting
   and in a tiny problem where the certificates do fire. Figure DIR/ntk_certified.png.
"""

import argparse
from pathlib import Path

import _command_line  # next to this file
import numpy as np

import wideDIP


def narrower_than_n(out: Path, seeds: int = 50) -> wideDIP.SimulationResult:
    """Part 1: m = 10, n = 200, k = 100 under the flow up to t = 300, NTK tracked; draws
    OUT/ntk_k_below_n.png."""
    narrow = wideDIP.Config(m=10, n=200, d=500, k=100, method="flow", t_max=300.0, seeds=seeds, track_ntk=True)
    result = wideDIP.simulate(narrow, progress=False)
    result.plot_ntk(out / "ntk_k_below_n.png")
    return result


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    arguments = _command_line.parser(__doc__)
    _command_line.add_out(arguments)
    arguments.add_argument("--seeds", type=int, default=50, help="seeds per run (default 50)")
    return arguments


def main() -> None:
    arguments = parser().parse_args()
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)

    result = narrower_than_n(out, arguments.seeds)
    print(result.summary())
    converged = result.converged
    print(
        f"k < n: lambda_min(K) is 0 for all seeds (max over the run: {np.nanmax(result.ntk['min_lambda_K']):.3g}); "
        f"lambda_min(H) along converged runs: min {np.nanmin(result.ntk['min_lambda_H'][converged]):.3g}, "
        f"at W(0) median {np.median(result.min_lambda_H):.3g}\n"
    )

    settings = {
        "paper: sigmoid, A ~ N(0,1), m=10, n=100": (
            wideDIP.Config(m=10, n=100, d=500, method="flow", t_max=1000.0, track_ntk=True),
            (100, 500, 2000, 10000),
        ),
        "tiny: tanh, Rademacher V, m=1, n=2": (
            wideDIP.Config(
                m=1,
                n=2,
                d=5,
                activation="tanh",
                v_law="rademacher",
                method="flow",
                t_max=1000.0,
                track_ntk=True,
                dtype="float64",
            ),
            (20, 100, 500, 2000),
        ),
    }
    print(f"{'setting':<42}{'k':>7}{'certified (5)':>15}{'certified obs.':>16}{'converged':>11}{'k asked, median':>17}")
    for name, (base, widths) in settings.items():
        for k in widths:
            r = wideDIP.simulate(base.replace(k=k, seeds=arguments.seeds), progress=False)
            print(
                f"{name:<42}{k:>7}{r.certified.mean():>15.2f}{r.certified_observation.mean():>16.2f}"
                f"{r.converged.mean():>11.2f}{np.median(r.theory.required_width):>17.3g}"
            )
        if name.startswith("tiny"):
            r.plot_ntk(out / "ntk_certified.png")


if __name__ == "__main__":
    main()
