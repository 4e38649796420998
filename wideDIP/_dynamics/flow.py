"""The gradient flow (3) and its solvers (docs/theory.md §10)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
from jaxtyping import Array, Float

from .base import ContinuousDynamics, LinearInGradients, exact_number

SOLVERS: dict[str, str] = {
    "auto": "Tsit5",  # its explicit leg; `_integrate.continuous` continues the seeds it leaves unfinished
    "tsit5": "Tsit5",
    "dopri5": "Dopri5",
    "dopri8": "Dopri8",
    "kvaerno5": "Kvaerno5",
    "euler": "Euler",
}
"""The flow's solvers by `Config.solver` name: diffrax class names (diffrax loads only to integrate)."""


class GradientFlow(ContinuousDynamics, LinearInGradients):
    """The gradient flow `θ' = −∇L(θ)` (3), integrated by `solver` (docs/theory.md §10): "auto"
    (Tsit5, the seeds it cannot finish continued by Kvaerno5 in float64), tsit5, dopri5, dopri8,
    kvaerno5, or euler (constant step `step_size`, unused by the others: gradient descent)."""

    name: ClassVar[str] = "flow"
    title: ClassVar[str] = "gradient flow"
    config_fields: ClassVar[tuple[str, ...]] = (
        "steps",
        "step_size",
        "solver",
        "rtol",
        "atol",
        "t_max",
        "max_solver_steps",
    )
    rtol: Float[Array, ""] = eqx.field(converter=exact_number)
    atol: Float[Array, ""] = eqx.field(converter=exact_number)
    time_budget: Float[Array, ""] = eqx.field(converter=exact_number)
    solver: str = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    progress: bool = eqx.field(static=True, default=False)
    """Whether diffrax shows its progress bar (one host callback: one device only)."""
    stop_at_threshold: bool = eqx.field(static=True, default=True)
    """False: integrate on past the threshold (a second leg, compiled only then)."""
    structured_solves: bool = eqx.field(static=True, default=True)
    """The implicit solvers' Newton steps by the loss's structure (`_integrate.newton`, docs/theory.md
    §10); False: by diffrax's dense LU (the reference they are tested and measured against)."""

    @classmethod
    def from_fields(cls, *, steps, step_size, solver, rtol, atol, t_max, max_solver_steps) -> GradientFlow:
        horizon = steps * step_size if t_max is None else t_max
        return cls(steps, step_size, rtol, atol, horizon, solver, max_solver_steps)

    @property
    def horizon(self) -> Float[Array, ""]:
        return self.time_budget

    @property
    def label(self) -> str:
        return f"flow ({self.solver})"
