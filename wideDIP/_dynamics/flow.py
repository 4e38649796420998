"""The gradient flow (3) and its solvers (docs/theory.md §10)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

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

    def initial_state(self, loss: eqx.Module, parameters: PyTree) -> PyTree:
        """The integrated state at t = 0 from one seed's `θ(0) = parameters`: θ itself (a continuous
        dynamics of its own, `InertialFlow`, adds a velocity)."""
        return parameters

    def vector_field(self, loss: eqx.Module, state: PyTree) -> PyTree:
        """The state's time derivative under one seed's `loss`: `−∇L(θ)` (3)."""
        return jax.tree.map(jnp.negative, loss.loss_and_gradient(state)[1])

    def position(self, state: PyTree) -> PyTree:
        """The parameters θ of a state (one seed's or stacked over seeds), which the loss, the events
        and the recorded statistics read: the state itself."""
        return state

    def stiffness(self, largest_eigenvalue: np.ndarray) -> np.ndarray:
        """The largest `|s|` of the ODE linearised at θ(0) from `λ_max(H(θ(0)))`, which bounds the
        explicit solvers' steps (`≈ 3/|s|`, docs/theory.md §10): `λ_max` itself."""
        return largest_eigenvalue

    def linearised_rate(self, eigenvalue: np.ndarray) -> np.ndarray:
        """`λ`: with `H` frozen, `r' = −H r` (docs/theory.md §3, §11)."""
        return np.asarray(eigenvalue, np.float64)

    @property
    def dynamics_label(self) -> str:
        """The ODE in a few words, without its solver (the summaries': "flow")."""
        return "flow"

    @property
    def label(self) -> str:
        return f"{self.dynamics_label} ({self.solver})"
