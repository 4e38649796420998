"""The paper's experiments as sweep presets (docs/theory.md §6: protocol and default grids)."""

from __future__ import annotations

from typing import Any

from ._config import Config, value_list

WIDTHS = [10, 20, 50, 100, 200, 500, 1000]
KAPPA_WIDTHS = [10, 30, 100, 300, 1000, 3000, 10000]
KAPPAS = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
_CONDITIONED = Config(m=10, n=100, d=500, operator="conditioned", operator_scale="sqrt_n")
NOISES = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]
_NOISY = Config(m=10, n=100, d=500, stop_at_threshold=False)

PRESETS: dict[str, tuple[Config, dict[str, list[Any]]]] = {
    "fig1": (Config(m=10, d=500), {"k": WIDTHS, "n": WIDTHS}),
    "fig2": (Config(n=100, d=500), {"k": WIDTHS, "m": [2, 5, 10, 20, 50, 100]}),
    "fig1-quick": (Config(m=10, d=500, seeds=20, steps=5000), {"k": [20, 100, 500], "n": [20, 100, 500]}),
    "fig2-quick": (Config(n=100, d=500, seeds=20, steps=5000), {"k": [20, 100, 500], "m": [2, 10, 50]}),
    "kappa": (_CONDITIONED, {"k": KAPPA_WIDTHS, "condition_number": KAPPAS}),
    "kappa-quick": (_CONDITIONED.replace(seeds=20), {"k": [10, 100, 1000], "condition_number": [1.0, 10.0, 100.0]}),
    "noise": (_NOISY, {"k": WIDTHS, "noise": NOISES}),
    "noise-quick": (_NOISY.replace(seeds=20, steps=5000), {"k": [20, 100, 500], "noise": [0.0, 0.1, 1.0]}),
}
"""Figure 1: k × n at m = 10; Figure 2: k × m at n = 100; d = 500; the paper's protocol
(sigmoid, A and V ~ N(0,1), descent with η = 1, threshold 1e-7, 25000 steps, 50 seeds).
The quick presets: 3 × 3 cells, 20 seeds, 5000 steps (fig1, fig2).

κ: k × κ(A) at m = 10, n = 100, d = 500 with the "conditioned" operator (docs/theory.md §8),
`‖A‖ = 1 + √(m/n)` (`operator_scale="sqrt_n"`, so that descent with η = 1 stays below its
stability limit and measures the flow), `σ_A = ‖A‖/κ`; the paper's other settings. The quick
one: 3 × 3 cells, 20 seeds.

noise: k × noise level σ (docs/theory.md §7) at m = 10, n = 100, d = 500, the paper's other
settings, σ ∈ {0, 0.01, 0.03, 0.1, 0.3, 1}, with `stop_at_threshold=False`: every seed runs the
25000 steps, so that the noise being fitted and the early-stopping time are observed. The
quick one: k ∈ {20, 100, 500} × σ ∈ {0, 0.1, 1}, 20 seeds, 5000 steps."""


def preset(name: str, **overrides: Any) -> tuple[Config, dict[str, list[Any]]]:
    """The base config and axes of a preset; an override named like an axis replaces that
    grid (`k=[10, 100]`), any other overrides a Config field (`method="flow"`)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {name!r}")
    base, axes = PRESETS[name]
    grids = {
        key: value_list(value, f"preset {name!r}: {key} is an axis of this preset and", f"{key}=[{value!r}]")
        for key, value in overrides.items()
        if key in axes
    }
    fields = {key: value for key, value in overrides.items() if key not in axes}
    return base.replace(**fields), {**axes, **grids}
