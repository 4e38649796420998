"""`simulate(config)`: draw every seed's problem, train all seeds at once (descent or flow),
collect the outcome (docs/theory.md §1, §4, §6), for any network (§9)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._analysis.alignment import alignment
from .._analysis.image_quality import psnr, ssim
from .._analysis.rates import eigenvalues_on_image, measured_rate, predicted_rate
from .._analysis.recovery import at_checkpoint, best_checkpoint, path_statistics, psnr_statistics, recovery_curves
from .._analysis.theory import TheoryReport, generic_theory_inputs
from .._config import Config, reduced_refused
from .._dynamics.base import DiscreteDynamics
from .._dynamics.optax_dynamics import OptaxDynamics
from .._dynamics.registry import OPTIMIZERS
from .._integrate.integrate import (
    Start,
    Trajectory,
    checkpoint_steps,
    checkpoint_times,
    evenly_spread,
    integrate,
    integrate_cells,
)
from .._integrate.outcomes import Outcome, outcome_labels
from .._networks.base import HasLipschitzBound, Network
from .._networks.kernel_spectra import kernel_spectrum
from .._networks.kernels import JacobianProbe, KernelProbe
from .._networks.losses import GenericDynamics
from .._operators.base import matrix_sha256, realised_spectrum
from .._problems.problem import Problem, ProblemLaw, draw_seeds
from .._resolve import (
    checked_matrix,
    has_ssim,
    network_description,
    problem_law,
    resolve_dynamics,
    resolve_network,
    resolved_ntk_implementation,
    resolved_parametrization,
    seed_keys,
    stopping_rule,
)
from .._results.simulation import SimulationResult, environment, largest_where
from .._runtime.locks import LAPACK_LOCK
from .._runtime.parallel import padded_seeds
from .batches import Batch

ALIGNMENT_STREAM = 200
"""The stream of a seed's key (`fold_in`) for the alignment's Lanczos start and Gaussian vector: clear
of the problem's (0, 1, 2, ...) and the network's (100)."""
ALIGNMENT_LANCZOS_STEPS = 200
"""At least this many Lanczos steps (and `2 r`, at most `n`) for the top-`r` eigenvectors of `K(θ(0))`."""
ALIGNMENT_RESIDUAL = 1e-4
"""A seed's alignment is `converged` when every top-`r` Ritz pair's residual `‖K y − θ y‖` is at most
this fraction of `λ_max(K)`."""
INITIAL_KERNELS = ("min_lambda_K", "min_lambda_H", "max_lambda_H")
"""The kernel statistics at θ(0) that Theorem 2.1 and the early-stopping times need (§5, §7)."""


def precision(config: Config) -> contextlib.AbstractContextManager:
    """The JAX precision context the config asks for (float64 needs `jax_enable_x64`)."""
    return jax.enable_x64(True) if config.dtype == "float64" else contextlib.nullcontext()


@dataclasses.dataclass(frozen=True)
class Plan:
    """What is simulated, resolved from the config and the network (static: it shapes the
    compiled setup)."""

    parametrization: str
    """"full" (the generic path on the literal parameters) or "reduced" (the network's fast path)."""
    kernels: str | None
    """How the kernels are computed, "closed_form" or "jacobian", when they are needed: along the
    run (`track`), or at θ(0) only, for the early-stopping times of a noisy run (docs/theory.md
    §7); None otherwise."""
    track: bool = False
    """Whether the kernels are tracked along the run (`Config.track_ntk`)."""
    alignment: int = 0
    """The rank `r` of the alignment with `K(θ(0))` (`Config.alignment_rank`, docs/theory.md §12); 0: none."""


def make_plan(config: Config, network: Network) -> Plan:
    """The plan of `config` for `network`; a `ValueError` naming the field when the network
    lacks what the config asks for."""
    needed = config.track_ntk or config.noise > 0
    return Plan(
        resolved_parametrization(config, network),
        resolved_ntk_implementation(config, network) if needed else None,
        config.track_ntk,
        config.alignment_rank,
    )


def refuse_unused_kernel_settings(cells: list[tuple[Config, Network]], caller: str) -> None:
    """A `ValueError` naming the field when a kernel setting applies to none of the `cells` (each a
    config and its resolved network): `ntk_implementation` where no kernel is computed (`Plan.kernels`),
    `ntk_checkpoints` where every kernel is evaluated at every checkpoint (`recorded_checkpoints`).
    Checked over a whole sweep: a cell without noise may share the setting with noisy ones."""
    plans = [(config, network, make_plan(config, network)) for config, network in cells]
    if all(plan.kernels is None for _, _, plan in plans) and any(c.ntk_implementation != "auto" for c, _ in cells):
        raise ValueError(
            f"{caller}: Config.ntk_implementation applies only where kernels are computed: with Config.track_ntk, "
            "or with noise > 0 (the early-stopping time)"
        )
    tracked = [(config, network, plan) for config, network, plan in plans if plan.track]
    if any(config.ntk_checkpoints != Config.ntk_checkpoints for config, _ in cells) and all(
        network.kernel_checkpoints(config.ntk_checkpoints, plan.kernels) is None for config, network, plan in tracked
    ):
        raise ValueError(
            f"{caller}: Config.ntk_checkpoints applies to the kernels that need the recorded parameters (the Jacobian "
            "route, the closed form of two_layer_both); here they are evaluated at every checkpoint"
        )


def recorded_checkpoints(config: Config, network: Network, plan: Plan) -> np.ndarray | None:
    """The checkpoints (indices) at which the state is recorded for the kernels: every one for a
    closed form that needs only `z` (the paper's network), else `ntk_checkpoints` of them, evenly
    spaced in index (so log-spaced in time) over the whole budget, the first and the last included
    (the flow's; descent spreads them over the checkpoints its run reaches: `integrate`)."""
    if not plan.track:
        return None
    count = checkpoint_steps(config.steps).size
    wanted = network.kernel_checkpoints(config.ntk_checkpoints, plan.kernels)
    if wanted is None or wanted >= count:
        return np.arange(count)
    return evenly_spread(np.arange(count), wanted)


@eqx.filter_jit
def _setup(network: Network, plan: Plan, keys, laws: ProblemLaw, shared: ProblemLaw):
    """The `Prepared` seeds (docs/theory.md §1, §4, §6, §8, §9): dynamics on the generic path or the
    network's fast path, the kernel probe and Theorem 2.1's inputs when the plan needs kernels; one
    compilation per structure of the problem's law (`laws`: the per-seed numbers, `shared`: the rest:
    `seed_arrays`). (The draws stay in this one program: compiled apart, the paper's `W(0)` for the
    full path changed in its last bits.)"""
    # one copy per seed: each seed then computes exactly as with a drawn operator (an unbatched
    # matrix would turn A x̄ into one product over all seeds, whose bits depend on their number)
    shared = jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, keys.shape[:1] + leaf.shape), shared)
    problems = draw_seeds(eqx.combine(laws, shared), keys)

    def one(key, problem):
        seed_network, literal = network.for_seed(problem, key)  # the other hooks: on this seed's network
        if plan.parametrization == "reduced":
            dynamics, parameters = seed_network.reduced(problem)
        else:
            dynamics = GenericDynamics(seed_network, problem.operator, problem.input, problem.observation)
            parameters = literal
        probe = None
        if plan.kernels == "closed_form":
            probe = seed_network.kernel_probe(problem)
        elif plan.kernels == "jacobian":
            probe = JacobianProbe(seed_network, literal, problem.operator, problem.input)
        return dynamics, parameters, probe

    def spectra_of(seed):
        key, problem = seed
        seed_network, literal = network.for_seed(problem, key)
        return (
            seed_network.observation_eigenvalues(problem, literal),
            *realised_spectrum(problem.operator),
        )

    def theory_of(seed):
        key, problem, dynamics, parameters, probe, norm, sigma = seed
        seed_network, _ = network.for_seed(problem, key)
        if isinstance(seed_network, HasLipschitzBound):
            return seed_network.theory_inputs(problem, norm, sigma)
        theory = generic_theory_inputs(problem, dynamics.signal(parameters, problem), norm, sigma)
        if not plan.track:  # the kernels at θ(0) (when tracking: the curves' first checkpoint)
            at_start = probe.along(dynamics.features(parameters)[None])
            theory.update({name: at_start[name][0] for name in INITIAL_KERNELS})
        return theory

    def alignment_of(seed):
        key, problem = seed
        seed_network, literal = network.for_seed(problem, key)
        spectrum_key, noise_key = jax.random.split(jax.random.fold_in(key, ALIGNMENT_STREAM))
        steps = min(problem.signal.shape[0], max(ALIGNMENT_LANCZOS_STEPS, 2 * plan.alignment))
        spectrum = kernel_spectrum(seed_network, literal, problem.input, spectrum_key, rank=plan.alignment, steps=steps)
        return {
            "eigenvalues": spectrum.values,
            "converged": jnp.all(spectrum.residuals <= ALIGNMENT_RESIDUAL * spectrum.largest),
            **alignment(spectrum.vectors, problem.signal, problem.operator, noise_key),
        }

    dynamics, parameters, probe = jax.vmap(one)(keys, problems)
    # the decompositions one seed after another: a batched SVD and a batched eigh in one program
    # deadlock XLA's CPU runtime now and then (both wait in jaxlib's ParallelBatchMap for work
    # queued on the thread pool their own calls occupy: seen on 2 cores, gdb)
    eigenvalues, norm, sigma = jax.lax.map(spectra_of, (keys, problems))
    theory = None
    if plan.kernels is not None:
        theory = jax.lax.map(theory_of, (keys, problems, dynamics, parameters, probe, norm, sigma))
    aligned = jax.lax.map(alignment_of, (keys, problems)) if plan.alignment else None
    return Prepared(problems, dynamics, parameters, eigenvalues, norm, sigma, probe, theory, aligned)


@eqx.filter_jit
def _final_errors(problems, dynamics, parameters):
    """`‖x − x̄‖/‖x̄‖`, `‖A x − ȳ‖` and the reconstruction `x` per seed at the final parameters."""

    def one(problem, dyn, p):
        signal = dyn.signal(p, problem)
        return (
            jnp.linalg.norm(signal - problem.signal) / jnp.linalg.norm(problem.signal),
            jnp.linalg.norm(problem.operator @ signal - problem.clean_observation),
            signal,
        )

    return jax.vmap(one)(problems, dynamics, parameters)


class Prepared(eqx.Module):
    """Every seed's problem, dynamics and initial parameters, ready for either method."""

    problems: Problem
    dynamics: eqx.Module
    parameters: object
    observation_eigenvalues: jax.Array
    """The eigenvalues of `H(θ(0))` per seed, ascending, `[seeds, m]` (docs/theory.md §3; a padded
    cell's with the padding's zeros first: `eigenvalues_on_image`)."""
    norm_A: jax.Array
    sigma_A: jax.Array
    """`‖A‖` and `σ_A` per seed, as `SimulationResult`'s."""
    probe: eqx.Module | None
    """The kernels' route when tracking: a closed form (`KernelProbe`, ...) or `JacobianProbe`."""
    theory: dict[str, jax.Array] | None
    """Inputs of Theorem 2.1 per seed (`theory_inputs`), when the plan needs kernels."""
    alignment: dict[str, jax.Array] | None = None
    """The alignment with the top eigenvectors of `K(θ(0))` per seed (`Plan.alignment`, docs/theory.md §12)."""

    @property
    def largest_eigenvalue(self) -> jax.Array:
        """`λ_max(H(θ(0)))` per seed (docs/theory.md §3)."""
        return self.observation_eigenvalues[:, -1]

    def rows(self, first: int, seeds: int) -> Prepared:
        """The seeds `first, …, first + seeds − 1` (a cell of a batch; `rows(0, seeds)` drops the
        padding of `padded_seeds`)."""
        return _seed_rows(self, jnp.asarray(first), seeds)


@eqx.filter_jit
def _seed_rows(prepared: Prepared, first: jax.Array, seeds: int) -> Prepared:
    """`Prepared.rows`: one compilation per count of seeds."""
    return jax.tree.map(lambda leaf: jax.lax.dynamic_slice_in_dim(leaf, first, seeds), prepared)


def _is_number(leaf: Any) -> bool:
    """Whether a leaf of a problem's law is one of its numbers (a scalar: the operator's numbers,
    the noise level, a padded cell's sizes), which differ between the cells of a batch; the others
    (the custom matrix) are the same in every cell."""
    return eqx.is_array(leaf) and leaf.ndim == 0


def seed_arrays(batch: Batch, matrix: np.ndarray | None) -> tuple[jax.Array, ProblemLaw, ProblemLaw]:
    """The keys of every seed of `batch`, padded to a multiple of the device count (the extra
    seeds continue the last cell: drawn with their own keys, computed, dropped), and their problem
    laws (`problem_law`, drawn at `batch.shape`'s sizes when padded) split into the per-seed
    numbers (`_is_number`, stacked over the seeds) and the part every seed shares (call inside
    `precision`)."""
    *cells, last = batch.configs
    last = last.replace(seeds=last.seeds + padded_seeds(batch.seeds) - batch.seeds)
    keys, numbers = [], []
    for config in (*cells, last):
        keys.append(seed_keys(config))
        law = problem_law(config, matrix)
        if batch.padded:
            law = law.padded(batch.shape.m, batch.shape.n)
        per_seed, shared = eqx.partition(law, _is_number)
        numbers.append(jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (config.seeds,)), per_seed))  # noqa: B023
    return jnp.concatenate(keys), jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *numbers), shared


def prepare(
    config: Config | Batch,
    *,
    network: Network | None = None,
    plan: Plan | None = None,
    matrix: np.ndarray | None = None,
) -> Prepared:
    """Draw and set up every seed of `config` (of a `Batch`'s cells, at `batch.shape`) for `network`
    (default: the built-in of `Config.network`; else resolved by the caller) and `plan` (default:
    `make_plan`), padded to a multiple of the device count (call inside `precision`); `matrix`: the
    custom operator (`checked_matrix`)."""
    batch = config if isinstance(config, Batch) else Batch((config,))
    network = resolve_network(batch.shape, None, "prepare") if network is None else network
    plan = make_plan(batch.shape, network) if plan is None else plan
    keys, laws, shared = seed_arrays(batch, matrix)
    with LAPACK_LOCK:
        return jax.block_until_ready(_setup(network, plan, keys, laws, shared))


@eqx.filter_jit
def _kernel_curves(probe: KernelProbe | JacobianProbe, features):
    """Kernel statistics at the recorded checkpoints from the recorded states, which determine
    them (`z(t) = W(t) u` for the paper's network, §4; the parameters otherwise, §9); computed
    after the run, so the solver loop never pays for eigendecompositions or Jacobians. One
    compiled function; seeds one after another, to bound memory (`checkpoints × n × k` at a
    time for the closed form, one `n × p` Jacobian at a time for the Jacobian route)."""
    return jax.lax.map(lambda arguments: arguments[0].along(arguments[1]), (probe, features))


def kernel_curves(probe, run: Trajectory, dtype: str) -> dict[str, np.ndarray]:
    """The kernel statistics `[seeds, checkpoints]`: computed at the recorded checkpoints, NaN at
    the others and after each seed's stop."""
    states = np.nan_to_num(run.states)  # NaN after the stop: masked below
    with LAPACK_LOCK:
        curves = jax.block_until_ready(_kernel_curves(probe, jnp.asarray(states, jnp.dtype(dtype))))
    stopped = np.isnan(run.snapshots.loss)
    kernel = {}
    for name, values in curves.items():
        values = np.asarray(values)
        every = np.full(stopped.shape, np.nan, values.dtype)
        every[:, run.recorded] = values
        kernel[name] = np.where(stopped, np.nan, every)
    return kernel


def integrate_config(
    config: Config,
    prepared: Prepared,
    seeds: int,
    progress: bool,
    record: np.ndarray | None,
    times: np.ndarray | None = None,
) -> Trajectory:
    """`integrate` of the dynamics of `config` (`resolve_dynamics`, `stopping_rule`) from `prepared`."""
    start = Start(prepared.dynamics, prepared.problems, prepared.parameters, prepared.largest_eigenvalue)
    dynamics, rule = resolve_dynamics(config), stopping_rule(config)
    return integrate(dynamics, rule, start, seeds=seeds, progress=progress, record=record, times=times)


def simulate(
    config: Config,
    *,
    network: Network | None = None,
    operator: np.ndarray | None = None,
    optimizer: optax.GradientTransformation | None = None,
    progress: bool = True,
) -> SimulationResult:
    """Train the network of `config` (`config.network`, or `network`, a `wideDIP.Network` of
    one's own) on `config.seeds` random draws, by gradient flow (3) or discrete steps
    (`config.method`): gradient descent, heavy ball, Nesterov or Adam (`config.optimizer`,
    docs/theory.md §11), or `optimizer`.

    `optimizer`: any `optax.GradientTransformation` of one's own (`optimizer=optax.lion(1e-3)`), run
    in place of `Config.optimizer` under method="descent" (leave `Config.optimizer` and
    `Config.step_size` at their defaults: it holds its own learning rate). Its update is its own, so
    it runs on the literal parameters (`parametrization` "auto" runs, and is recorded, as "full";
    "reduced" is refused) and its results are per iteration (no time axis); the result's `dynamics`
    and summary name it "optax transformation". Its numbers are compiled in, unless it keeps them in
    its state (`optax.inject_hyperparams`). `optimizer=optax.sgd(η)` gives the bits of
    `optimizer="sgd", step_size=η, parametrization="full"`.

    `operator`: the `(m, n)` matrix of `Config.operator="custom"` (docs/theory.md §8), the same
    for every seed; its SHA-256 is recorded in the result. A progress bar appears when a
    descent lasts more than two seconds (a flow shows diffrax's bar), unless `progress=False`.
    """
    if not isinstance(config, Config):
        raise ValueError(f"simulate expects a wideDIP.Config, got {type(config).__name__}")
    config, dynamics = _own_optimizer(config, optimizer)
    refuse_unused_kernel_settings([(config, resolve_network(config, network, "simulate"))], "simulate")
    (result,) = simulate_batch(
        Batch((config,)),
        network=network,
        operator=checked_matrix(config, operator),
        progress=progress,
        dynamics=dynamics,
    )
    return result


def _own_optimizer(config: Config, optimizer: Any) -> tuple[Config, OptaxDynamics | None]:
    """`config` and `simulate`'s `optimizer` as the dynamics that runs it (`OptaxDynamics`; None
    without one), its parametrization "auto" taken as "full"; a `ValueError` naming the argument
    or the field for anything else than a transformation, or settings it would leave unused."""
    if optimizer is None:
        return config, None
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(
            "simulate: optimizer must be an optax.GradientTransformation such as optax.lion(1e-3) (the built-in "
            f"update rules are Config.optimizer's: {', '.join(OPTIMIZERS)}), got {type(optimizer).__name__}"
        )
    fields = ("method", "optimizer", "step_size")
    if any(getattr(config, name) != getattr(Config, name) for name in fields):
        got = ", ".join(f"{name}={getattr(config, name)!r}" for name in fields)
        raise ValueError(
            "simulate: optimizer= replaces Config.optimizer and its learning rate Config.step_size (the "
            f"transformation holds its own), under method='descent': leave {', '.join(f'Config.{name}' for name in fields)} "
            f"at their defaults (got {got})"
        )
    if config.parametrization == "reduced":
        raise reduced_refused("simulate's optimizer=")
    return config.replace(parametrization="full"), OptaxDynamics.of(optimizer, config.steps)


def simulate_batch(
    batch: Batch,
    *,
    network: Network | None = None,
    operator: np.ndarray | None = None,
    progress: bool = False,
    done: Callable[[int, SimulationResult], None] | None = None,
    dynamics: DiscreteDynamics | None = None,
) -> list[SimulationResult]:
    """`simulate` of every cell of `batch` (`wideDIP._experiments.batches`), in the order of its cells:
    one setup and one loop compiled for `batch.shape`. A descent sets up every seed of the batch at
    once and runs them in one loop, each seed leaving it when it stops (`integrate_cells`); a flow
    runs one call per cell (`Batch.calls`). `done(index, result)` is called as each cell finishes;
    `operator`: the custom matrix, checked; `dynamics`: what runs in place of the cells' own
    (`simulate`'s `optimizer=`)."""
    results = {}
    for index, result in _simulate_cells(batch, network, operator, progress, dynamics):
        results[index] = result
        if done is not None:
            done(index, result)
    return [results[index] for index in range(len(batch.configs))]


def network_record(config: Config, network: Network, plan: Plan) -> dict[str, Any]:
    """What a result records of the network it ran: name, description, parameter count (`describe`,
    which checks the network's shapes) and the parametrization and kernels of `plan`."""
    return {
        **network_description(config, network),
        "parametrization": plan.parametrization,
        "ntk_implementation": plan.kernels,
    }


def _simulate_cells(
    batch: Batch,
    network: Network | None,
    operator: np.ndarray | None,
    progress: bool,
    dynamics: DiscreteDynamics | None = None,
) -> Iterator[tuple[int, SimulationResult]]:
    """The index and result of each cell of `batch` as it finishes (`simulate_batch`); a cell's
    `wall_time`: the seconds since the batch's previous result (the first: since the batch started),
    so that the wall times of a batch add up to its duration."""
    started = time.perf_counter()
    shape = batch.shape
    resolved = resolve_network(shape, network, "simulate")
    plan = make_plan(shape, resolved)
    record = recorded_checkpoints(shape, resolved, plan)
    with precision(shape):
        descriptions = [network_record(c, resolve_network(c, network, "simulate"), plan) for c in batch.configs]
        method = resolve_dynamics(shape) if dynamics is None else dynamics
        if isinstance(method, DiscreteDynamics):
            prepared = prepare(batch, network=resolved, plan=plan, matrix=operator)
            start = Start(prepared.dynamics, prepared.problems, prepared.parameters, prepared.largest_eigenvalue)
            seeds = [config.seeds for config in batch.configs]
            firsts = np.cumsum([0, *seeds])
            runs = integrate_cells(method, stopping_rule(shape), start, seeds, progress=progress, record=record)
            cells = ((index, prepared.rows(firsts[index], seeds[index]), run) for index, run in runs)
        else:  # a flow's solve runs until its slowest seed: one call per cell
            cells = (
                (index, prepared.rows(0, seeds), integrate_config(shape, prepared, seeds, progress, record))
                for index, call in enumerate(batch.calls())
                for prepared, seeds in [(prepare(call, network=resolved, plan=plan, matrix=operator), call.seeds)]
            )
        for index, cell, run in cells:
            outputs = _outputs(cell, run, plan, shape.dtype)
            elapsed = time.perf_counter() - started
            result = _result(
                batch.configs[index], resolved, run, outputs, operator, elapsed, descriptions[index], dynamics
            )
            started = time.perf_counter()
            yield index, result


def _outputs(prepared: Prepared, run: Trajectory, plan: Plan, dtype: str) -> dict[str, Any]:
    """What `_result` needs of a cell's `prepared` seeds and `run`, on the host."""
    with LAPACK_LOCK:
        curves = recovery_curves(prepared.problems, run.snapshots.signal, dtype)
    return jax.tree.map(
        np.asarray,
        {
            "final": _final_errors(prepared.problems, prepared.dynamics, run.final_parameters),
            "curves": curves,
            "kernel": kernel_curves(prepared.probe, run, dtype) if plan.track else None,
            "host": (prepared.observation_eigenvalues, prepared.norm_A, prepared.sigma_A, prepared.theory),
            "problem": {
                name: getattr(prepared.problems, name)
                for name in ("signal", "observation", "clean_observation", "operator")
            },
            "back_projection": _back_projections(prepared.problems),
            "alignment": prepared.alignment,
        },
    )


@eqx.filter_jit
def _back_projections(problems: Problem) -> jax.Array:
    """`Aᵀy` per seed: the observed signal (docs/theory.md §12)."""
    return jnp.einsum("smn,sm->sn", problems.operator, problems.observation)


def _result(
    config: Config,
    network: Network,
    run: Trajectory,
    outputs: dict[str, Any],
    matrix: np.ndarray | None,
    wall_time: float,
    description: dict,
    dynamics: DiscreteDynamics | None = None,
) -> SimulationResult:
    """The cell's `SimulationResult` from its run and `outputs` (`_outputs`; `problem`: `x̄`, `y`,
    `ȳ` and `A` per seed, at the call's shape: padded beyond the cell's `m` and `n`,
    `wideDIP._experiments.batches`); `dynamics`: what ran in place of the config's."""
    final_signal_error, final_observation_error, final_reconstruction = outputs["final"]
    eigenvalues, norm_A, sigma_A, inputs = outputs["host"]
    curves, kernel, problem = outputs["curves"], outputs["kernel"], outputs["problem"]
    method = resolve_dynamics(config) if dynamics is None else dynamics
    m, n = config.m, config.n
    reconstructions = run.snapshots.signal[..., :n]
    theory = None
    if inputs is not None:
        certificate = isinstance(network, HasLipschitzBound) and "min_lambda_K" in inputs
        lipschitz_ratio = None
        if kernel is not None:  # tracked
            ratio = kernel["jacobian_lipschitz_ratio"]
            lipschitz_ratio = largest_where(ratio, ~np.isnan(ratio))
            if not certificate:  # σ_0², μ_0, λ_max(H) at θ(0) from the kernels' first checkpoint
                inputs = {**inputs, **{name: kernel[name][:, 0] for name in INITIAL_KERNELS}}
        theory = TheoryReport.from_inputs(
            inputs,
            n,
            config.k,
            config.activation,
            lipschitz_bound_known=certificate,
            measured_lipschitz_ratio=lipschitz_ratio,
        )
    curves = dict(curves)
    noise_norm = curves.pop("noise_norm")
    signal = problem["signal"][:, :n]
    no_time = np.full(config.seeds, np.inf)
    early_stopping_time = no_time if theory is None else theory.early_stopping_time
    converged = run.outcome == Outcome.CONVERGED
    times = checkpoint_times(method)
    time_to_threshold = np.where(converged, run.crossing_time, np.nan)
    psnr_curve, final_psnr = psnr(reconstructions, signal), psnr(final_reconstruction[:, :n], signal)
    stopped_at_threshold = converged & config.stop_at_threshold
    return SimulationResult(
        config=config,
        status=outcome_labels(run.outcome),
        steps_to_threshold=np.where(converged, run.crossing_step, -1),
        stop_step=run.stop_step,
        stop_time=run.stop_time,
        time_to_threshold=time_to_threshold,
        solver_steps=run.solver_steps,
        initial_loss=run.initial_loss,
        final_loss=run.final_loss,
        times=times,
        loss=run.snapshots.loss,
        weight_distance=run.snapshots.weight_distance,
        **curves,
        final_signal_error=final_signal_error,
        final_observation_error=final_observation_error,
        noise_norm=noise_norm,
        early_stopping_time=early_stopping_time,
        observation_early_stopping_time=no_time if theory is None else theory.observation_early_stopping_time,
        **path_statistics(times, curves, noise_norm, early_stopping_time, None if theory is None else theory.certified),
        stability=method.stability(eigenvalues[:, -1]),
        measured_rate=measured_rate(times, run.snapshots.loss, config.threshold),
        predicted_rate=predicted_rate(method, eigenvalues_on_image(eigenvalues, m, n)),
        norm_A=norm_A,
        sigma_A=sigma_A,
        kappa_A=norm_A / sigma_A,
        operator_sha256=matrix_sha256(matrix if config.operator == "custom" else None),
        ntk=kernel,
        theory=theory,
        wall_time=wall_time,
        environment=environment(),
        network=description,
        dynamics=None if dynamics is None else dynamics.label,
        signal=signal,
        observation=problem["observation"][:, :m],
        clean_observation=problem["clean_observation"][:, :m],
        operator_matrix=problem["operator"][:, :m, :n],
        reconstructions=reconstructions,
        best_reconstruction=at_checkpoint(reconstructions, best_checkpoint(curves["signal_error"])),
        final_reconstruction=final_reconstruction[:, :n],
        back_projection=outputs["back_projection"][:, :n],
        alignment=outputs["alignment"],
        psnr=psnr_curve,
        ssim=ssim(reconstructions, signal, config.side) if has_ssim(config) else None,
        observed_psnr=psnr(outputs["back_projection"][:, :n], signal),
        final_psnr=final_psnr,
        **psnr_statistics(times, psnr_curve, early_stopping_time, time_to_threshold, final_psnr, stopped_at_threshold),
    )
