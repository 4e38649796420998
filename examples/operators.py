"""Forward operators (docs/theory.md §8): how convergence depends on κ(A), and Figure 1 for
inpainting, partial DCT and blur.

    python examples/operators.py [--out DIR] [--quick] [--dpi 300]

1. The `kappa` preset (k × κ(A) with the "conditioned" operator, m = 10, n = 100, d = 500,
   ‖A‖ = 1 + √(m/n), 50 seeds, 25000 steps of descent with η = 1) under descent and under
   the gradient flow over the same horizon t = 25000, side by side: DIR/kappa.png, and the
   tables of the convergence frequency and of the median time to the threshold.
2. The same k × κ cells with a horizon that grows like κ²: the gradient flow to
   t = 25000 (κ/10)² for κ = 30 and 100 (2.25e5 and 2.5e6), so that the slowest direction of
   the residual, whose rate is ∝ σ_A² = ‖A‖²/κ², has as many e-folds as at κ = 10: does the
   width needed still move with κ once time is not the limit?
3. k × n at m = 10 for inpainting, partial DCT and blur (w = 2), one panel each, 50 seeds,
   25000 steps: DIR/operators.png, and the tables of the frequency, the median realised κ(A)
   and the median signal error ‖x − x̄‖/‖x̄‖ at the end.

About 28 minutes of wall time (15 of CPU) on this project's 2-core machine; --quick (the
kappa-quick preset, one long-horizon value, 3 × 3 grids, 20 seeds) about 2.5. DIR is
examples/out/ unless given. Sweeps are stored under runs/ and resume if interrupted.
`python examples/gallery.py --docs` draws the two figures into docs/ through `kappa_methods` and
`operator_grid`.
"""

import argparse
import time
from pathlib import Path

import _command_line  # next to this file
import numpy as np

import wideDIP
from wideDIP._cli import sweep_summary
from wideDIP._figures.plots import PRINT_DPI


def table(result, statistic: str, quartile: str | None = None, fmt: str = "{:>9.3g}") -> str:
    """One statistic of a sweep (`quartile`: "q25", "median" or "q75" of a quartile statistic) as
    rows = first axis, columns = the others."""
    values = result.statistic(statistic, quartile).reshape(result.shape[0], -1)
    names = list(result.axes)
    lines = [f"{statistic}{'' if quartile is None else f' ({quartile})'}: rows {names[0]}, columns {names[1:]}"]
    for value, row in zip(result.axes[names[0]], values):
        lines.append(f"{value!s:>8} " + " ".join("        -" if np.isnan(v) else fmt.format(v) for v in row))
    return "\n".join(lines)


def kappa_methods(
    out: Path, quick: bool = False, runs: Path | None = _command_line.RUNS, dpi: int = PRINT_DPI, **overrides
) -> wideDIP.SweepResult:
    """Part 1: the kappa preset (kappa-quick if `quick`; `overrides` change it) under descent and
    the flow, drawn to OUT/kappa.png at `dpi`; kept under `runs` (None: not kept)."""
    suffix = "-quick" if quick else ""
    base, axes = wideDIP.preset("kappa" + suffix, **overrides)
    kappa = wideDIP.sweep(
        base,
        {**axes, "method": ["descent", "flow"]},
        None if runs is None else runs / f"kappa{suffix}-both",
        progress=False,
    )
    kappa.plot(out / "kappa", formats=("png",), dpi=dpi)
    return kappa


def operator_grid(
    out: Path, quick: bool = False, runs: Path | None = _command_line.RUNS, dpi: int = PRINT_DPI, **overrides
) -> wideDIP.SweepResult:
    """Part 3: k × n × operator (inpainting, partial DCT, blur) at m = 10, drawn to
    OUT/operators.png at `dpi`; kept under `runs` (None: not kept); `overrides` change the base."""
    widths = [10, 100, 1000] if quick else [10, 30, 100, 300, 1000]
    base = wideDIP.Config(m=10, d=500, seeds=20 if quick else 50).replace(**overrides)
    axes = {"k": widths, "n": widths, "operator": ["inpainting", "dct", "blur"]}
    suffix = "-quick" if quick else ""
    operators = wideDIP.sweep(base, axes, None if runs is None else runs / f"operators{suffix}", progress=False)
    operators.plot(out / "operators", formats=("png",), dpi=dpi)
    return operators


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    return _command_line.figure_parser(__doc__, "--quick", "small grids, 20 seeds")


def main() -> None:
    arguments = parser().parse_args()
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if arguments.quick else ""

    started = time.perf_counter()
    kappa = kappa_methods(out, arguments.quick, dpi=arguments.dpi)
    print(f"1. kappa{suffix} (descent and flow), {time.perf_counter() - started:.0f} s")
    print(sweep_summary(kappa))
    print(table(kappa, "time_to_threshold", "median"))
    print(table(kappa, "median_kappa_A"))
    print(table(kappa, "median_stability"), "\n")

    started = time.perf_counter()
    print("2. flow with the horizon t = 25000 (κ/10)²: frequency, median time to the threshold")
    widths = [100, 1000] if arguments.quick else [30, 100, 300, 1000]
    for condition_number in [30.0] if arguments.quick else [30.0, 100.0]:
        base, _ = wideDIP.preset("kappa" + suffix)
        base = base.replace(
            method="flow", condition_number=condition_number, t_max=25000 * (condition_number / 10) ** 2
        )
        long = wideDIP.sweep(
            base, {"k": widths}, _command_line.RUNS / f"kappa{suffix}-long-{condition_number:g}", progress=False
        )
        for k, frequency, median in zip(widths, long.frequency, long.statistic("time_to_threshold", "median")):
            print(
                f"   κ = {condition_number:g}, t_max = {base.t_max:.3g}, k = {k:>5}: frequency {frequency:.2f}, "
                f"median time {median:.3g}, outcomes "
                + ", ".join(f"{o} {int(long.counts(o)[widths.index(k)])}" for o in ("stalled", "solver_failed"))
            )
    print(f"   ({time.perf_counter() - started:.0f} s)\n")

    started = time.perf_counter()
    operators = operator_grid(out, arguments.quick, dpi=arguments.dpi)
    print(f"3. k x n x operator, m = 10, {time.perf_counter() - started:.0f} s")
    print(sweep_summary(operators))
    print(table(operators, "median_kappa_A"))
    print(table(operators, "median_final_signal_error"))
    print(table(operators, "time_to_threshold", "median"))


if __name__ == "__main__":
    main()
