"""Throughput of gradient descent: wideDIP `reduced` vs `full`, and a PyTorch loop when importable.

    python benchmarks/run.py            # the figures quoted in the README
    python benchmarks/run.py --quick    # a smoke run, well under a minute

Reports seed-steps per second (one step of one seed = one unit; compile time excluded,
warm-up first, median of several repetitions) and the ratios between implementations,
measured in the same process. Writes benchmarks/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import wideDIP
from wideDIP import Config
from wideDIP import _descent, _flow
from wideDIP._simulate import _draw, _setup, _structure, checkpoint_times

SHAPES = [dict(m=10, n=100, d=500, k=100), dict(m=10, n=1000, d=500, k=1000)]


def median_time(function, repeats: int) -> float:
    function()  # warm-up (compiles)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _prepared(config: Config):
    structure = _structure(config)
    keys = wideDIP.seed_keys(config)
    dynamics, parameters, _ = _setup(structure, keys, _draw(structure, keys))
    never = _descent.StoppingRule(jnp.asarray(0.0, config.dtype), jnp.asarray(jnp.inf, config.dtype))
    return dynamics, parameters, never


def wideDIP_descent(config: Config, steps: int, repeats: int) -> float:
    """Seed-steps per second of the descent loop alone (no checkpoints, nothing converges)."""
    dynamics, parameters, never = _prepared(config)
    step_size = jnp.asarray(config.step_size, config.dtype)
    state = _descent.start(dynamics, parameters, step_size)
    stop_at = jnp.asarray(steps, jnp.int32)

    def run():
        jax.block_until_ready(_descent.advance(dynamics, state, stop_at, step_size, never))

    return config.seeds * steps / median_time(run, repeats)


def wideDIP_flow(config: Config, repeats: int) -> tuple[float, float]:
    """Seed-time-units per second of the flow over `config.t_max` (nothing stops it), and
    the median number of solver steps per seed."""
    dynamics, parameters, never = _prepared(config)
    settings = _flow.FlowSettings(
        rtol=jnp.asarray(config.rtol, config.dtype), atol=jnp.asarray(config.atol, config.dtype),
        horizon=jnp.asarray(config.t_max, config.dtype), step_size=jnp.asarray(config.step_size, config.dtype),
        solver=config.solver, max_steps=config.max_solver_steps, progress=False,
    )
    times = jnp.asarray(checkpoint_times(config), config.dtype)
    solver_steps = []

    def run():
        solution = _flow.integrate(dynamics, parameters, times, never, settings)
        solver_steps.append(float(jnp.median(solution.solver_steps)))

    return config.seeds * config.t_max / median_time(run, repeats), solver_steps[-1]


def torch_descent(config: Config, steps: int, repeats: int, seeds: int) -> float | None:
    """Seed-steps per second of the straightforward loop: full W, one seed at a time, torch.optim.SGD."""
    try:
        import torch
    except ImportError:
        return None
    m, n, d, k = config.m, config.n, config.d, config.k

    def one_seed(seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        a = torch.randn(m, n, generator=generator)
        v = torch.randn(n, k, generator=generator)
        u = torch.randn(d, generator=generator)
        u /= u.norm()
        y = a @ torch.randn(n, generator=generator)
        w = torch.randn(k, d, generator=generator, requires_grad=True)
        optimizer = torch.optim.SGD([w], lr=config.step_size)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = 0.5 * ((a @ (v @ torch.sigmoid(w @ u)) / k**0.5 - y) ** 2).sum()
            if loss.item() <= config.threshold:  # the paper's stopping rule, checked every step
                break
            loss.backward()
            optimizer.step()

    def run():
        for seed in range(seeds):
            one_seed(seed)

    return seeds * steps / median_time(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "results.json"))
    arguments = parser.parse_args()
    repeats = 3 if arguments.quick else 5
    seeds = 10 if arguments.quick else 50
    device = jax.devices()[0]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "jax": jax.__version__,
        "device": f"{device.platform}:{device.device_kind} x{jax.device_count()}",
        "quick": arguments.quick,
        "rows": [],
    }
    print(f"wideDIP descent throughput on {report['device']}, jax {jax.__version__}, {seeds} seeds, float32")
    print(f"{'shape (m, n, d, k)':<24}{'implementation':<18}{'seed-steps/s':>14}{'reduced / this':>16}")
    for shape in SHAPES:
        config = Config(**shape, seeds=seeds)
        big = shape["k"] * shape["n"] >= 10**6
        rates = {
            "reduced": wideDIP_descent(config.replace(parametrization="reduced"), 500 if arguments.quick else 4000, repeats),
            "full": wideDIP_descent(config.replace(parametrization="full"),
                                    (5 if big else 50) if arguments.quick else (20 if big else 200), repeats),
        }
        torch_rate = torch_descent(config, (5 if big else 20) if arguments.quick else (20 if big else 100),
                                   repeats, 2 if arguments.quick else 5)
        if torch_rate is not None:
            rates["torch (1 seed at a time)"] = torch_rate
        for name, rate in rates.items():
            ratio = rates["reduced"] / rate
            print(f"{str(tuple(shape.values())):<24}{name:<18}{rate:>14.3g}{ratio:>15.1f}x")
            report["rows"].append({"shape": shape, "implementation": name, "seed_steps_per_s": rate,
                                   "reduced_over_this": ratio})
    horizon = 100.0 if arguments.quick else 1000.0
    print(f"\nflow vs descent (eta = 1) over the same horizon t = {horizon:g}, {seeds} seeds, float32, tsit5")
    print(f"{'shape (m, n, d, k)':<24}{'method':<18}{'seed-time/s':>14}{'solver steps':>14}")
    for shape in (dict(m=10, n=100, d=500, k=100), dict(m=10, n=100, d=500, k=1000)):
        config = Config(**shape, seeds=seeds)
        flow_rate, flow_steps = wideDIP_flow(config.replace(method="flow", t_max=horizon), repeats)
        descent_rate = wideDIP_descent(config, int(horizon), repeats)
        for name, rate, steps in (("flow (tsit5)", flow_rate, flow_steps), ("descent eta=1", descent_rate, horizon)):
            print(f"{str(tuple(shape.values())):<24}{name:<18}{rate:>14.3g}{steps:>14.0f}")
            report["rows"].append({"shape": shape, "implementation": name, "seed_time_per_s": rate,
                                   "steps_per_seed": steps, "horizon": horizon})
    if "torch (1 seed at a time)" not in {row["implementation"] for row in report["rows"]}:
        print("torch is not importable: the PyTorch peer was skipped (pip install torch)")
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
