"""Laws of the signal `x̄` (docs/theory.md §1, §6): one registry entry per family, a component that
draws one seed's `x̄` from that seed's Gaussian block. Adding a family is adding one class to
`SIGNALS`; `Config.signal` and the problem draw read it from here."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class Signal(eqx.Module):
    """A law of `x̄ ∈ R^n` (the values of `Config.signal`)."""

    name: ClassVar[str]
    config_fields: ClassVar[tuple[str, ...]] = ()
    """The `Config` fields the family is built from (`from_fields`)."""
    gaussian_block: ClassVar[bool] = False
    """Whether `x̄` is the seed's Gaussian block itself: the only law a padded batch reproduces
    bit for bit (wideDIP._experiments.batches)."""

    @classmethod
    def from_fields(cls, **fields: Any) -> Signal:
        """The family built from its `config_fields`."""
        return cls(**fields)

    @abc.abstractmethod
    def draw(self, key: PRNGKeyArray, gaussian: Float[Array, " n"]) -> Float[Array, " n"]:
        """One seed's `x̄`: from `key` (the signal's own stream) and the seed's Gaussian block for
        the signal, `gaussian` (iid N(0,1))."""


class GaussianSignal(Signal):
    """`x̄ ~ N(0, I_n)`: the Gaussian block as drawn."""

    name: ClassVar[str] = "gaussian"
    gaussian_block: ClassVar[bool] = True

    def draw(self, key, gaussian):
        return gaussian


class RademacherSignal(Signal):
    """iid ±1 entries, from the signal's own stream."""

    name: ClassVar[str] = "rademacher"

    def draw(self, key, gaussian):
        return jax.random.rademacher(key, gaussian.shape, gaussian.dtype)


class SphereSignal(Signal):
    """Uniform on the sphere of radius `√n`: the Gaussian block normalised."""

    name: ClassVar[str] = "sphere"

    def draw(self, key, gaussian):
        return jnp.sqrt(jnp.asarray(gaussian.size, gaussian.dtype)) * gaussian / jnp.linalg.norm(gaussian)


SIGNALS: dict[str, type[Signal]] = {cls.name: cls for cls in (GaussianSignal, RademacherSignal, SphereSignal)}
"""Every law of `x̄` by name (the values of `Config.signal`)."""
