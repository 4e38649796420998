"""Every figure the docs show, drawn again by the example (or the library call) the page
names next to it: one producer per figure, called from here.

    python examples/gallery.py [--quick] [--out DIR]   # into DIR (examples/out/gallery/ unless given)
    python examples/gallery.py --docs                  # into docs/: the docs' figures themselves

Without --quick: the settings the docs report (the paper's Figure 1, the κ and operator
sweeps at 50 seeds: most of an hour on this project's 2-core machine; the sweeps are kept under
runs/ and resume, and the κ and operator sweeps share their directories with
`examples/operators.py`). --docs writes these over the docs' figures in docs/ (the only way
an example writes there; not with --quick or --out). With --quick: the same figures from small
grids, few seeds and short budgets, in a few minutes — a check that every figure is still
drawn, not figures to publish. Phase diagrams are drawn at `DOCS_DPI` and the run figures
resampled to it (the library's PNGs are at 300 dpi, for print), which keeps each PNG under
about 200 kB.
"""

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import _command_line  # the examples next to this file
import custom_network
import early_stopping
import flow_vs_descent
import images
import ntk_tracking
import operators
import paper_figures

import wideDIP

DOCS_DPI = 100
"""Resolution of the docs' figures in docs/ (and of the gallery's)."""


def fig1(out: Path, quick: bool, runs: Path | None, **overrides) -> wideDIP.SweepResult:
    """The paper's Figure 1 as `widedip sweep fig1` computes it (fig1-quick with --quick), drawn to OUT/fig1.png."""
    name = "fig1-quick" if quick else "fig1"
    base, axes = wideDIP.preset(name, **overrides)
    result = wideDIP.sweep(base, axes, None if runs is None else runs / name, progress=False)
    result.plot(out / "fig1", formats=("png",), dpi=DOCS_DPI)
    return result


def producers(out: Path, quick: bool) -> dict[str, Callable[[], object]]:
    """The docs' figures (file names in `out`, the first of each group being the one shown) and
    what draws them."""
    runs = None if quick else _command_line.RUNS  # quick sweeps are not kept: their settings are not the docs'
    small = {"seeds": 8, "steps": 1000} if quick else {}
    seeds = 8 if quick else 50
    return {
        "flow_vs_descent_n500.png": lambda: flow_vs_descent.flow_vs_descent(500, out, seeds, 2000 if quick else 25000),
        "ntk_k_below_n.png": lambda: ntk_tracking.narrower_than_n(out, seeds),
        "early_stopping.png": lambda: early_stopping.run_to_the_end(early_stopping.settings(quick)[0][1], out),
        "custom_network.png": lambda: custom_network.train(out, 4 if quick else 10),
        "fig1.png": lambda: fig1(out, quick, runs, **small),
        "fig1_literal.png fig1_sqrt_n.png fig1_flow.png fig2_literal.png fig2_sqrt_n.png fig2_flow.png": lambda: (
            paper_figures.draw(out, runs=runs, dpi=DOCS_DPI, **small)
        ),
        "kappa.png": lambda: operators.kappa_methods(out, quick, runs, DOCS_DPI, **small),
        "operators.png": lambda: operators.operator_grid(out, quick, runs, DOCS_DPI, **small),
        "images_denoising.png images_inpainting.png images_alignment.png": lambda: images.draw(
            out, quick, None if runs is None else runs / "images"
        ),
    }


def at_docs_resolution(path: Path) -> None:
    """Resample a PNG drawn at a higher resolution (the run figures: 300 dpi, for print) to `DOCS_DPI`."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        dpi = image.info.get("dpi", (DOCS_DPI,))[0]
        if dpi <= DOCS_DPI * 1.01:
            return
        scale = DOCS_DPI / dpi
        smaller = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    smaller.save(path, dpi=(DOCS_DPI, DOCS_DPI), optimize=True)


def parser() -> argparse.ArgumentParser:
    """This example's command line: `--out DIR` or `--docs`, and `--quick`."""
    arguments = _command_line.parser(__doc__)
    where = arguments.add_mutually_exclusive_group()
    _command_line.add_out(where, _command_line.RUN_FOLDER / "gallery")
    where.add_argument(
        "--docs",
        action="store_true",
        help="write into docs/: the docs' figures, at the docs' settings (not with --quick)",
    )
    arguments.add_argument("--quick", action="store_true", help="small grids, few seeds, short budgets")
    return arguments


def main() -> None:
    command_line = parser()
    arguments = command_line.parse_args()
    if arguments.docs and arguments.quick:
        command_line.error("--docs redraws the docs' figures at the docs' settings: not with --quick")
    out = _command_line.DOCS if arguments.docs else arguments.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for names, produce in producers(out, arguments.quick).items():
        begun = time.perf_counter()
        produce()
        for name in names.split():
            at_docs_resolution(out / name)
        sizes = ", ".join(f"{name} {(out / name).stat().st_size / 1000:.0f} kB" for name in names.split())
        print(f"{time.perf_counter() - begun:6.0f} s  {sizes}", flush=True)
    print(f"{time.perf_counter() - started:6.0f} s in all; figures in {out}")


if __name__ == "__main__":
    main()
