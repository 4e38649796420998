"""The paper's Figures 1 and 2 (docs/theory.md §6) as phase diagrams, under three readings:
the literal protocol (A ~ N(0,1), descent with η = 1), `operator_scale="sqrt_n"`
(A ~ N(0, 1/n), same descent), and the gradient flow of the theorem (A ~ N(0,1)).

    python examples/paper_figures.py [--out DIR] [--full] [--dpi 300]

Without --full it runs the quick presets (3 × 3 cells, 20 seeds, 5000 steps; a few minutes
in all, the flow being the slow part); with --full the paper's 7 × 7 and 7 × 6 grids with
50 seeds and 25000 steps. Sweeps are stored under runs/ and resume if interrupted. Writes
DIR/{fig1,fig2}_{literal,sqrt_n,flow}.png (DIR: examples/out/ unless given) and prints each
frequency table, headed by the settings it holds fixed. `python examples/gallery.py --docs`
draws these figures into docs/ through `draw`.
"""

import argparse
from pathlib import Path

import _command_line  # next to this file

import wideDIP
from wideDIP._cli import sweep_summary
from wideDIP._figures.plots import PRINT_DPI

READINGS = {
    "literal": {},
    "sqrt_n": {"operator_scale": "sqrt_n"},
    "flow": {"method": "flow"},
}


def draw(
    out: Path, full: bool = False, runs: Path | None = _command_line.RUNS, dpi: int = PRINT_DPI, **overrides
) -> dict[str, wideDIP.SweepResult]:
    """Both figures under the three readings, each drawn to OUT/{fig1,fig2}_{reading}.png at `dpi`
    and kept under `runs` (None: not kept); `overrides` (e.g. seeds=5) change every preset."""
    results = {}
    for figure in ("fig1", "fig2"):
        name = figure if full else f"{figure}-quick"
        for reading, changes in READINGS.items():
            base, axes = wideDIP.preset(name, **changes, **overrides)
            result = wideDIP.sweep(base, axes, None if runs is None else runs / f"{name}-{reading}", progress=False)
            result.plot(out / f"{figure}_{reading}", formats=("png",), dpi=dpi)
            results[f"{name}, {reading}"] = result
    return results


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    return _command_line.figure_parser(__doc__, "--full", "the paper's grids instead of the quick presets")


def main() -> None:
    arguments = parser().parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    for name, result in draw(arguments.out, arguments.full, dpi=arguments.dpi).items():
        print(f"{name}:")
        print(sweep_summary(result), "\n")


if __name__ == "__main__":
    main()
