"""What is integrated (docs/theory.md §1, §10): the training dynamics as components. Discrete
dynamics (gradient descent, any optax transformation) run in the chunked discrete loop
(`_descent`); continuous dynamics (the gradient flow (3)) in the diffrax solve (`_flow`). Each
says its time axis and its stability number; `DYNAMICS` is the registry of `Config.method`.

A dynamics is an `eqx.Module`: its numbers (step size, tolerances, horizon) are arrays, so
changing them never recompiles; what shapes the compiled code (the solver, budgets) is static."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree


def _number(value: Any) -> np.ndarray | jax.Array:
    """A number of a dynamics, kept exact (float64) on the host; the integrators cast it to the
    run's precision on entry (`in_precision`), after which it stays as cast."""
    return value if isinstance(value, jax.Array) else np.asarray(value, np.float64)


def in_precision(tree: PyTree, dtype: Any) -> PyTree:
    """The floating-point leaves of `tree` as arrays of `dtype` (the others as they are)."""

    def cast(leaf):
        if isinstance(leaf, (jax.Array, np.ndarray)) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return jnp.asarray(leaf, dtype)
        return leaf

    return jax.tree.map(cast, tree)


class AbstractDynamics(eqx.Module):
    """A training dynamics: built from the `Config` fields it names (`config_fields`, read by the
    resolution step only), run over `steps` checkpoint intervals up to `horizon`."""

    name: ClassVar[str]
    """The `Config.method` value that selects it."""
    config_fields: ClassVar[tuple[str, ...]]
    """The `Config` fields it reads; `Config` refuses another dynamics' fields set away from their
    defaults (they would change nothing)."""
    steps: eqx.AbstractVar[int]
    """The iteration budget; the checkpoints are spread over `[0, steps]` (`checkpoint_steps`)."""
    step_size: eqx.AbstractVar[Float[Array, ""]]

    @classmethod
    def from_fields(cls, **fields: Any) -> AbstractDynamics:
        """This dynamics from its `Config` fields (`config_fields`)."""
        return cls(**fields)

    @property
    @abc.abstractmethod
    def horizon(self) -> Float[Array, ""]:
        """The time budget."""

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """What ran, in a few words (`"descent η=0.5"`)."""

    def stability(self, largest_eigenvalue: np.ndarray) -> np.ndarray:
        """`η λ_max(H(θ(0)))`: below 2, gradient descent is stable near θ(0) (docs/theory.md §10)."""
        return float(self.step_size) * largest_eigenvalue


class DiscreteDynamics(AbstractDynamics):
    """Iterations `θ ← θ + update(∇L(θ))` of an optax transformation, run by the discrete loop on
    every seed at once; iteration `τ` is time `τ η` (docs/theory.md §1)."""

    @abc.abstractmethod
    def transformation(self) -> optax.GradientTransformation:
        """The update rule (traced inside the loop: its numbers stay arrays)."""

    @property
    def horizon(self) -> Float[Array, ""]:
        return self.steps * self.step_size

    def time_of(self, iterations: np.ndarray) -> np.ndarray:
        """The time of `iterations` (`t = τ η`)."""
        return iterations * float(self.step_size)


class ContinuousDynamics(AbstractDynamics):
    """An ODE integrated by diffrax on every seed at once, with the stopping rule as events."""


class GradientDescent(DiscreteDynamics):
    """`θ ← θ − η ∇L(θ)` (docs/theory.md §1): `optax.sgd(η)`."""

    name: ClassVar[str] = "descent"
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size")
    steps: int = eqx.field(static=True)
    step_size: Float[Array, ""] = eqx.field(converter=_number)

    def transformation(self) -> optax.GradientTransformation:
        return optax.sgd(self.step_size)

    @property
    def label(self) -> str:
        return f"descent η={float(self.step_size):g}"


class GradientFlow(ContinuousDynamics):
    """The gradient flow `θ' = −∇L(θ)` (3), integrated by `solver` (docs/theory.md §10): "auto"
    (Tsit5, the seeds it cannot finish continued by Kvaerno5 in float64), tsit5, dopri5, dopri8,
    kvaerno5, or euler (constant step `step_size`: gradient descent)."""

    name: ClassVar[str] = "flow"
    config_fields: ClassVar[tuple[str, ...]] = (
        "steps",
        "step_size",
        "solver",
        "rtol",
        "atol",
        "t_max",
        "max_solver_steps",
    )
    steps: int = eqx.field(static=True)
    step_size: Float[Array, ""] = eqx.field(converter=_number)
    """The constant step of `euler` (unused by the adaptive solvers)."""
    rtol: Float[Array, ""] = eqx.field(converter=_number)
    atol: Float[Array, ""] = eqx.field(converter=_number)
    time_budget: Float[Array, ""] = eqx.field(converter=_number)
    solver: str = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    progress: bool = eqx.field(static=True, default=False)
    """Whether diffrax shows its progress bar (one host callback: one device only)."""
    stop_at_threshold: bool = eqx.field(static=True, default=True)
    """False: integrate on past the threshold (a second leg, compiled only then)."""

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


SOLVERS: dict[str, type[diffrax.AbstractSolver]] = {
    "auto": diffrax.Tsit5,  # its explicit leg; `_flow.run` continues the seeds it leaves unfinished
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "kvaerno5": diffrax.Kvaerno5,
    "euler": diffrax.Euler,
}
"""The flow's solvers by `Config.solver` name."""

DYNAMICS: dict[str, type[AbstractDynamics]] = {"descent": GradientDescent, "flow": GradientFlow}
"""The dynamics by `Config.method` name: adding one is adding a class here."""
