"""Training dynamics (docs/theory.md §1, §10), discrete or continuous: their numbers are arrays (a
new step size never recompiles), what shapes the compiled code (solver, budgets) is static."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree


def exact_number(value: Any) -> np.ndarray | jax.Array:
    """A number of a dynamics, kept exact (float64) on the host until `in_precision` casts it."""
    return value if isinstance(value, jax.Array) else np.asarray(value, np.float64)


def in_precision(tree: PyTree, dtype: Any) -> PyTree:
    """The floating-point leaves of `tree` as arrays of `dtype` (the others as they are)."""

    def cast(leaf):
        if isinstance(leaf, (jax.Array, np.ndarray)) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return jnp.asarray(leaf, dtype)
        return leaf

    return jax.tree.map(cast, tree)


class AbstractDynamics(eqx.Module):
    """A training dynamics, run over `steps` checkpoint intervals up to `horizon`."""

    name: ClassVar[str]
    """The `Config.method` value that selects it."""
    title: ClassVar[str | None] = None
    """What figures call it ("gradient descent"); None: `method <name>`."""
    stability_limit: ClassVar[float | None] = None
    """The `η λ_max(H(θ(0)))` beyond which it is unstable near θ(0), where one is known (docs/theory.md §5)."""
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size")
    """The `Config` fields it is built from; `Config` refuses the others' set away from their defaults."""
    steps: int = eqx.field(static=True)
    """The iteration budget; the checkpoints are spread over `[0, steps]` (`checkpoint_steps`)."""
    step_size: Float[Array, ""] = eqx.field(converter=exact_number)

    @classmethod
    def from_fields(cls, **fields: Any) -> AbstractDynamics:
        return cls(**fields)

    @property
    @abc.abstractmethod
    def horizon(self) -> Float[Array, ""]:
        """The time budget."""

    @property
    def label(self) -> str:
        """What ran, in a few words (`"descent η=0.5"`)."""
        return f"{self.name} η={float(self.step_size):g}"

    def stability_bound(self) -> float | None:
        """The `η λ_max(H(θ(0)))` below which it is stable on a quadratic of that curvature
        (docs/theory.md §5.4, §11): `stability_limit`, unless its numbers set it (heavy ball)."""
        return self.stability_limit

    def stability(self, largest_eigenvalue: np.ndarray) -> np.ndarray:
        """`η λ_max(H(θ(0)))`: below 2, gradient descent is stable near θ(0) (docs/theory.md §10)."""
        return float(self.step_size) * largest_eigenvalue

    def linearised_rate(self, eigenvalue: np.ndarray) -> np.ndarray | None:
        """The decay rate, in its time units, of the residual's component along an eigenvalue `λ` of
        `H` in the kernel regime (`J` frozen, docs/theory.md §11); None where none is predicted."""
        return None


class DiscreteDynamics(AbstractDynamics):
    """Iterations `θ ← θ + update(∇L(θ))` of an optax transformation, run by the discrete loop on
    every seed at once; iteration `τ` is time `τ h` with the time step `h` of `time_step`
    (gradient descent: `h = η`, docs/theory.md §1; heavy ball: `h = √η`, §11)."""

    optimizer: ClassVar[str | None] = None
    """The `Config.optimizer` value that selects it under method="descent" (`OPTIMIZERS`); None: not one of them."""
    has_time_axis: ClassVar[bool] = True
    """Whether its iterations discretise an ODE, so that iteration `τ` is a time; False (Adam): its
    results are per iteration (`time_step` 1)."""

    @abc.abstractmethod
    def transformation(self) -> optax.GradientTransformation:
        """The update rule (traced inside the loop: its numbers stay arrays)."""

    @property
    def time_step(self) -> float:
        """`h`: iteration `τ` is time `τ h` (gradient descent: the step size `η`)."""
        return float(self.step_size)

    @property
    def horizon(self) -> Float[Array, ""]:
        return self.steps * self.time_step

    def time_of(self, iterations: np.ndarray) -> np.ndarray:
        """The time of `iterations` (`t = τ h`)."""
        return iterations * self.time_step


class LinearInGradients(AbstractDynamics):
    """A dynamics whose steps are linear combinations of the gradients so far (descent, heavy ball,
    Nesterov, the flow): it keeps `W − W(0) = a uᵀ`, so the two-layer networks' reduced path is exact
    for it (docs/theory.md §4). Any other (Adam, ...) runs on the literal parameters."""


class ContinuousDynamics(AbstractDynamics):
    """An ODE integrated by diffrax on every seed at once, with the stopping rule as events."""
