"""Polyak's heavy ball (docs/theory.md §11)."""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import numpy as np
import optax
from jaxtyping import Array, Float

from .base import DiscreteDynamics, LinearInGradients, exact_number


def oscillator_rate(damping: np.ndarray | float, eigenvalue: np.ndarray) -> np.ndarray:
    """`−max Re(s)` over the roots of `s² + damping·s + λ = 0`: the decay rate of the damped
    oscillator `r'' + damping·r' + λ r = 0` (docs/theory.md §11), `(damping − Re √(damping² − 4λ))/2`;
    `√λ` at critical damping `2√λ`, `damping/2` when underdamped."""
    eigenvalue = np.asarray(eigenvalue, np.float64)
    damping = np.asarray(damping, np.float64)
    return (damping - np.sqrt((damping**2 - 4 * eigenvalue).astype(complex)).real) / 2


class HeavyBall(DiscreteDynamics, LinearInGradients):
    """`θ_{τ+1} = θ_τ − η ∇L(θ_τ) + μ (θ_τ − θ_{τ−1})` (docs/theory.md §11): `optax.sgd(η, momentum=μ)`,
    the explicit discretisation of the heavy-ball ODE `θ'' + α θ' + ∇L = 0` with time step `h = √η`
    and `μ = 1 − α h`, so iteration `τ` is time `τ √η`."""

    name: ClassVar[str] = "descent"
    optimizer: ClassVar[str] = "heavy_ball"
    title: ClassVar[str] = "heavy ball"
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size", "momentum")
    momentum: Float[Array, ""] = eqx.field(converter=exact_number)
    nesterov: ClassVar[bool] = False

    def transformation(self) -> optax.GradientTransformation:
        return optax.sgd(self.step_size, momentum=self.momentum, nesterov=self.nesterov)

    @property
    def time_step(self) -> float:
        return math.sqrt(float(self.step_size))

    @property
    def damping(self) -> float:
        """The viscous damping `α = (1 − μ)/√η` of the ODE it discretises (docs/theory.md §11)."""
        return (1 - float(self.momentum)) / self.time_step

    def linearised_rate(self, eigenvalue: np.ndarray) -> np.ndarray:
        """The heavy-ball ODE's rate along `λ` in the kernel regime, per unit of time `t = τ √η`: the
        slowest root of `s² + α s + λ` (`oscillator_rate`, docs/theory.md §11), the limit `η → 0` at
        fixed `α`."""
        return oscillator_rate(self.damping, eigenvalue)

    def stability_bound(self) -> float:
        """`2(1 + μ)`: on a quadratic, the heavy ball is stable while `η λ < 2(1 + μ)` (docs/theory.md §11)."""
        return 2 * (1 + float(self.momentum))

    @property
    def label(self) -> str:
        return f"{self.title} η={float(self.step_size):g} μ={float(self.momentum):g}"
