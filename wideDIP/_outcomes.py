"""How a seed's run ended (docs/theory.md §6: the threshold rule; integer codes inside
compiled code, names in results)."""

RUNNING, CONVERGED, DIVERGED, STALLED, SOLVER_FAILED = 0, 1, 2, 3, 4
OUTCOMES = ("running", "converged", "diverged", "stalled", "solver_failed")
DIVERGENCE_FACTOR = 1e6
"""A run has diverged once its loss is non-finite or above this many times its initial loss."""
