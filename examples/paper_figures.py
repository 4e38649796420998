"""The paper's Figures 1 and 2 (docs/theory.md §6) as phase diagrams, under three readings:
the literal protocol (A ~ N(0,1), descent with η = 1), `operator_scale="sqrt_n"`
(A ~ N(0, 1/n), same descent), and the gradient flow of the theorem (A ~ N(0,1)).

    python examples/paper_figures.py [--out docs] [--full]

Without --full it runs the quick presets (3 × 3 cells, 20 seeds, 5000 steps; a few minutes
in all, the flow being the slow part); with --full the paper's 7 × 7 and 7 × 6 grids with
50 seeds and 25000 steps. Sweeps are stored under runs/ and resume if interrupted. Writes
OUT/{fig1,fig2}_{literal,sqrt_n,flow}.png and prints each frequency table.
"""

import argparse
from pathlib import Path

import wideDIP
from wideDIP._cli import sweep_summary

READINGS = {
    "literal": {},
    "sqrt_n": {"operator_scale": "sqrt_n"},
    "flow": {"method": "flow"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--full", action="store_true", help="the paper's grids instead of the quick presets")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for figure in ("fig1", "fig2"):
        name = figure if arguments.full else f"{figure}-quick"
        for reading, overrides in READINGS.items():
            base, axes = wideDIP.preset(name, **overrides)
            result = wideDIP.sweep(base, axes, Path("runs") / f"{name}-{reading}", progress=False)
            result.plot(out / f"{figure}_{reading}", formats=("png",))
            print(f"{name}, {reading}: {base.method}, A:{base.operator_scale}")
            print(sweep_summary(result), "\n")


if __name__ == "__main__":
    main()
