"""The names of the statistics a sweep keeps per cell (docs/theory.md §6, §7), apart from the
code that computes them, so that the command line lists them without importing the simulation."""

SCALAR_STATISTICS = (
    "frequency",
    "median_final_loss",
    "total_steps",
    "median_stability",
    "median_kappa_A",
    "unstable_fraction",
    "certified_fraction",
    "certified_observation_fraction",
    "median_best_signal_error",
    "median_final_signal_error",
    "median_signal_error_at_early_stop",
    "bound_holds_fraction",
    "bound_checked",
    "median_final_error_over_noise",
)
"""The statistics of a cell that are one number (None where undefined); `plot_sweep` draws any."""
QUARTILE_STATISTICS = ("steps_to_threshold", "time_to_threshold")
"""The statistics stored as the quartiles of the finite values, `{"q25": .., "median": .., "q75": ..}`
(None where there is none)."""
NEEDS = {
    "certified_fraction": "track_ntk=True",
    "certified_observation_fraction": "track_ntk=True",
    "median_signal_error_at_early_stop": "noise > 0 (and seeds that reach the early-stopping time T)",
    "bound_holds_fraction": "track_ntk=True and noise > 0 (certified seeds that run past T)",
    "median_final_error_over_noise": "noise > 0",
    "steps_to_threshold": "seeds that reach the threshold",
    "time_to_threshold": "seeds that reach the threshold",
}
"""What a statistic needs to be recorded (without it a cell stores None)."""
PLOTTED_STATISTICS = SCALAR_STATISTICS + QUARTILE_STATISTICS
"""What a sweep's figure draws (`plot_sweep`, `widedip plot --statistic`): a quartile statistic as its median."""
QUARTILES = ("q25", "median", "q75")
"""The keys of a quartile statistic: 25th percentile, median, 75th percentile (sweep format 2; format
1 stored the list of the three values)."""
FORMER_NAMES = {"median_signal_error": "median_final_signal_error"}
"""Statistics renamed since they were first written: old name → name now (a cell file written
before the rename is read with the name now)."""
