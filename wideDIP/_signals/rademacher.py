"""`x̄` with iid ±1 entries (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import jax

from .base import AnyShapeSignal


class RademacherSignal(AnyShapeSignal):
    """iid ±1 entries, from the signal's own stream."""

    name: ClassVar[str] = "rademacher"

    def draw(self, key, gaussian):
        return jax.random.rademacher(key, gaussian.shape, gaussian.dtype)
