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
MOMENTUM_RULES = ["sgd", "heavy_ball", "nesterov"]
_INERTIAL = Config(m=10, n=100, d=500, optimizer="heavy_ball")  # its `momentum` option goes to the momentum cells

PRESETS: dict[str, tuple[Config, dict[str, list[Any]]]] = {
    "fig1": (Config(m=10, d=500), {"k": WIDTHS, "n": WIDTHS}),
    "fig2": (Config(n=100, d=500), {"k": WIDTHS, "m": [2, 5, 10, 20, 50, 100]}),
    "fig1-quick": (Config(m=10, d=500, seeds=20, steps=5000), {"k": [20, 100, 500], "n": [20, 100, 500]}),
    "fig2-quick": (Config(n=100, d=500, seeds=20, steps=5000), {"k": [20, 100, 500], "m": [2, 10, 50]}),
    "kappa": (_CONDITIONED, {"k": KAPPA_WIDTHS, "condition_number": KAPPAS}),
    "kappa-quick": (_CONDITIONED.replace(seeds=20), {"k": [10, 100, 1000], "condition_number": [1.0, 10.0, 100.0]}),
    "noise": (_NOISY, {"k": WIDTHS, "noise": NOISES}),
    "noise-quick": (_NOISY.replace(seeds=20, steps=5000), {"k": [20, 100, 500], "noise": [0.0, 0.1, 1.0]}),
    "inertia": (_INERTIAL, {"k": WIDTHS, "optimizer": MOMENTUM_RULES}),
    "inertia-quick": (_INERTIAL.replace(seeds=20, steps=5000), {"k": [20, 100, 500], "optimizer": MOMENTUM_RULES}),
}
"""Figure 1: k × n at m = 10; Figure 2: k × m at n = 100; κ: k × κ(A) with the "conditioned"
operator (docs/theory.md §8), `operator_scale="sqrt_n"` keeping descent with η = 1 below its
stability limit; noise: k × σ (§7) with every seed running its budget, to observe the noise being
fitted and the early-stopping time; inertia: k × the update rule (gradient descent, heavy ball and
Nesterov with μ = 0.9, §11) at m = 10, n = 100, η = 1, where the heavy ball's time `τ √η` is descent's
`τ η` (Adam, whose learning rate is not descent's step, is swept as `fig1 --optimizer adam
--step-size 0.01`). All at d = 500 with the paper's protocol (sigmoid, A and V ~
N(0,1), descent with η = 1, threshold 1e-7, 25000 steps, 50 seeds); the quick ones: 3 × 3 cells,
20 seeds, 5000 steps (κ: 25000)."""


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
