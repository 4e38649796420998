"""Any optax transformation of one's own as a discrete dynamics (`simulate(config, optimizer=...)`,
docs/theory.md §11)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import optax

from .base import DiscreteDynamics


class OptaxDynamics(DiscreteDynamics):
    """Iterations of `rule`, an `optax.GradientTransformation` of one's own (`optax.lion(1e-3)`, ...):
    what `simulate(config, optimizer=rule)` runs. Its update is whatever the transformation computes,
    so it runs on the literal parameters (not `LinearInGradients`, docs/theory.md §4) and discretises
    no known ODE: its results are per iteration (`time_step` 1). It holds its own learning rate
    (`step_size` is NaN: no stability number `η λ_max`), and its numbers are compiled into the loop
    unless it keeps them in its state (`optax.inject_hyperparams`)."""

    name: ClassVar[str] = "descent"
    title: ClassVar[str] = "optax transformation"
    has_time_axis: ClassVar[bool] = False
    config_fields: ClassVar[tuple[str, ...]] = ("steps",)
    rule: optax.GradientTransformation = eqx.field(static=True)

    @classmethod
    def of(cls, rule: optax.GradientTransformation, steps: int) -> OptaxDynamics:
        """`rule` run for `steps` iterations."""
        return cls(steps, float("nan"), rule)

    def transformation(self) -> optax.GradientTransformation:
        return self.rule

    @property
    def time_step(self) -> float:
        return 1.0

    @property
    def label(self) -> str:
        return self.title
