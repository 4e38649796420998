"""What `simulate` returns (docs/theory.md §5, §6): per-seed outcomes and loss curves, with
a summary, save and load."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._analysis.rates import last_recorded
from .._analysis.theory import TheoryReport
from .._config import Config
from .._dynamics.descent import GradientDescent
from .._dynamics.inertial_flow import InertialFlow
from .._figures.captions import compact_shape, described_network, signal_label, unused_note
from .._integrate.outcomes import ENDINGS
from .._networks.kernels import KERNEL_DRIFTS
from .._operators.base import OrthonormalRows
from .._operators.registry import OPERATORS
from .._resolve import is_discrete, is_structured, operator_of, resolve_dynamics
from .._runtime.paths import check_writable, result_path

FORMAT_VERSION = 6
READABLE_FORMATS = (1, 2, 3, 4, 5, 6)
"""Format 2 added the recovery curves (docs/theory.md §7), renaming format 1's end-of-run `signal_error`,
`observation_error` to `final_…`; 3 the header's `kind` (1 and 2 hold simulations); 4 a simulation's
problem and reconstructions; 5 the kernel drift (`KERNEL_DRIFTS`) and the measured and predicted rates
(docs/theory.md §11); 6 the PSNR, SSIM and alignment (docs/theory.md §12)."""
NULL_EIGENVALUE = 1e-6
"""The alignment's `r`-th eigenvalue at most this fraction of the first: `K(θ(0))` has numerical rank
below `r` and its top-`r` span is partly arbitrary (the summary says so)."""
KINDS = ("simulation", "comparison")
"""What a saved `.npz` holds (its header's `kind`): a `SimulationResult` or a `ComparisonResult`."""


def environment() -> dict[str, str]:
    """Library versions and the device that ran the computation."""
    import diffrax
    import equinox
    import jax
    import optax

    device = jax.devices()[0]
    return {
        "widedip": importlib.metadata.version("widedip"),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "diffrax": diffrax.__version__,
        "equinox": equinox.__version__,
        "device": f"{device.platform}:{device.device_kind} x{jax.device_count()}",
    }


def _theory_field(name: str, doc: str) -> property:
    """A `SimulationResult` property: the field `name` of its theory report (needs `track_ntk`)."""

    def field(result: SimulationResult) -> np.ndarray | None:
        if result.theory is None:
            raise ValueError(f"SimulationResult.{name} needs Config.track_ntk=True")
        return getattr(result.theory, name)

    return property(field, doc=doc)


def _drift_field(name: str, doc: str) -> property:
    """A `SimulationResult` property: the curve `name` of its `ntk` (needs `track_ntk`; None in a file
    saved before format 5, which did not hold it; docs/theory.md §11)."""

    def field(result: SimulationResult) -> np.ndarray | None:
        if result.ntk is None:
            raise ValueError(f"SimulationResult.{name} needs Config.track_ntk=True")
        return result.ntk.get(name)

    return property(field, doc=doc)


@dataclasses.dataclass(frozen=True, eq=False)
class SimulationResult:
    """Outcome of `simulate(config)`; arrays have a leading seed axis.

    `loss[s, c]` and `weight_distance[s, c]` are `½‖A g − y‖²` and `‖W(t) − W(0)‖_F` at
    `times[c]`, NaN once seed `s` has stopped (converged or diverged): the checkpoint's step in the
    dynamics' time (`step × step_size` for gradient descent, `step × √step_size` for the heavy ball
    and Nesterov, docs/theory.md §11), or the step itself where there is none (Adam, `dynamics`).
    """

    config: Config
    status: np.ndarray
    """"converged", "diverged" or "stalled" per seed."""
    steps_to_threshold: np.ndarray
    """First step whose loss is ≤ threshold (flow: accepted solver steps); −1 if never."""
    stop_step: np.ndarray
    """Step at which the seed stopped moving (converged, diverged, or the budget)."""
    stop_time: np.ndarray
    """Time at which the seed stopped (descent: `stop_step × step_size`)."""
    time_to_threshold: np.ndarray
    """Time at which the loss reached the threshold; NaN if never."""
    solver_steps: np.ndarray
    """Work done: gradient steps (descent), accepted and rejected solver steps (flow)."""
    initial_loss: np.ndarray
    final_loss: np.ndarray
    """Loss at `stop_step`."""
    times: np.ndarray
    loss: np.ndarray
    weight_distance: np.ndarray
    final_signal_error: np.ndarray
    """`‖x − x̄‖ / ‖x̄‖` at the end (`stop_step`), `x = g(u, θ)`."""
    final_observation_error: np.ndarray
    """`‖A x − ȳ‖` at the end, `ȳ = A x̄` the noise-free observation."""
    stability: np.ndarray
    """`η λ_max(H(W(0)))`: above 2, descent has left the flow's regime (docs/theory.md §5)."""
    wall_time: float
    environment: dict[str, str]
    ntk: dict[str, np.ndarray] | None = None
    """With `track_ntk`: `min_lambda_K`, `min_lambda_H`, `max_lambda_H`,
    `jacobian_lipschitz_ratio`, `kernel_drift_K` and `kernel_drift_H` (`TRACKED_STATISTICS`; the
    drifts not in files saved before format 5) at the checkpoints, `[seeds, checkpoints]`, NaN after
    the stop."""
    theory: TheoryReport | None = None
    """With `track_ntk`: Theorem 2.1 evaluated for every seed (docs/theory.md §5, §9)."""
    norm_A: np.ndarray | None = None
    """`‖A‖` per seed, by SVD (docs/theory.md §8); None only in files saved before it existed."""
    sigma_A: np.ndarray | None = None
    """`σ_A`, the smallest non-zero singular value of `A`, per seed."""
    kappa_A: np.ndarray | None = None
    """`κ(A) = ‖A‖/σ_A` per seed."""
    operator_sha256: str | None = None
    """SHA-256 of the custom operator matrix (float64, C order); None for the drawn operators."""
    network: dict[str, Any] | None = None
    """The network simulated: `name`, `description`, `parameters` (their number `p`), and the
    `parametrization` ("full" or "reduced") and `ntk_implementation` actually used."""
    dynamics: str | None = None
    """What ran, in words, where the config does not say it: "optax transformation" (`simulate`'s
    `optimizer=`, per iteration); None: the config's dynamics."""
    # Noise and recovery (docs/theory.md §7); None only in files saved before they existed.
    observation_error: np.ndarray | None = None
    """`‖A x(t) − ȳ‖` at the checkpoints, `[seeds, checkpoints]`, NaN after the stop (as `loss`)."""
    signal_error: np.ndarray | None = None
    """`‖x(t) − x̄‖ / ‖x̄‖` at the checkpoints."""
    signal_error_row_space: np.ndarray | None = None
    """`‖P(x(t) − x̄)‖ / ‖x̄‖`, `P` the projector onto `Im(Aᵀ)`: at most `observation_error / (σ_A ‖x̄‖)`."""
    signal_error_kernel: np.ndarray | None = None
    """`‖(I − P)(x(t) − x̄)‖ / ‖x̄‖`: the part in `ker A`, which the theorem does not control."""
    noise_norm: np.ndarray | None = None
    """`‖ε‖ = ‖y − ȳ‖` per seed."""
    early_stopping_time: np.ndarray | None = None
    """`T` of (6) per seed; inf where it does not exist (no noise, `σ_0 = 0`: see
    `early_stopping_reason`)."""
    observation_early_stopping_time: np.ndarray | None = None
    """`T_H = 4 ln(‖y(0) − y‖/‖ε‖)/μ_0` per seed; inf without noise or where `μ_0 = 0`."""
    oracle_time: np.ndarray | None = None
    """The checkpoint time where `‖y(t) − ȳ‖` is smallest: the best stop, knowing `ȳ`."""
    best_observation_error: np.ndarray | None = None
    """The smallest `‖y(t) − ȳ‖` along the path (at `oracle_time`)."""
    best_signal_error: np.ndarray | None = None
    """The smallest `‖x(t) − x̄‖/‖x̄‖` along the path."""
    signal_error_at_early_stop: np.ndarray | None = None
    """`‖x(t) − x̄‖/‖x̄‖` at the first checkpoint at or after `T` (NaN where `T` is infinite or the
    run stopped before it)."""
    bound_holds: np.ndarray | None = None
    """Per seed: `‖y(t) − ȳ‖ ≤ 2‖ε‖` at every checkpoint at or after `T` (True/False, an object
    array), None where the seed is not certified by (5) or stopped before `T`. The theorem is
    about the flow; for descent this checks the discrete path against it."""
    # The problem and the reconstructions `x(t) = g(u, θ(t))` (docs/theory.md §1, §7); None in files
    # saved before they existed, and the two large ones in files saved without them (`save`).
    signal: np.ndarray | None = None
    """`x̄` per seed, `[seeds, n]`."""
    observation: np.ndarray | None = None
    """`y = ȳ + ε` per seed, `[seeds, m]`."""
    clean_observation: np.ndarray | None = None
    """`ȳ = A x̄` per seed, `[seeds, m]`."""
    operator_matrix: np.ndarray | None = None
    """`A` per seed, `[seeds, m, n]` (large: saved by `save(..., operator_matrix=True)` only)."""
    reconstructions: np.ndarray | None = None
    """`x(t)` at the checkpoints, `[seeds, checkpoints, n]`, NaN after the stop (as `loss`): the
    outputs the curves are computed from (large: saved by `save(..., reconstructions=True)` only)."""
    best_reconstruction: np.ndarray | None = None
    """`x(t)` at the checkpoint where `‖x(t) − x̄‖/‖x̄‖` is smallest (`best_signal_error`), `[seeds, n]`:
    an oracle, chosen knowing `x̄`. For the stop chosen knowing `ȳ` only, `reconstruction_at(oracle_time)`."""
    final_reconstruction: np.ndarray | None = None
    """`x` from the final parameters, at the stop (`stop_step`), `[seeds, n]` (`final_signal_error`)."""
    # Rates against the kernel regime (docs/theory.md §11); None in files saved before they existed.
    measured_rate: np.ndarray | None = None
    """Per seed, the measured exponential rate of `‖r(t)‖ = √(2 L(t))`, in the units of `times`: the
    least-squares slope of `−ln ‖r‖` against `t` over the later half (`t ≥ t_w/2`) of the checkpoints
    where the loss is recorded and above the threshold (`t_w` the last of them); NaN where fewer than
    two (`wideDIP._analysis.rates.measured_rate`)."""
    predicted_rate: np.ndarray | None = None
    """Per seed, the rate the kernel regime predicts for it: the slowest of the dynamics'
    `linearised_rate` over the eigenvalues of `H(θ(0))` on Im(A) (the flow: `λ_min`; descent:
    `−ln|1 − ηλ|/η` at `λ_min`, or at `λ_max` once `η (λ_min + λ_max) > 2`; negative: the kernel
    regime diverges); NaN where the dynamics predicts none (Adam)."""

    # Images and structured signals (docs/theory.md §12); None in files saved before format 6.
    back_projection: np.ndarray | None = None
    """`Aᵀy` per seed, `[seeds, n]`: the observed signal (the noisy image for denoising, the kept pixels
    and zeros for inpainting)."""
    psnr: np.ndarray | None = None
    """`10 log₁₀(peak²/mean((x(t) − x̄)²))` at the checkpoints, `peak = max x̄ − min x̄`, `[seeds,
    checkpoints]`, NaN after the stop (as `loss`)."""
    ssim: np.ndarray | None = None
    """The SSIM of `x(t)` against `x̄` (scikit-image's, `data_range = peak`) at the checkpoints, for an
    image (`Config.side`); None for a 1-D signal."""
    observed_psnr: np.ndarray | None = None
    """The PSNR of `Aᵀy` per seed: for denoising, the noisy image's."""
    final_psnr: np.ndarray | None = None
    """The PSNR of `final_reconstruction` per seed."""
    best_psnr: np.ndarray | None = None
    """The largest PSNR along the path per seed (an oracle: it knows `x̄`)."""
    best_psnr_time: np.ndarray | None = None
    """The checkpoint time of `best_psnr`."""
    psnr_at_early_stop: np.ndarray | None = None
    """The PSNR at the first checkpoint at or after `T` (§7); NaN where `T` is infinite or not reached."""
    psnr_at_threshold: np.ndarray | None = None
    """The PSNR where the loss first reached the threshold (at the stop when the run stops there; else
    the first checkpoint at or after that time); NaN where it never did."""
    alignment: dict[str, np.ndarray] | None = None
    """With `Config.alignment_rank` r > 0: `eigenvalues` `[seeds, r]` (the top of `K(θ(0))`, descending,
    by Lanczos), the fractions of `‖x̄‖²` (`signal_alignment`), of `‖P_{ker A} x̄‖²` (`kernel_alignment`, NaN
    where `ker A = {0}`) and of a Gaussian vector's (`noise_alignment`) in the span of their eigenvectors
    `[seeds]`, the energy per eigenvector `signal_energy`, `noise_energy` `[seeds, r]`, and `converged`
    `[seeds]` (every Ritz pair's residual at most 1e-4 `λ_max(K)`) (docs/theory.md §12)."""

    certified = _theory_field(
        "certified",
        """Per seed: hypothesis (5) holds, so Theorem 2.1 predicts exponential convergence; None
        for a network without a known bound on `Lip(J)` (docs/theory.md §9).""",
    )
    certified_observation = _theory_field(
        "certified_observation", "Per seed: the observation-space certificate of §5 holds (None as for `certified`)."
    )
    rate_bound = _theory_field("rate_bound", "Per seed: `σ_A² σ_0² / 4`, the guaranteed rate when certified.")
    min_lambda_K = _theory_field("min_lambda_K", "Per seed: `λ_min(K(W(0)))` (0 when k < n).")
    min_lambda_H = _theory_field("min_lambda_H", "Per seed: `λ_min(H(W(0)))` on Im(A).")
    kernel_drift_K = _drift_field(
        "kernel_drift_K", "`‖K(t) − K(0)‖_F / ‖K(0)‖_F` at the checkpoints, `[seeds, checkpoints]` (`ntk`)."
    )
    kernel_drift_H = _drift_field(
        "kernel_drift_H", "`‖H(t) − H(0)‖_F / ‖H(0)‖_F` at the checkpoints, `[seeds, checkpoints]` (`ntk`)."
    )

    @property
    def converged(self) -> np.ndarray:
        return self.status == "converged"

    @property
    def frequency(self) -> float:
        """Fraction of seeds that reached the threshold (the paper's statistic, §6)."""
        return float(np.mean(self.converged))

    def counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.status == name)) for name in ENDINGS}

    def summary(self) -> str:
        c = self.config
        converged_steps = self.steps_to_threshold[self.converged]
        median = np.format_float_positional(np.median(converged_steps), trim="-") if converged_steps.size else "-"
        median_time = f"{np.median(self.time_to_threshold[self.converged]):.4g}" if converged_steps.size else "-"
        if is_discrete(c):
            method, timing = self._discrete_labels(median_time)
        else:
            ode = resolve_dynamics(c).dynamics_label  # "flow", "inertial flow α=2 β=0.5"
            method, timing = (
                f"{ode} ({solver_label(c)})  horizon t={c.horizon:g}",
                f"time {median_time}  (converged seeds)",
            )
        counts = "  ".join(f"{name} {count}" for name, count in self.counts().items())
        network = "" if self.network_name == "two_layer" else f"{described_network(c, self.network)}  "
        signal = f"{signal_label(c)}  " if signal_label(c) else ""
        return "\n".join(
            [
                f"wideDIP  {'  '.join(compact_shape(c, self.network))}  A: {self.operator_label}  {signal}{network}"
                f"{self.parametrization} {method}  threshold={c.threshold:g}",
                *unused_note(c, self.network),
                f"converged        {int(self.converged.sum())}/{c.seeds}  (frequency {self.frequency:.2f})",
                f"outcomes         {counts}",
                f"median steps     {median}  {timing}",
                self._stability_line(),
                f"median loss      initial {np.median(self.initial_loss):.3g}  final {np.median(self.final_loss):.3g}",
                *self._recovery_lines(),
                *self._operator_lines(),
                *self._theory_lines(),
                *self._observer_lines(),
                *self._image_lines(),
                f"wall time        {self.wall_time:.2f} s  on {self.environment.get('device', '?')}",
            ]
        )

    def _discrete_labels(self, median_time: str) -> tuple[str, str]:
        """A discrete run's name in the summary's first line, and the end of its median-steps line:
        gradient descent (and a registered dynamics of no optimizer) as `descent  eta=0.5`, another
        update rule by its label (`heavy ball η=0.1 μ=0.9`, `Adam lr=0.01`, `optax transformation`);
        the time to the threshold on the dynamics' own axis (`t = τ √η` for the heavy ball), none
        where the results are per iteration (Adam, an optax transformation of one's own)."""
        c = self.config
        dynamics = resolve_dynamics(c)
        if self.dynamics is None and dynamics.optimizer in (None, GradientDescent.optimizer):
            return f"{c.method}  eta={c.step_size:g}", f"time {median_time}  (converged seeds)"
        if self.dynamics is not None or not dynamics.has_time_axis:
            return self.dynamics or dynamics.label, "(converged seeds; results per iteration)"
        return dynamics.label, f"time {median_time}  (t = {dynamics.time_step:.4g} × steps; converged seeds)"

    def _stability_line(self) -> str:
        """Descent: the stability number `eta lambda_max(H(0))` against 2 (docs/theory.md §5.4); the flow:
        its stiffness `lambda_max(H(0))` (§10), against 2 over Euler's constant step."""
        c = self.config
        dynamics = resolve_dynamics(c)
        bound = 2.0 if not is_discrete(c) else dynamics.stability_bound()  # the flow: Euler's constant step
        not_finite = int(np.sum(~np.isfinite(self.stability)))
        unstable = f"{int(np.sum(self.stability > (bound or np.inf)))}/{c.seeds} seeds" + (
            f"; not finite for {not_finite}" if not_finite else ""
        )
        if self.dynamics is not None:
            return f"stability        not known: the {self.dynamics} holds its own step size"
        if is_discrete(c) and not dynamics.has_time_axis:
            return f"stability        not known: {dynamics.title}'s steps adapt to the gradients"
        if is_discrete(c):
            limit = f"> {bound:.3g} for {unstable}" if bound is not None else "no known limit"
            return f"stability        median eta*lambda_max(H(0)) {np.median(self.stability):.3g}  ({limit})"
        stiffness = f"stiffness        median lambda_max(H(0)) {np.median(self.stability / c.step_size):.3g}  "
        if isinstance(dynamics, InertialFlow):  # its fastest rate |s| is a root of s² + (α + βλ)s + λ (§11)
            fastest = np.median(dynamics.stiffness(self.stability / c.step_size))
            return stiffness + f"largest |s| {fastest:.3g}  (explicit solvers need steps below about 3/|s|, §11)"
        if c.solver == "euler":
            return stiffness + f"(Euler is stable while step*lambda_max < 2: > 2 for {unstable}, docs/theory.md §10)"
        return stiffness + "(explicit solvers need steps below about 3/lambda_max: docs/theory.md §10)"

    def _recovery_lines(self) -> list[str]:
        final = f"signal error     median final {np.median(self.final_signal_error):.3g}"
        if self.noise_norm is None or not np.any(self.noise_norm > 0):
            return [final + "  (||x - x_bar|| / ||x_bar||)"]
        times = self.early_stopping_time
        finite = np.isfinite(times)
        reasons = sorted(set(self.early_stopping_reason[~finite]))
        median_time = f"{np.median(times[finite]):.4g}" if finite.any() else "inf"
        checked = np.array([v is not None for v in self.bound_holds])
        held = int(sum(v is True for v in self.bound_holds))
        certified = self.certified
        if certified is None:
            outcome = "not checked: no certificate (5) for this network"
        elif not certified.any():
            outcome = "not checked: no seed is certified by (5)"
        else:
            outcome = (
                f"held on {held}/{int(checked.sum())} certified seeds checked  "
                f"({int((certified & ~checked).sum())} certified seeds stopped before T)"
            )
        at_stop = self.signal_error_at_early_stop
        at_stop = f"{np.nanmedian(at_stop):.3g}" if np.isfinite(at_stop).any() else "-"
        return [
            f"noise            noise={self.config.noise:g}  median ||epsilon|| {np.median(self.noise_norm):.3g}  "
            f"median final ||A x - y_bar|| {np.median(self.final_observation_error):.3g}  "
            f"(best along the path {np.median(self.best_observation_error):.3g})",
            f"early stopping   median T {median_time}  (finite for {int(finite.sum())}/{finite.size} seeds"
            + (f"; inf: {'; '.join(reasons)}" if reasons else "")
            + f")  median T_H "
            f"{np.median(self.observation_early_stopping_time):.4g}  median oracle time {np.median(self.oracle_time):.4g}",
            f"bound after T    ||y(t) - y_bar|| <= 2 ||epsilon||: {outcome}",
            f"{final}  best {np.median(self.best_signal_error):.3g}  at T {at_stop}  (||x - x_bar|| / ||x_bar||)",
        ]

    def at_time(self, curve: str, moments: np.ndarray | float) -> np.ndarray:
        """Per seed, the curve named `curve` (`loss`, `signal_error`, ...: `[seeds, checkpoints]`) at
        the first recorded checkpoint at or after `moments` (one time, or one per seed, such as
        `early_stopping_time`); NaN where there is none."""
        from .._analysis.recovery import first_at_or_after

        values = getattr(self, curve, None) if isinstance(curve, str) else None
        if not isinstance(values, np.ndarray) or values.shape != self.loss.shape:
            names = [name for name, array in array_fields(self).items() if array.shape == self.loss.shape]
            raise ValueError(f"at_time: curve must be one of {names}, got {curve!r}")
        return first_at_or_after(self.times, values, self._per_seed_moments("at_time", moments))

    def reconstruction_at(self, moments: np.ndarray | float) -> np.ndarray:
        """Per seed, the reconstruction `x(t)` (`[seeds, n]`) at the checkpoint `at_time` picks for `moments`
        (such as `oracle_time` or `early_stopping_time`); NaN where there is none. Needs `reconstructions`."""
        from .._analysis.recovery import at_checkpoint, first_index_at_or_after

        if self.reconstructions is None:
            raise ValueError(
                "reconstruction_at needs the reconstructions at the checkpoints: this result was saved "
                "without them (save it with reconstructions=True)"
            )
        recorded = ~np.isnan(self.reconstructions).any(axis=2)  # where `signal_error` is recorded
        index = first_index_at_or_after(self.times, recorded, self._per_seed_moments("reconstruction_at", moments))
        return at_checkpoint(self.reconstructions, index)

    def _per_seed_moments(self, caller: str, moments: np.ndarray | float) -> np.ndarray:
        """`moments` as one time per seed; a `ValueError` naming `caller` unless it is one number or
        one per seed."""
        seeds = self.final_loss.shape
        try:
            values = np.asarray(moments, float)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape not in ((), seeds):
            found = f"shape {values.shape}" if values is not None else repr(moments)
            raise ValueError(f"{caller}: moments must be one time or one per seed (shape {seeds}), got {found}")
        return np.broadcast_to(values, seeds)

    @property
    def early_stopping_reason(self) -> np.ndarray:
        """Per seed, why `early_stopping_time` is infinite ("" where it is finite)."""
        if self.theory is None:
            return np.full(self.final_loss.shape, "no noise: ||epsilon|| = 0")
        return self.theory.early_stopping_reason

    @property
    def operator_label(self) -> str:
        """The operator as the summary names it ("conditioned, κ(A) = 100, ‖A‖ = √n + √m", "custom sha256:1a2b3c4d")."""
        label = operator_of(self.config).describe()
        return label if self.operator_sha256 is None else f"{label} sha256:{self.operator_sha256[:8]}"

    def _operator_lines(self) -> list[str]:
        if self.norm_A is None:
            return []
        return [
            f"operator         median ||A|| {np.median(self.norm_A):.3g}  sigma_A {np.median(self.sigma_A):.3g}  "
            f"kappa(A) {np.median(self.kappa_A):.3g}  (SVD, per seed)"
        ]

    def _observer_lines(self) -> list[str]:
        """The measured rate of `‖r‖` against the linearised prediction, and with `track_ntk` the kernel
        drift at each seed's last evaluation: medians over seeds (docs/theory.md §11); none for a file
        saved before they existed."""
        lines = []
        if self.measured_rate is not None:
            if np.isnan(self.predicted_rate).all():
                prediction = "no linearised prediction for this dynamics"
            else:
                positive = self.predicted_rate > 0  # a prediction of 0 (no damping) or below has no ratio
                with np.errstate(invalid="ignore"):
                    ratio = _median_or_dash(
                        np.where(positive, self.measured_rate, np.nan) / np.where(positive, self.predicted_rate, np.nan)
                    )
                grows = " (< 0: the linearised iteration grows)" if np.nanmedian(self.predicted_rate) < 0 else ""
                if np.all(self.predicted_rate == 0):
                    grows = " (lambda_min(H(0)) = 0 to rounding: no exponential rate predicted)"
                prediction = f"predicted {_median_or_dash(self.predicted_rate)}{grows}  measured/predicted {ratio}"
            lines.append(
                f"rate of ||r||    median measured {_median_or_dash(self.measured_rate)}  {prediction}  "
                "(least-squares slope of -ln||r|| over the later half of each run above the threshold; predicted: "
                "the slowest linearised rate over the eigenvalues of H(0), docs/theory.md §11)"
            )
        if self.ntk is not None and all(name in self.ntk for name in KERNEL_DRIFTS):
            signal, observation = (_median_or_dash(last_recorded(self.ntk[name])) for name in KERNEL_DRIFTS)
            lines.append(
                f"kernel drift     median final ||K(t) - K(0)||/||K(0)|| {signal}  ||H(t) - H(0)||/||H(0)|| "
                f"{observation}  (Frobenius; each seed's last evaluation)"
            )
        return lines

    def _image_lines(self) -> list[str]:
        """The PSNR along the path (a structured signal's: docs/theory.md §12) and the alignment with the
        kernel's top eigenvectors: medians over seeds; none for a random signal law or an older file."""
        lines = []
        if self.psnr is not None and is_structured(self.config):
            ssim = "" if self.ssim is None else f"  final SSIM {_median_or_dash(last_recorded(self.ssim))}"
            observed = _median_or_dash(self.observed_psnr) + (
                "" if issubclass(OPERATORS[self.config.operator], OrthonormalRows) else " (not an image: AA^T != I)"
            )
            lines.append(
                f"PSNR (dB)        median observed A^T y {observed}  best "
                f"{_median_or_dash(self.best_psnr)} at t={_median_or_dash(self.best_psnr_time)}  at T "
                f"{_median_or_dash(self.psnr_at_early_stop)}  at the threshold {_median_or_dash(self.psnr_at_threshold)}  "
                f"final {_median_or_dash(self.final_psnr)}{ssim}"
            )
        if self.alignment is not None:
            a = self.alignment
            rank, n = a["signal_energy"].shape[1], self.signal.shape[1]
            unconverged = int(np.sum(~a["converged"].astype(bool)))
            null = int(np.sum(a["eigenvalues"][:, -1] <= NULL_EIGENVALUE * a["eigenvalues"][:, 0]))
            lines.append(
                f"alignment        fraction in the top {rank} eigenvectors of K(theta(0)): x_bar "
                f"{_median_or_dash(a['signal_alignment'])}  its ker A part {_median_or_dash(a['kernel_alignment'])}  "
                f"Gaussian {_median_or_dash(a['noise_alignment'])} (expected r/n = {rank / n:.3g})"
                + (f"  NOT CONVERGED for {unconverged} seeds (Lanczos residuals)" if unconverged else "")
                + (f"  K(theta(0)) has rank < {rank} for {null} seeds: the span is not its top {rank}" if null else "")
            )
        return lines

    def _theory_lines(self) -> list[str]:
        if self.theory is None:
            return []
        t = self.theory
        kernels = (
            f"median lambda_min(K) {np.median(t.min_lambda_K):.3g}  "
            f"lambda_min(H) {np.median(t.min_lambda_H):.3g}  lambda_max(H) {np.median(t.max_lambda_H):.3g}"
        )
        if t.certified is None:
            ratio = t.measured_lipschitz_ratio
            measured = "-" if ratio is None or np.isnan(ratio).all() else f"{np.nanmedian(ratio):.3g}"
            return [
                f"kernels at theta(0)  {kernels}",
                f"Theorem 2.1      no certificate: no bound on Lip(J) is known for this network; median rate "
                f"sigma_A^2 sigma_0^2/4 {np.median(t.rate_bound):.3g}, mu_0/4 {np.median(t.observation_rate_bound):.3g}",
                f"Lipschitz ratio  ||J(t) - J(0)|| / ||theta(t) - theta(0)||, largest along the path: median {measured} "
                f"(a lower bound on Lip(J), not a certificate)",
            ]
        return [
            f"kernels at W(0)  {kernels}",
            f"Theorem 2.1      certified by (5) {int(t.certified.sum())}/{t.certified.size}  "
            f"by the observation certificate {int(t.certified_observation.sum())}/{t.certified.size}  "
            f"median width it asks for {np.median(t.required_width):.3g}",
        ]

    def plot(self, path: str | os.PathLike | None = None):
        """A structured signal's run with its PSNR (an image, a Donoho–Johnstone or piecewise-constant
        signal): the grid of clean, observed and reconstructed signals with the PSNR over time
        (docs/theory.md §12, `plot_images`); a random signal law's: the loss, `‖y(t) − ȳ‖` (with `2‖ε‖`,
        `T` and `T_H` when noisy) and the signal error with its row-space and kernel parts over time
        (docs/theory.md §7). Writes it to `path` when given."""
        from .._figures.images import plot_images
        from .._figures.plots import plot_run

        if self.psnr is not None and is_structured(self.config):
            return plot_images(self, path)
        return plot_run(self, path)

    def plot_ntk(self, path: str | os.PathLike | None = None):
        """Kernel extremes and the loss with Theorem 2.1's envelope over time (needs `track_ntk`)."""
        from .._figures.plots import plot_ntk

        return plot_ntk(self, path)

    @property
    def parametrization(self) -> str:
        """ "full" or "reduced": the parametrization actually simulated."""
        return self.network["parametrization"] if self.network else self.config.resolved_parametrization

    @property
    def network_name(self) -> str:
        return self.network["name"] if self.network else self.config.network

    def to_json(self, *, reconstructions: bool = False, operator_matrix: bool = False) -> dict[str, Any]:
        """Every field of the result as JSON values (arrays as nested lists, NaN and inf as null;
        the theory report with its derived quantities), with `frequency`, `counts`, `operator` (its label);
        the large `reconstructions` and `operator_matrix` only when asked for (as `save`)."""
        left_out = _left_out(reconstructions, operator_matrix)
        fields = {name: value for name, value in json_fields(self).items() if name not in left_out}
        if self.theory is not None:
            fields["theory"] = self.theory.to_json()
        return json_value(
            {
                "frequency": self.frequency,
                "counts": self.counts(),
                "operator": self.operator_label,
                "early_stopping_reason": self.early_stopping_reason,
                **fields,
            }
        )

    def save(self, path: str | os.PathLike, *, reconstructions: bool = False, operator_matrix: bool = False) -> Path:
        """Write one `.npz` holding the arrays and a JSON header (config, versions, device); `wideDIP.load`
        reads it back. Its size, in numbers: about `seeds × checkpoints × 10` for the curves (at most 100
        checkpoints) and `seeds × (3 n + 2 m)` for `x̄`, `y`, `ȳ` and the best and final reconstructions;
        with `reconstructions`, `seeds × checkpoints × n` more for `x(t)` at every checkpoint, and with
        `operator_matrix`, `seeds × m × n` more for `A` (left out, they load as None)."""
        left_out = _left_out(reconstructions, operator_matrix)
        arrays = {name: _encoded(name, values) for name, values in array_fields(self).items() if name not in left_out}
        theory = None if self.theory is None else self.theory.to_arrays()
        arrays |= prefixed({"ntk": self.ntk, "theory": theory, "alignment": self.alignment})
        return save_result(self, path, "simulation", arrays, SIMULATION_HEADER_FIELDS)

    @classmethod
    def from_saved(cls, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> SimulationResult:
        """The result that `save` wrote: `fields` from the file's header, `arrays` from the file (decoded,
        the `ntk__` and `theory__` arrays regrouped)."""
        arrays = {name: _decoded(name, values) for name, values in arrays.items()}
        groups = grouped(arrays, ("ntk", "theory", "alignment"))
        theory = None if groups["theory"] is None else TheoryReport.from_arrays(groups["theory"])
        return cls(**fields, ntk=groups["ntk"], theory=theory, alignment=groups["alignment"], **arrays)


def _median_or_dash(values: np.ndarray) -> str:
    """The median of the values of `values` that are not NaN, as the summary writes it; "-" where there are none."""
    return "-" if np.isnan(values).all() else f"{np.nanmedian(values):.3g}"


def solver_label(config: Config) -> str:
    """The flow's solver as the summaries name it: its constant step for Euler, else its tolerances."""
    if config.solver == "euler":
        return f"euler, step {config.step_size:g}"
    return f"{config.solver}, rtol={config.rtol:g}, atol={config.atol:g}"


def _left_out(reconstructions: bool, operator_matrix: bool) -> tuple[str, ...]:
    """The large fields of a `SimulationResult` that `save` and `to_json` leave out unless asked for."""
    asked = {"reconstructions": reconstructions, "operator_matrix": operator_matrix}
    for name, value in asked.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False (whether to include the field {name!r}), got {value!r}")
    return tuple(name for name, kept in asked.items() if not kept)


def json_fields(result: Any) -> dict[str, Any]:
    """The dataclass fields of a result by name, its config as a dict (for `json_value`)."""
    return {**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)}, "config": result.config.to_dict()}


def array_fields(result: Any) -> dict[str, np.ndarray]:
    """The dataclass fields of a result that are arrays, by name."""
    return {name: value for name, value in json_fields(result).items() if isinstance(value, np.ndarray)}


def prefixed(groups: dict[str, dict[str, np.ndarray] | None]) -> dict[str, np.ndarray]:
    """The arrays of `groups` (dicts of arrays, or None) as a file stores them: `GROUP__name`."""
    return {f"{group}__{name}": values for group, arrays in groups.items() for name, values in (arrays or {}).items()}


def grouped(arrays: dict[str, np.ndarray], groups: tuple[str, ...]) -> dict[str, dict[str, np.ndarray] | None]:
    """The `GROUP__name` arrays of each of `groups`, taken out of `arrays`, by name (None: a group with none)."""
    return {
        group: {name.split("__", 1)[1]: arrays.pop(name) for name in list(arrays) if name.startswith(group + "__")}
        or None
        for group in groups
    }


def largest_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per row (seed), the largest of `values` where `where` holds; NaN for a row where it never does."""
    return np.where(where.any(axis=1), np.where(where, values, -np.inf).max(axis=1), np.nan)


HEADER_FIELDS = ("wall_time", "environment", "operator_sha256", "network")
"""The fields of a result kept in its file's JSON header with its config (the rest are arrays)."""
SIMULATION_HEADER_FIELDS = (*HEADER_FIELDS, "dynamics")
"""A simulation's: with the dynamics that ran where its config does not say it."""


def save_result(
    result: Any,
    path: str | os.PathLike,
    kind: str,
    arrays: dict[str, np.ndarray],
    header_fields: tuple[str, ...] = HEADER_FIELDS,
) -> Path:
    """Write `arrays` and a JSON header (format, `kind`, config, `header_fields`) to one `.npz` at
    `result_path(path)`, through a temporary file (`SimulationResult.save`, `ComparisonResult.save`)."""
    path = check_writable(result_path(path), f"{type(result).__name__}.save")
    header = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "config": result.config.to_dict(),
        **{name: getattr(result, name) for name in header_fields},
    }
    temporary = path.with_name(path.name + ".partial.npz")
    np.savez(temporary, header=np.array(json.dumps(header)), **arrays)
    os.replace(temporary, path)
    return path


def json_value(value: Any) -> Any:
    """`value` with its arrays as nested lists, NumPy scalars as Python ones, NaN and inf as None."""
    if isinstance(value, dict):
        return {name: json_value(entry) for name, entry in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(entry) for entry in value]
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_TRI_STATE = ("bound_holds",)
"""Object arrays of True/False/None, stored as int8 1/0/−1 (a `.npz` holds no Python objects)."""


def _encoded(name: str, values: np.ndarray) -> np.ndarray:
    if name not in _TRI_STATE:
        return values
    return np.array([-1 if v is None else int(v) for v in values], np.int8)


def _decoded(name: str, values: np.ndarray) -> np.ndarray:
    """`values` as saved by `_encoded`, decoded (the tri-state arrays back to True/False/None)."""
    if name not in _TRI_STATE:
        return values
    return np.array([None if v < 0 else bool(v) for v in values], dtype=object)
