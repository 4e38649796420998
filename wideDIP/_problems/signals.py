"""Laws of the signal `x̄` (docs/theory.md §1, §6): adding one is adding a class to `SIGNALS`."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._runtime.registry import Registry


class Signal(eqx.Module):
    """A law of `x̄ ∈ R^n` (the values of `Config.signal`)."""

    name: ClassVar[str]
    config_fields: ClassVar[tuple[str, ...]] = ()
    gaussian_block: ClassVar[bool] = False
    """Whether `x̄` is the seed's Gaussian block: what a padded batch reproduces bit for bit."""

    @classmethod
    def validate(cls, **fields: Any) -> None:
        """Raise `ValueError`, naming the `Config` field, unless the fields suit this family."""

    @classmethod
    def from_fields(cls, **fields: Any) -> Signal:
        return cls(**fields)

    @abc.abstractmethod
    def draw(self, key: PRNGKeyArray, gaussian: Float[Array, " n"]) -> Float[Array, " n"]:
        """One seed's `x̄` from `key` (its own stream) and the seed's Gaussian block (iid N(0,1))."""


class AnyShapeSignal(Signal):
    """A law drawn entry by entry: a vector, or a `side × side` image when `Config.side` is set."""

    config_fields: ClassVar[tuple[str, ...]] = ("side",)
    side: int | None = eqx.field(static=True, default=None)


class GaussianSignal(AnyShapeSignal):
    """`x̄ ~ N(0, I_n)`: the Gaussian block as drawn."""

    name: ClassVar[str] = "gaussian"
    gaussian_block: ClassVar[bool] = True

    def draw(self, key, gaussian):
        return gaussian


class RademacherSignal(AnyShapeSignal):
    """iid ±1 entries, from the signal's own stream."""

    name: ClassVar[str] = "rademacher"

    def draw(self, key, gaussian):
        return jax.random.rademacher(key, gaussian.shape, gaussian.dtype)


class SphereSignal(AnyShapeSignal):
    """Uniform on the sphere of radius `√n`: the Gaussian block normalised."""

    name: ClassVar[str] = "sphere"

    def draw(self, key, gaussian):
        return jnp.sqrt(jnp.asarray(gaussian.size, gaussian.dtype)) * gaussian / jnp.linalg.norm(gaussian)


SIGNALS = Registry("SIGNALS", Signal, {cls.name: cls for cls in (GaussianSignal, RademacherSignal, SphereSignal)})
"""Every law of `x̄` by name (the values of `Config.signal`)."""
