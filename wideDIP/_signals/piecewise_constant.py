"""Random piecewise-constant signals, drawn per seed (docs/theory.md §12)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import StructuredSignal, refuse_side


class PiecewiseConstantSignal(StructuredSignal):
    """`x̄` constant on `pieces` runs of consecutive samples. The law: the `pieces − 1` samples where a
    new piece starts are a uniformly random subset of `{1, …, n − 1}` (every piece has at least one
    sample; all `C(n − 1, pieces − 1)` partitions are equally likely), and the pieces' levels are iid
    N(0, 1), independent of the jumps (so each entry is N(0, 1), as for signal="gaussian"); both from
    the signal's own stream of the seed's key."""

    name: ClassVar[str] = "piecewise_constant"
    config_fields: ClassVar[tuple[str, ...]] = ("n", "side", "pieces")
    pieces: int = eqx.field(static=True)

    @classmethod
    def validate(cls, n: int, side: int | None, pieces: int) -> None:
        refuse_side(cls.name, side)
        if pieces > n:
            raise ValueError(
                f"Config.pieces must be at most n = {n} (each piece holds a sample at least), got {pieces}"
            )

    @classmethod
    def from_fields(cls, n: int, side: int | None, pieces: int) -> PiecewiseConstantSignal:
        return cls(pieces=pieces)

    def draw(self, key, gaussian):
        jumps_key, levels_key = jax.random.split(key)
        n = gaussian.shape[0]
        starts = jnp.sort(jax.random.choice(jumps_key, n - 1, (self.pieces - 1,), replace=False) + 1)
        levels = jax.random.normal(levels_key, (self.pieces,), gaussian.dtype)
        return levels[jnp.searchsorted(starts, jnp.arange(n), side="right")]
