"""wideDIP against what a researcher would otherwise run, where its time goes, and how it
scales, on whatever JAX backend is present.

    python benchmarks/run.py            # the full run (about 20 min on 2 CPU cores, 12 the goal rows)
    python benchmarks/run.py --quick    # fewer points and repetitions (about 2.5 min on 2 CPU cores)
    python benchmarks/run.py --smoke    # every section once, tiny: what the test suite runs
    python benchmarks/run.py --goals    # only the goal rows

--quick and --smoke measure the goal rows at settings too small for the goals (quick presets or
tiny cells, 300-step loops: overhead more than work) and print them "not scored".

All rates and times: warm-up first (compilation excluded: `timed`), the median of several
repetitions (1 with --smoke, 3 with --quick, 5) and their spread ((largest − smallest) / median;
– with one), float32, measured in this one process on one JAX device (one core), the all-cores
rows in child processes. The goal rows run in fresh processes with the compilation cache off.
Prints tables and writes benchmarks/out/results.json, results.md (the tables, with machine,
versions and date: docs/performance.md includes it) and throughput_vs_k.png.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# before JAX starts: one CPU device (one core) here, unless --devices N, or --devices all (wideDIP's default)
DEVICES = sys.argv[sys.argv.index("--devices") + 1] if "--devices" in sys.argv else "1"
if DEVICES == "all":
    os.environ.pop("WIDEDIP_CPU_DEVICES", None)
else:
    os.environ["WIDEDIP_CPU_DEVICES"] = DEVICES

import jax
import jax.numpy as jnp
import numpy as np

import wideDIP
from wideDIP import Config
from wideDIP._dynamics.base import in_precision
from wideDIP._experiments.simulate import _kernel_curves, make_plan, prepare
from wideDIP._integrate import continuous as _flow
from wideDIP._integrate import discrete as _descent
from wideDIP._integrate.integrate import checkpoint_times
from wideDIP._networks.kernel_spectra import kernel_spectrum
from wideDIP._resolve import builtin_network, resolve_dynamics
from wideDIP._runtime.locks import LAPACK_LOCK
from wideDIP._runtime.parallel import over_seeds

NEVER = dict(threshold=1e-30)  # nothing converges: every seed runs every step


MARKEDLY_FASTER = 1.5
"""A warm-up call this many times faster than every call before it: the calls before it were not warm."""
MOST_WARM_UP_CALLS = 10


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One quantity measured in each timed repetition of a computation (`timed`): its wall times in
    seconds, or what is derived from them (`rate`, `scaled`), repetition by repetition."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def fastest(self) -> float:
        """The smallest value (of times: the fastest repetition)."""
        return min(self.values)

    @property
    def spread(self) -> float | None:
        """(largest − smallest) / median of the repetitions, None with one repetition. The range,
        not the interquartile range: with 3 to 7 repetitions the quartiles are the extremes' neighbours."""
        return (max(self.values) - min(self.values)) / self.median if len(self.values) > 1 else None

    def rate(self, work: float) -> Measurement:
        """`work` per second, from times."""
        return Measurement(tuple(work / seconds for seconds in self.values))

    def scaled(self, factor: float) -> Measurement:
        return Measurement(tuple(factor * value for value in self.values))

    def __str__(self) -> str:
        return f"{_shown(self.median)} (spread {_shown(self.spread, 'spread')})"


def _seconds(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def timed(function: Callable[[], object], repeats: int) -> Measurement:
    """The wall times of `repeats` calls of `function` after its warm-up: calls until one is not
    `MARKEDLY_FASTER` than every call before it, at least 2 (at most `MOST_WARM_UP_CALLS`). The first
    call compiles and places the arguments on the devices (`over_seeds`); a second compilation or
    transfer shows as a further drop in time, which the warm-up waits out."""
    fastest = _seconds(function)
    for _ in range(MOST_WARM_UP_CALLS - 1):
        latest = _seconds(function)
        if latest * MARKEDLY_FASTER > fastest:
            break
        fastest = latest
    return Measurement(tuple(_seconds(function) for _ in range(repeats)))


def _never_rule(config: Config) -> _descent.StoppingRule:
    return _descent.StoppingRule(jnp.asarray(0.0, config.dtype), jnp.asarray(jnp.inf, config.dtype), jnp.asarray(True))


@functools.cache
def descent_rate(config: Config, steps: int, repeats: int) -> Measurement:
    """Seed-steps per second of the descent loop (all devices, no checkpoints); measured once per
    run: a later table's row of the same computation (networks: the peers' shape) reuses it."""
    prepared = prepare(config)
    method = in_precision(resolve_dynamics(config), config.dtype)
    state = _descent.start(prepared.dynamics, prepared.parameters, method)
    advance = over_seeds(_descent.advance, (True, True, True, False, False))
    seeds = jax.tree.leaves(prepared.parameters)[0].shape[0]
    stop_at, rule = jnp.full((seeds,), steps, jnp.int32), _never_rule(config)
    return timed(lambda: jax.block_until_ready(advance(prepared.dynamics, state, stop_at, method, rule)), repeats).rate(
        seeds * steps
    )


def simulate_seconds(config: Config, repeats: int) -> tuple[float, Measurement]:
    """Wall seconds of `wideDIP.simulate(config)` as a user runs it: the first call (compiling) and
    the later ones (compiled), setup, loop and outputs included."""
    started = time.perf_counter()
    wideDIP.simulate(config, progress=False)
    cold = time.perf_counter() - started
    return cold, Measurement(tuple(_seconds(lambda: wideDIP.simulate(config, progress=False)) for _ in range(repeats)))


def spectrum_seconds(config: Config, rank: int, repeats: int) -> Measurement:
    """Seconds of the top-`rank` eigenpairs and extremes of `K(θ(0))` (Lanczos, `K` never formed) for
    every seed of `config`, one after another, compiled (docs/theory.md §12)."""
    keys = wideDIP.seed_keys(config)
    problems = jax.vmap(functools.partial(wideDIP.draw_problem, config))(keys)  # no SVD of A, no dense H
    network = builtin_network(config)

    @jax.jit
    def spectra(problems, keys):
        def one(seed):
            problem, key = seed
            seed_network, literal = network.for_seed(problem, key)
            spectrum = kernel_spectrum(seed_network, literal, problem.input, key, rank=rank)
            return spectrum.values, spectrum.smallest

        return jax.lax.map(one, (problems, keys))

    return timed(lambda: jax.block_until_ready(spectra(problems, keys)), repeats)


def image_rows(rows: list, smoke: bool, quick: bool, repeats: int) -> None:
    """Section "images" (docs/theory.md §12): a 32 × 32 inpainting by the 2-D decoder, as `widedip
    simulate` runs it, and the kernel spectra at n = 4096."""
    image_steps = 20 if smoke else 200 if quick else 2000
    inpainting = Config(
        signal="image",
        side=16 if smoke else 32,
        operator="inpainting",
        network="conv_decoder",
        k=8 if smoke else 32,
        seeds=2 if smoke else 8,
        steps=image_steps,
        step_size=0.01,
        **NEVER,
    )
    inpainting = inpainting.replace(m=inpainting.n // 2)
    cold, warm = simulate_seconds(inpainting, 1 if quick else 2)
    row(
        rows,
        "images",
        run=f"{inpainting.side}×{inpainting.side} inpainting (m = n/2), conv_decoder k={inpainting.k}, "
        f"{inpainting.decoder_layers} layers, {inpainting.seeds} seeds, {image_steps} descent steps",
        seconds_first_call=cold,
        seconds_compiled=warm,
        seed_steps_per_s=warm.rate(inpainting.seeds * image_steps).median,
    )
    for network, extra in (("two_layer", dict(k=200)), ("conv_decoder", dict(k=32))):
        side = 16 if smoke else 64
        shaped = Config(signal="image", side=side, operator="identity", network=network, seeds=2, **extra)
        rank = 32
        row(
            rows,
            "images",
            run=f"top-{rank} eigenpairs and λ_min of K(θ(0)), n = {shaped.n}, {network} k={shaped.k}, per seed",
            seconds_compiled=spectrum_seconds(shaped, rank, repeats).scaled(1 / shaped.seeds),
        )


def flow_rate(config: Config, repeats: int) -> tuple[Measurement, float]:
    """Seed-time-units per second of the flow over `t_max`, and median solver steps."""
    prepared = prepare(config)
    settings = in_precision(resolve_dynamics(config), config.dtype)
    times = jnp.asarray(checkpoint_times(resolve_dynamics(config)), config.dtype)
    steps = []

    def run():
        solution = _flow.integrate(
            prepared.dynamics, prepared.problems, prepared.parameters, times, _never_rule(config), settings
        )
        steps.append(float(jnp.median(solution.solver_steps)))

    return timed(run, repeats).rate(config.seeds * config.t_max), steps[-1]


def stiff_step_cost(config: Config, repeats: int, structured: bool = True) -> tuple[Measurement, float]:
    """Seconds per solver step and seed of the flow by `config.solver` in float64 (the stiff leg's
    precision) over `t_max` with nothing stopping (a vmapped solve runs as long as its slowest
    seed: time / (its steps × seeds)), the implicit Newton steps `structured` or by diffrax's dense
    LU; and the median solver steps."""
    with jax.enable_x64(True):
        config = config.replace(dtype="float64", **NEVER)
        prepared = prepare(config)
        settings = in_precision(resolve_dynamics(config), jnp.float64)
        settings = dataclasses.replace(settings, structured_solves=structured)
        times = jnp.asarray(checkpoint_times(settings), jnp.float64)
        arguments = (prepared.dynamics, prepared.problems, prepared.parameters, times, _never_rule(config), settings)
        steps = []
        with LAPACK_LOCK:
            seconds = timed(
                lambda: steps.append(np.asarray(jax.block_until_ready(_flow.integrate(*arguments)).solver_steps)),
                repeats,
            )
    return seconds.scaled(1 / (steps[-1].max() * config.seeds)), float(np.median(steps[-1]))


def tracking_cost(config: Config, checkpoints: int, repeats: int) -> Measurement:
    """Seconds per checkpoint and seed of the kernel statistics after a run (`track_ntk`), by
    the route `config.ntk_implementation` names, on recorded states (all equal to θ(0): the
    cost does not depend on the values). Its row shows the fastest repetition, not the median: on a
    shared machine the batched eigendecompositions' times varied up to 20× between runs."""
    network = builtin_network(config)
    prepared = prepare(config, network=network, plan=make_plan(config, network))
    states = jax.vmap(lambda dynamics, parameters: dynamics.features(parameters))(
        prepared.dynamics, prepared.parameters
    )
    states = jnp.repeat(states[:, None, :], checkpoints, axis=1)

    def run():
        with LAPACK_LOCK:
            jax.block_until_ready(_kernel_curves(prepared.probe, states))

    return timed(run, repeats).scaled(1 / (config.seeds * checkpoints))


def _plain_problem(config: Config, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((config.m, config.n), np.float32)
    v = rng.standard_normal((config.n, config.k), np.float32)
    u = rng.standard_normal(config.d).astype(np.float32)
    return (
        a,
        v,
        u / np.linalg.norm(u),
        a @ rng.standard_normal(config.n).astype(np.float32),
        rng.standard_normal((config.k, config.d)).astype(np.float32),
    )


def numpy_rate(config: Config, steps: int, repeats: int, seeds: int) -> Measurement:
    """The paper's loop in NumPy: full W, one seed at a time, gradient written out (the
    problems are drawn before the clock starts)."""
    problems = [_plain_problem(config, seed) for seed in range(seeds)]

    def one_seed(seed):
        a, v, u, y, w = problems[seed]
        w = w.copy()
        for _ in range(steps):
            s = 1 / (1 + np.exp(-(w @ u)))
            residual = a @ (v @ s) / np.sqrt(config.k) - y
            if 0.5 * residual @ residual <= config.threshold:
                break
            w -= config.step_size * np.outer(s * (1 - s) * (v.T @ (a.T @ residual)) / np.sqrt(config.k), u)

    with np.errstate(over="ignore"):  # η = 1 with A ~ N(0,1) saturates the sigmoid
        return timed(lambda: [one_seed(s) for s in range(seeds)], repeats).rate(seeds * steps)


def torch_rate(config: Config, steps: int, repeats: int, seeds: int) -> Measurement | None:
    """The straightforward PyTorch loop: full W, one seed at a time, torch.optim.SGD, the
    paper's stopping rule checked every step. None when torch is not importable."""
    try:
        import torch
    except ImportError:
        return None

    problems = [[torch.from_numpy(x) for x in _plain_problem(config, seed)] for seed in range(seeds)]

    def one_seed(seed):
        a, v, u, y, w0 = problems[seed]
        w = w0.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([w], lr=config.step_size)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = 0.5 * ((a @ (v @ torch.sigmoid(w @ u)) / config.k**0.5 - y) ** 2).sum()
            if loss.item() <= config.threshold:
                break
            loss.backward()
            optimizer.step()

    return timed(lambda: [one_seed(s) for s in range(seeds)], repeats).rate(seeds * steps)


def memory_bandwidth(repeats: int) -> Measurement:
    """Bytes per second of a large array update `x + 1` (256 MiB read, 256 MiB written)."""
    x = jnp.ones(64 * 2**20, jnp.float32)
    add = jax.jit(lambda x: x + 1)
    return timed(lambda: add(x).block_until_ready(), repeats).rate(2 * x.nbytes)


def row(table: list, section: str, **values) -> None:
    """A row of `section`, printed; a `Measurement` (at most one per row) is written as its median
    followed by its `spread`."""
    written = {}
    for name, value in values.items():
        if isinstance(value, Measurement):
            assert "spread" not in written, f"[{section}] has more than one measurement"
            written |= {name: value.median, "spread": value.spread}
        else:
            written[name] = value
    table.append({"section": section, **written})
    print(f"[{section}] " + "  ".join(f"{name}={_shown(value, name)}" for name, value in written.items()), flush=True)


def child_environment(devices: str) -> dict[str, str]:
    """This process's environment for a child with `devices` CPU devices ("all": wideDIP's default),
    the compilation cache off."""
    environment = {**os.environ, "WIDEDIP_CACHE_DIR": "off"}
    for name in ("WIDEDIP_CPU_DEVICES", "JAX_COMPILATION_CACHE_DIR"):  # cold: no cache of JAX's own either
        environment.pop(name, None)
    if devices != "all":
        environment["WIDEDIP_CPU_DEVICES"] = devices
    return environment


@functools.cache
def child_loop_rate(devices: str, seeds: int, mode: tuple[str, ...]) -> tuple[Measurement, int]:
    """The reduced loop rate at (10, 1000, 500, 1000) and the device count, in a fresh process."""
    child = subprocess.run(
        [sys.executable, __file__, "--loop-only", "--devices", devices, "--loop-seeds", str(seeds), *mode],
        capture_output=True,
        text=True,
        check=True,
        env=child_environment(devices),
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return Measurement(tuple(result["rates"])), result["devices"]


def timed_sweep(command: list[str], directory: Path, mode: tuple[str, ...]) -> tuple[float, wideDIP.SweepResult]:
    """Wall time of `widedip sweep COMMAND` in a fresh process on all cores, compilation cache off
    (what a user waits for: start, compilation, cells, figure), and its result; with --smoke, in
    this process (the code path only: its time means nothing)."""
    arguments = ["sweep", *command, "--out", str(directory), "--quiet"]
    started = time.perf_counter()
    if "--smoke" in mode:
        from wideDIP._cli import main as widedip

        with contextlib.redirect_stdout(io.StringIO()):
            assert widedip(arguments) == 0
    else:
        subprocess.run(
            [sys.executable, "-m", "wideDIP", *arguments],
            capture_output=True,
            text=True,
            check=True,
            env=child_environment("all"),
        )
    return time.perf_counter() - started, wideDIP.load_sweep(directory)


def sweep_timing(name: str, out: Path, smoke: bool) -> dict[str, float]:
    """Wall time of the preset `name` swept into OUT/cold (compiling), then again into OUT/warm
    (compiled); with `smoke`, a 1 x 2 grid of 4 seeds."""
    timing = {}
    for run in ("cold", "warm"):
        started = time.perf_counter()
        smaller = dict(seeds=4, steps=300, k=[20], n=[20, 100]) if smoke else {}
        wideDIP.sweep(*wideDIP.preset(name, **smaller), out / run, progress=False)
        timing[run] = time.perf_counter() - started
    return timing


def loop_steps(quick: bool) -> int:
    """The steps of the reduced loop's rate in a child process (`child_loop_rate`)."""
    return 300 if quick else 3000


SWEEP_GOALS = [("fig1", []), ("fig2", []), ("fig1", ["--method", "flow"]), ("fig2", ["--method", "flow"])]
"""The goal rows' sweeps, timed cold in fresh processes (`names` in `goals`)."""


def goals(rows: list, mode: tuple[str, ...], torch_big: Measurement | None) -> None:
    """The issue's goal rows, each measured, its target and whether it is met; `torch_big`: the
    PyTorch loop's rate at (10, 1000, 500, 1000), None without torch. With --quick or --smoke the
    rows are measured at smaller settings (the quick presets or tiny cells, a 300-step loop: they
    measure overhead more than the work) and not scored against the goals."""
    tiny = ["--seeds", "2", "--steps", "50", "--k", "20"]
    if "--smoke" in mode:  # the code paths only: one tiny cell each
        sweeps = [
            ("fig1-quick", [*tiny, "--n", "20"]),
            ("fig2-quick", [*tiny, "--m", "2"]),
            ("fig1-quick", [*tiny, "--n", "20", "--method", "flow"]),
            ("fig2-quick", [*tiny, "--m", "2", "--method", "flow"]),
        ]
    elif "--quick" in mode:
        sweeps = [(f"{figure}-quick", options) for figure, options in SWEEP_GOALS]
    else:
        sweeps = SWEEP_GOALS
    unscored = f"not scored in {mode[0]}: settings too small" if mode else None

    def met(reached: bool) -> str:
        """Whether a goal is met, or why it is not scored."""
        return unscored or ("yes" if reached else "no")

    names = ["fig1 descent, cold", "fig2 descent, cold", "fig1 flow, cold", "fig2 flow, cold"]
    with tempfile.TemporaryDirectory() as directory:
        for index, (name, (preset, options), target) in enumerate(zip(names, sweeps, (12.0, 12.0, 60.0, 300.0))):
            seconds, result = timed_sweep([preset, *options], Path(directory) / str(index), mode)
            note = f"widedip sweep {' '.join([preset, *options])}: " + (
                "in this process (smoke)" if "--smoke" in mode else "a fresh process on all cores, cache off"
            )
            if preset != name.split()[0]:
                note += f"; {preset} stands in for {name.split()[0]} in this mode"
            row(
                rows,
                "goals",
                goal=f"{name} (s)",
                measured=seconds,
                target=f"<= {target:g}",
                met=met(seconds <= target),
                note=note,
            )
            if "flow" in options:
                failed = int(result.counts("solver_failed").sum())
                row(
                    rows,
                    "goals",
                    goal=f"{name.split(',')[0]}, solver_failed seeds",
                    measured=failed,
                    target="0",
                    met=met(failed == 0),
                    note=f"of {int(result.seeds.sum())} seeds; {note}",
                )
    seeds = 2 if "--smoke" in mode else 50
    stiff = Config(m=10, n=500, d=500, k=1000, seeds=2 if mode else 8, method="flow", t_max=1.0 if mode else 20.0)
    implicit, _ = stiff_step_cost(stiff.replace(solver="kvaerno5"), 1 if mode else 3)
    explicit, _ = stiff_step_cost(stiff.replace(solver="tsit5"), 1 if mode else 3)
    row(
        rows,
        "goals",
        goal="Kvaerno5 step / Tsit5 step at (m, k) = (10, 1000)",
        measured=implicit.median / explicit.median,
        target="<= 5",
        met=met(implicit.median / explicit.median <= 5),
        note=f"float64, {stiff.seeds} seeds, one device: {implicit.scaled(1e3)} against {explicit.scaled(1e3)} ms "
        "per step and seed (structured Newton solves)",
    )
    one, _ = child_loop_rate("1", seeds, mode)
    every, devices = child_loop_rate("all", seeds, mode)
    steps = loop_steps("--smoke" in mode or "--quick" in mode)
    row(
        rows,
        "goals",
        goal="reduced loop (10, 1000): all cores / one core",
        measured=every.median / one.median,
        target=">= 2",
        met=met(every.median / one.median >= 2),
        note=f"{devices} CPU devices {every}, one {one} seed-steps/s; {seeds} seeds, {steps} steps, fresh processes",
    )
    if torch_big is None:
        row(
            rows,
            "goals",
            goal="reduced loop / PyTorch loop at (10, 1000, 500, 1000)",
            measured=None,
            target=">= 500",
            met="skipped",
            note="torch is not installed (pip install -e '.[bench]')",
        )
    else:
        import torch

        row(
            rows,
            "goals",
            goal="reduced loop / PyTorch loop at (10, 1000, 500, 1000)",
            measured=every.median / torch_big.median,
            target=">= 500",
            met=met(every.median / torch_big.median >= 500),
            note=f"wideDIP on all cores; PyTorch {torch_big} seed-steps/s ({torch.get_num_threads()} threads)",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer points, steps and repetitions")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="--quick with one repetition, one point per section and tiny "
        "sweeps in this process: checks that every section runs (the test suite's run; its numbers mean nothing)",
    )
    parser.add_argument("--goals", action="store_true", help="only the goal rows (with --quick or --smoke: theirs)")
    parser.add_argument(
        "--images", action="store_true", help="only the section images (with --quick or --smoke: theirs)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "out"))
    parser.add_argument("--devices", help="(internal) this many CPU devices for JAX, or all (wideDIP's default)")
    parser.add_argument("--loop-only", action="store_true", help="(internal) only the reduced loop rate, as JSON")
    parser.add_argument("--loop-seeds", type=int, help="(internal) the seeds of --loop-only")
    parser.add_argument("--sweep-only", help="(internal) time this preset cold and warm into --out, as JSON")
    arguments = parser.parse_args()
    quick = arguments.quick or arguments.smoke
    repeats = 1 if arguments.smoke else 3 if quick else 5
    seeds = 2 if arguments.smoke else 10 if quick else 50
    big = Config(m=10, n=1000, d=500, k=1000, seeds=seeds, **NEVER)
    if arguments.sweep_only:
        print(json.dumps(sweep_timing(arguments.sweep_only, Path(arguments.out), arguments.smoke)))
        return
    if arguments.loop_only:
        loop = big.replace(seeds=arguments.loop_seeds or seeds)
        rates = descent_rate(loop, loop_steps(quick), repeats).values
        print(json.dumps({"rates": rates, "devices": jax.device_count()}))
        return

    mode = ("--smoke",) if arguments.smoke else ("--quick",) if quick else ()
    report = {
        **machine(),
        "mode": mode[0].strip("-") if mode else "full",
        "seeds": seeds,
        "repetitions": repeats,
        "rows": [],
    }
    rows = report["rows"]
    print(
        f"wideDIP benchmarks on {report['device']} ({report['cores']} cores), jax {jax.__version__}, "
        f"{seeds} seeds, float32",
        flush=True,
    )
    if arguments.goals:
        goals(rows, mode, torch_rate(big, 5 if quick else 20, repeats, 2 if quick else 5))
        write(report, Path(arguments.out))
        return
    if arguments.images:
        image_rows(rows, arguments.smoke, quick, repeats)
        write(report, Path(arguments.out))
        return

    # 1. peers, ratios to wideDIP reduced
    for shape in (dict(m=10, n=100, d=500, k=100), dict(m=10, n=1000, d=500, k=1000)):
        config = Config(**shape, seeds=seeds, **NEVER)
        few = 5 if quick else 20
        rates = {
            "wideDIP reduced": descent_rate(config.replace(parametrization="reduced"), 300 if quick else 3000, repeats),
            "wideDIP full": descent_rate(config.replace(parametrization="full"), few, repeats),
            "NumPy loop": numpy_rate(config, few, repeats, 2 if quick else 5),
        }
        torch = torch_rate(config, few, repeats, 2 if quick else 5)
        if torch is None:
            print("torch is not importable: the PyTorch peer is skipped (pip install -e '.[bench]')")
        else:
            rates["PyTorch loop"] = torch
        torch_big = torch  # the last shape: (10, 1000, 500, 1000)
        for name, rate in rates.items():
            row(
                rows,
                "peers",
                shape=str(tuple(shape.values())),
                implementation=name,
                seed_steps_per_s=rate,
                reduced_over_this=rates["wideDIP reduced"].median / rate.median,
            )

    # all cores: the same loop with the CPU split into one JAX device per core (shard_map), wideDIP's default
    if jax.devices()[0].platform == "cpu":
        rate, devices = child_loop_rate("all", seeds, mode)
        row(
            rows,
            "peers",
            shape="(10, 1000, 500, 1000)",
            implementation=f"wideDIP reduced, {devices} CPU devices",
            seed_steps_per_s=rate,
            reduced_over_this=None,
        )

    # 2. scaling of the reduced descent (k, m, seeds) and of the full path (d); setup cost
    def points(full: tuple, fewer: tuple) -> tuple:
        """A section's points: all of them, `fewer` with --quick, the first of those with --smoke."""
        return fewer[:1] if arguments.smoke else fewer if quick else full

    for k in points((100, 300, 1000, 3000, 10000), (100, 1000, 10000)):
        row(rows, "scaling k", k=k, seed_steps_per_s=descent_rate(big.replace(k=k), 200 if quick else 2000, repeats))
    for m in points((2, 10, 50, 100), (2, 50)):
        row(rows, "scaling m", m=m, seed_steps_per_s=descent_rate(big.replace(m=m), 200 if quick else 2000, repeats))
    # the update rules of docs/theory.md §11 at (10, 1000, 500, 1000): the momentum rules on the
    # reduced path (their state gains the velocity of z), Adam on the literal parameters
    loop = 200 if quick else 2000
    plain = descent_rate(big, loop, repeats)
    for rule in ("sgd", "heavy_ball", "adam") if quick else ("sgd", "heavy_ball", "nesterov", "adam"):
        config = big.replace(optimizer=rule, step_size=0.01 if rule == "adam" else big.step_size)
        steps = loop if config.resolved_parametrization == "reduced" else max(1, loop // 100)
        rate = descent_rate(config, steps, repeats)
        row(
            rows,
            "update rules",
            optimizer=rule,
            parametrization=config.resolved_parametrization,
            seed_steps_per_s=rate,
            sgd_over_this=plain.median / rate.median,
        )
    image_rows(rows, arguments.smoke, quick, repeats)
    for count in points((10, 50, 200, 1000), (10, 100)):
        row(
            rows,
            "scaling seeds",
            seeds=count,
            seed_steps_per_s=descent_rate(big.replace(seeds=count, n=100), 200 if quick else 2000, repeats),
        )
    for d in points((10, 100, 500, 2000), (10, 500)):
        row(
            rows,
            "scaling d (full)",
            d=d,
            seed_steps_per_s=descent_rate(
                Config(m=10, n=100, d=d, k=100, seeds=seeds, parametrization="full", **NEVER),
                10 if quick else 50,
                repeats,
            ),
        )
    setup = timed(lambda: jax.block_until_ready(prepare(big)), repeats)
    row(rows, "setup", shape="(10, 1000, 500, 1000)", seconds=setup, note="draws + B = A V / sqrt(k), all seeds")
    custom = np.random.default_rng(0).standard_normal((big.m, big.n))
    on_an_image = {"block_inpainting": dict(side=32, n=1024, m=768)}  # a 32 × 32 image, a 16 × 16 block missing
    for name in wideDIP.OPERATORS:  # the same setup with each forward operator (docs/theory.md §8, §12)
        config, matrix = big.replace(operator=name, **on_an_image.get(name, {})), custom if name == "custom" else None
        seconds = timed(lambda: jax.block_until_ready(prepare(config, matrix=matrix)), repeats)  # noqa: B023
        row(
            rows,
            "setup per operator",
            shape=str((config.m, config.n, config.d, config.k)),
            operator=name,
            seconds=seconds,
            note="draws, A's SVD, B = A V / sqrt(k), all seeds",
        )

    # 3. flow vs descent (eta = 1) on the same horizon
    horizon = 100.0 if quick else 1000.0
    for k in points((100, 1000), (100, 1000)):
        config = Config(m=10, n=100, d=500, k=k, seeds=seeds, **NEVER)
        rate, steps = flow_rate(config.replace(method="flow", t_max=horizon), repeats)
        row(rows, "flow vs descent", k=k, method="flow tsit5", seed_time_per_s=rate, steps_per_seed=steps)
        row(
            rows,
            "flow vs descent",
            k=k,
            method="descent eta=1",
            seed_time_per_s=descent_rate(config, int(horizon), repeats),
            steps_per_seed=horizon,
        )

    # 3a. the stiff solver's step against Tsit5's, with structured and with dense Newton solves (float64)
    for m, k in points(((10, 100), (50, 250), (10, 1000)), ((50, 250),)):
        config = Config(m=m, n=500, d=500, k=k, seeds=2 if quick else 4, method="flow", t_max=5.0 if quick else 50.0)
        explicit, steps = stiff_step_cost(config.replace(solver="tsit5"), repeats)
        row(
            rows,
            "stiff solves",
            shape=f"({m}, {k})",
            solver="tsit5",
            ms_per_step_and_seed=explicit.scaled(1e3),
            over_tsit5=1.0,
        )
        for structured in (True, False) if k <= 250 else (True,):  # a dense LU of 1000 × 1000 per step: minutes
            implicit, _ = stiff_step_cost(config.replace(solver="kvaerno5"), repeats, structured)
            row(
                rows,
                "stiff solves",
                shape=f"({m}, {k})",
                solver="kvaerno5, " + ("structured (Woodbury)" if structured else "dense LU"),
                ms_per_step_and_seed=implicit.scaled(1e3),
                over_tsit5=implicit.median / explicit.median,
            )

    # 3b. networks: the generic path (jax.grad on the literal parameters) against the fast paths
    #     (the two-layer rows are the peers' measurements: the same computation, `descent_rate`)
    shape = dict(m=10, n=100, d=500, k=100)
    variants = [
        ("two_layer", "reduced", ()),
        ("two_layer", "full", ()),
        ("two_layer_both", "reduced", ()),
        ("two_layer_both", "full", ()),
        ("mlp", "full", ()),
        ("mlp", "full", (100,)),
    ]
    if quick:  # the two-layer rows are measured already (peers)
        variants = variants[:2]
    for network, parametrization, hidden in variants:
        config = Config(**shape, seeds=seeds, network=network, parametrization=parametrization, hidden=hidden, **NEVER)
        steps = (300 if quick else 3000) if parametrization == "reduced" else (5 if quick else 20)
        parameters = jax.eval_shape(lambda: builtin_network(config).init(jax.random.PRNGKey(0)))  # noqa: B023
        row(
            rows,
            "networks",
            shape=str(tuple(shape.values())),
            network=network,
            hidden=str(hidden),
            parametrization=parametrization,
            parameters=sum(x.size for x in jax.tree.leaves(parameters)),
            seed_steps_per_s=descent_rate(config, steps, repeats),
        )

    # 3c. NTK tracking: cost per checkpoint and seed, Jacobian route against the closed form
    checkpoints = 5 if quick else 10
    shapes = (
        (dict(m=10, n=50, d=20, k=50),)
        if quick
        else (dict(m=10, n=100, d=50, k=100), dict(m=10, n=100, d=200, k=200), dict(m=10, n=400, d=50, k=100))
    )
    routes = [
        ("two_layer", "closed_form"),
        ("two_layer", "jacobian"),
        ("two_layer_both", "closed_form"),
        ("two_layer_both", "jacobian"),
        ("mlp", "jacobian"),
    ]
    for shape in shapes:
        for network, implementation in routes[:2] if quick else routes:
            config = Config(
                **shape,
                seeds=min(seeds, 4),
                network=network,
                track_ntk=True,
                ntk_implementation=implementation,
                **NEVER,
            )
            cost = tracking_cost(config, checkpoints, repeats)
            row(
                rows,
                "ntk tracking",
                shape=str(tuple(shape.values())),
                network=network,
                implementation=implementation,
                seconds_per_checkpoint_and_seed=cost.fastest,
                spread=cost.spread,
            )

    # 4. roofline of one reduced step at m = 10, k = 1000
    m, k = 10, 1000
    bytes_per_step = 4 * (2 * m * k + 4 * k + 2 * m)  # B read twice; z read, written; updates; y, residual
    flops_per_step = 4 * m * k + 12 * k
    rate = next(
        r["seed_steps_per_s"]
        for r in rows
        if r.get("implementation") == "wideDIP reduced" and r["shape"] == "(10, 1000, 500, 1000)"
    )
    bandwidth = memory_bandwidth(repeats)
    row(
        rows,
        "roofline",
        bytes_per_seed_step=bytes_per_step,
        flops_per_seed_step=flops_per_step,
        measured_bandwidth_GBps=bandwidth.scaled(1e-9),
        achieved_GBps=rate * bytes_per_step / 1e9,
        achieved_fraction=rate * bytes_per_step / bandwidth.median,
        achieved_GFLOPs=rate * flops_per_step / 1e9,
    )

    # 5. the paper-scale Figure 1 sweep in a fresh process (cold: it compiles every shape), the
    #    same sweep again in that process (warm: nothing compiles), and what PyTorch would need
    name = "fig1-quick" if quick else "fig1"
    with tempfile.TemporaryDirectory() as directory:
        if arguments.smoke:  # the code path only, in this process
            timing = sweep_timing(name, Path(directory), smoke=True)
        else:
            child = subprocess.run(
                [sys.executable, __file__, "--sweep-only", name, "--out", directory, "--devices", "all"],
                capture_output=True,
                text=True,
                check=True,
                env=child_environment("all"),
            )
            timing = json.loads(child.stdout.strip().splitlines()[-1])
        result = wideDIP.load_sweep(Path(directory) / "cold")
    row(
        rows,
        "figure 1 sweep",
        preset=name,
        cells=int(result.cells.size),
        wall_s=timing["cold"],
        wall_s_compiled=timing["warm"],
        compile_fraction=1 - timing["warm"] / timing["cold"],
    )
    base, axes = result.base, result.axes
    if torch_rate(base.replace(k=10, n=10, **NEVER), 2, 1, 1) is not None:
        total = 0.0
        for index in np.ndindex(result.shape):
            cell = base.replace(**{n: v[i] for (n, v), i in zip(axes.items(), index)}, **NEVER)
            per_step = 1 / torch_rate(cell, 3 if quick else 10, 1, 1).median
            total += per_step * result.cells[index]["total_steps"]
        row(
            rows,
            "figure 1 sweep",
            preset=name,
            implementation="PyTorch loop (extrapolated)",
            wall_s=total,
            note="measured seconds per step at each cell's shape x the steps the sweep took",
        )

    goals(rows, mode, torch_big)
    out = Path(arguments.out)
    write(report, out)
    plot_throughput(rows, out / "throughput_vs_k.png")
    print(f"wrote {out / 'throughput_vs_k.png'}")


def machine() -> dict:
    """Date, processor, cores, JAX devices (this process) and versions."""
    from wideDIP._cli import installed_version as version

    processor = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        processor = names[0] if names else processor
    device = jax.devices()[0]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "processor": processor,
        "cores": os.cpu_count(),
        "device": f"{device.platform}:{device.device_kind} x{jax.device_count()}",
        "python": platform.python_version(),
        **{name: version(name) for name in ("widedip", "jax", "jaxlib", "torch")},
    }


def _shown(value, name: str = "") -> str:
    """A table cell; the column `spread` (a fraction, None with one repetition) in per cent, or –."""
    if name == "spread":
        return "–" if value is None else f"{100 * value:.0f} %"
    return "" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    """The report as markdown: a header (date, machine, versions, mode), the goal rows first, then one
    table per section."""
    command = "python benchmarks/run.py" + ("" if report["mode"] == "full" else f" --{report['mode']}")
    lines = [
        f"Measured {report['date']} by `{command}` on {report['processor']} ({report['cores']} cores; JAX devices of the main process: {report['device']}); "
        f"wideDIP {report['widedip']}, jax {report['jax']}, jaxlib {report['jaxlib']}, torch {report['torch']}, "
        f"Python {report['python']}.",
        "",
        f"Each measured value is the median of the repetitions ({report['repetitions']}) after a warm-up that "
        "excludes compilation (ntk tracking: the fastest); its spread is (largest − smallest) / median of those "
        "repetitions, – with one. The goal rows and the figure 1 sweep are single runs.",
        "",
    ]
    sections = sorted(dict.fromkeys(r["section"] for r in report["rows"]), key=lambda name: name != "goals")
    for section in sections:
        table = [r for r in report["rows"] if r["section"] == section]
        keys = [key for key in dict.fromkeys(k for r in table for k in r) if key != "section"]
        lines += [f"**{section}**", "", "| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
        lines += ["| " + " | ".join(_shown(r.get(key), key) for key in keys) + " |" for r in table]
        lines.append("")
    return "\n".join(lines)


def write(report: dict, out: Path) -> None:
    """benchmarks/out/results.json and results.md; the goal rows printed as a table."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=1))
    (out / "results.md").write_text(markdown(report))
    print("\ngoals:")
    for r in report["rows"]:
        if r["section"] == "goals":
            print(f"  {r['goal']:<55} {_shown(r['measured']):>8}  goal {r['target']:<7} met: {r['met']}")
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}")


def plot_throughput(rows: list, path: Path) -> None:
    """Seed-steps per second against k (log-log): the reduced descent, and the peers at their shapes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    scaling = [r for r in rows if r["section"] == "scaling k"]
    axes.plot(
        [r["k"] for r in scaling], [r["seed_steps_per_s"] for r in scaling], "o-", label="wideDIP reduced (n=1000)"
    )
    for name, marker in (("wideDIP full", "s"), ("NumPy loop", "^"), ("PyTorch loop", "v")):
        points = [r for r in rows if r.get("implementation") == name]
        if points:
            ks = [int(r["shape"].strip("()").split(",")[3]) for r in points]
            axes.plot(ks, [r["seed_steps_per_s"] for r in points], marker + "--", label=f"{name} (n = k)")
    axes.set(
        xscale="log", yscale="log", xlabel="width k", ylabel="seed-steps per second", title="descent throughput, m = 10"
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
