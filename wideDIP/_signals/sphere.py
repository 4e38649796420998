"""`x̄` uniform on the sphere of radius `√n` (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from .base import AnyShapeSignal


class SphereSignal(AnyShapeSignal):
    """Uniform on the sphere of radius `√n`: the Gaussian block normalised."""

    name: ClassVar[str] = "sphere"

    def draw(self, key, gaussian):
        return jnp.sqrt(jnp.asarray(gaussian.size, gaussian.dtype)) * gaussian / jnp.linalg.norm(gaussian)
