"""Adam (docs/theory.md §11)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import numpy as np
import optax
from jaxtyping import Array, Float

from .base import DiscreteDynamics, exact_number


class Adam(DiscreteDynamics):
    """Adam with learning rate `step_size` and `b1`, `b2`, `eps` (`optax.adam`, docs/theory.md §11):
    its update is entrywise, so it runs on the literal parameters (not `LinearInGradients`), and it
    discretises no ODE: its results are per iteration."""

    name: ClassVar[str] = "descent"
    optimizer: ClassVar[str] = "adam"
    title: ClassVar[str] = "Adam"
    has_time_axis: ClassVar[bool] = False
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size", "b1", "b2", "eps")
    b1: Float[Array, ""] = eqx.field(converter=exact_number)
    b2: Float[Array, ""] = eqx.field(converter=exact_number)
    eps: Float[Array, ""] = eqx.field(converter=exact_number)

    def transformation(self) -> optax.GradientTransformation:
        return optax.adam(self.step_size, b1=self.b1, b2=self.b2, eps=self.eps)

    @property
    def time_step(self) -> float:
        return 1.0

    def linearised_rate(self, eigenvalue: np.ndarray) -> None:
        """None: Adam's entrywise update is not linear in the residual, so no rate per eigenvalue of `H`
        is predicted (docs/theory.md §11)."""
        return None

    @property
    def label(self) -> str:
        return f"{self.title} lr={float(self.step_size):g}"
