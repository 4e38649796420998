"""The inertial flow with viscous and Hessian-driven damping (docs/theory.md §11) and its two forms."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

from .base import exact_number
from .flow import GradientFlow
from .heavy_ball import oscillator_rate

FORMS: dict[str, str] = {
    "second_order": "(θ, v): θ' = v, v' = −α v − β ∇²L(θ) v − ∇L(θ), the Hessian-vector product by jax.jvp",
    "hessian_free": "(θ, u): θ' = −β ∇L(θ) − u, u' = −α u − (αβ − 1) ∇L(θ), u(0) = −β ∇L(θ(0))",
}
"""The first-order systems `InertialFlow` integrates, by `form` name (docs/theory.md §11)."""
DEFAULT_FORM = "hessian_free"
"""The form `InertialFlow.from_fields` runs: measured faster than "second_order" at the same
tolerances (`InertialFlow`'s docstring)."""


def largest_root_modulus(damping: np.ndarray | float, eigenvalue: np.ndarray) -> np.ndarray:
    """`max |s|` over the roots of `s² + damping·s + λ = 0`: the fastest rate of the damped oscillator
    `r'' + damping·r' + λ r = 0`, which bounds an explicit solver's step."""
    damping = np.asarray(damping, np.float64)
    root = np.sqrt((damping**2 - 4 * np.asarray(eigenvalue, np.float64)).astype(complex))
    return np.maximum(np.abs(-damping + root), np.abs(-damping - root)) / 2


class InertialFlow(GradientFlow):
    """The inertial system with viscous damping `α` (`damping`) and Hessian-driven damping `β`
    (`hessian_damping`), `θ'' + α θ' + β (d/dt)∇L(θ) + ∇L(θ) = 0` with `θ'(0) = 0` (docs/theory.md
    §11; `β = 0`: the heavy-ball ODE), integrated like the flow (`GradientFlow`: its solvers, events,
    step budgets), on the reduced path too: its steps are linear combinations of gradients and of
    their time derivatives, which keep `W − W(0) = a uᵀ` (§4, §11), so the reduced state is `(z, z')`.

    It integrates one of the first-order systems of `FORMS` (`form`):
    - "second_order", in `(θ, v = θ')`: one `jax.jvp` of the gradient per evaluation gives both
      `∇L(θ)` and the Hessian-vector product `∇²L(θ) v` (computed, times 0, when `β = 0`);
    - "hessian_free" (Alvarez, Attouch, Bolte, Redont 2002), in `(θ, u)` with `u = −θ' − β ∇L(θ)`:
      one gradient per evaluation. It is §11's system in `(x, w)` with `u = (w + (αβ − 1) x)/β`: the
      same path, but `u` has the size of `θ'`, where `w` carries `−(αβ − 1) θ` (terms of the size of
      θ that cancel) and enters as `w/β` (the solver's error on it reaches θ times `1/β`: up to 60
      times larger loss errors, measured at the default tolerances); and no `1/β` is left, so that
      at `β = 0` it is the heavy-ball ODE (`u = −θ'`).
    The two forms give the same path (to 1e-8 in float64, tests/test_inertial_flow.py) and have the
    same linearisation (the roots of `s² + (α + βλ) s + λ`), so the same stiffness. "hessian_free"
    is `DEFAULT_FORM`: at the default tolerances it took at most 3 % more steps (often far fewer),
    1.1 to 1.6 times less time per unit of integrated time in float64 (a gradient per evaluation
    instead of a gradient and a Hessian-vector product) and 1.1 to 17 times less in float32 (where
    the second-order form's steps multiply as the loss nears its rounding floor), with loss errors
    alike in float64 (`(m, k)` = (10, 100), (10, 1000), (50, 250) reduced and (10, 100) with
    `d = 50` literal; `(α, β)` = (2, 0.5), (1, 0.5), (0.5, 0.2), (1, 0)).

    The implicit solver (kvaerno5) solves its Newton steps by GMRES on Jacobian-vector products of
    the system (`_integrate.newton`; with `structured_solves=False`, by diffrax's dense LU), never by
    the flow's `I + c ∇²L`; "auto" predicts the seeds that Tsit5 cannot finish from the largest root
    modulus of `s² + (α + βλ) s + λ` over `λ ∈ [0, λ_max(H(θ(0)))]` (`stiffness`)."""

    name: ClassVar[str] = "inertial_flow"
    title: ClassVar[str] = "inertial flow"
    config_fields: ClassVar[tuple[str, ...]] = (*GradientFlow.config_fields, "damping", "hessian_damping")
    damping: Float[Array, ""] = eqx.field(converter=exact_number, kw_only=True)
    """`α ≥ 0`, the viscous damping."""
    hessian_damping: Float[Array, ""] = eqx.field(converter=exact_number, kw_only=True)
    """`β ≥ 0`, the Hessian-driven damping."""
    form: str = eqx.field(static=True, kw_only=True, default=DEFAULT_FORM)
    """Which first-order system is integrated (`FORMS`)."""

    def __check_init__(self) -> None:
        for name, value in (("damping", self.damping), ("hessian_damping", self.hessian_damping)):
            if isinstance(value, np.ndarray) and not value >= 0:
                raise ValueError(f"InertialFlow.{name} must be >= 0, got {float(value)}")
        if self.form not in FORMS:
            raise ValueError(f"InertialFlow.form must be one of {tuple(FORMS)}, got {self.form!r}")

    @classmethod
    def from_fields(
        cls, *, steps, step_size, solver, rtol, atol, t_max, max_solver_steps, damping, hessian_damping
    ) -> InertialFlow:
        horizon = steps * step_size if t_max is None else t_max
        fields = dict(damping=damping, hessian_damping=hessian_damping)
        return cls(steps, step_size, rtol, atol, horizon, solver, max_solver_steps, **fields)

    def initial_state(self, loss: eqx.Module, parameters: PyTree) -> tuple[PyTree, PyTree]:
        """`(θ(0), θ'(0) = 0)`; for "hessian_free", `(θ(0), u(0) = −β ∇L(θ(0)))`."""
        if self.form == "hessian_free":
            gradient = loss.loss_and_gradient(parameters)[1]
            return parameters, jax.tree.map(lambda g: -self.hessian_damping * g, gradient)
        return parameters, jax.tree.map(jnp.zeros_like, parameters)

    def vector_field(self, loss: eqx.Module, state: tuple[PyTree, PyTree]) -> tuple[PyTree, PyTree]:
        """The time derivative of the `form`'s state (`FORMS`)."""
        position, other = state
        alpha, beta = self.damping, self.hessian_damping
        if self.form == "hessian_free":
            gradient = loss.loss_and_gradient(position)[1]
            return (
                jax.tree.map(lambda g, u: -beta * g - u, gradient, other),
                jax.tree.map(lambda g, u: -alpha * u - (alpha * beta - 1) * g, gradient, other),
            )
        gradient, curvature = jax.jvp(lambda p: loss.loss_and_gradient(p)[1], (position,), (other,))
        acceleration = jax.tree.map(lambda g, h, v: -alpha * v - beta * h - g, gradient, curvature, other)
        return other, acceleration

    def position(self, state: tuple[PyTree, PyTree]) -> PyTree:
        """θ: the state's first part in every form."""
        return state[0]

    def stiffness(self, largest_eigenvalue: np.ndarray) -> np.ndarray:
        """The largest root modulus of `s² + (α + βλ) s + λ` over `λ ∈ [0, λ_max]`: at one end of it,
        `α` (the directions of zero curvature) or that of `λ_max` (`√λ_max` when underdamped, about
        `β λ_max` when the Hessian damping dominates)."""
        largest = np.asarray(largest_eigenvalue, np.float64)
        alpha, beta = float(self.damping), float(self.hessian_damping)
        return np.maximum(alpha, largest_root_modulus(alpha + beta * largest, largest))

    def linearised_rate(self, eigenvalue: np.ndarray) -> np.ndarray:
        """`−max Re(s)` over the roots of `s² + (α + βλ) s + λ`: the decay rate of the residual's
        component along the eigenvalue `λ` of a frozen `H` (docs/theory.md §11)."""
        eigenvalue = np.asarray(eigenvalue, np.float64)
        return oscillator_rate(float(self.damping) + float(self.hessian_damping) * eigenvalue, eigenvalue)

    @property
    def dynamics_label(self) -> str:
        return f"{self.title} α={float(self.damping):g} β={float(self.hessian_damping):g}"
