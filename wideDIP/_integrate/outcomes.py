"""How a seed's run ended (docs/theory.md §6: the threshold rule): one enumeration, its integer
codes inside compiled code, its lower-case names in results."""

from __future__ import annotations

import enum

import numpy as np


class Outcome(enum.IntEnum):
    RUNNING = 0
    CONVERGED = 1
    DIVERGED = 2
    STALLED = 3
    SOLVER_FAILED = 4

    @property
    def label(self) -> str:
        """The name results record (`"solver_failed"`)."""
        return self.name.lower()


ENDINGS = tuple(outcome.label for outcome in Outcome if outcome is not Outcome.RUNNING)
"""The names of the outcomes a finished run records."""
DIVERGENCE_FACTOR = 1e6
"""A run has diverged once its loss is non-finite or above this many times its initial loss."""


def outcome_labels(codes: np.ndarray) -> np.ndarray:
    """The names of the outcome `codes` (any shape)."""
    return np.asarray([outcome.label for outcome in Outcome])[np.asarray(codes)]
