"""Why fig1's flow needs a stiff solver, measured on its stiff corner (docs/theory.md §10):
A ~ N(0,1), m = 10, n = 500, k = 10, sigmoid, horizon t = 25000, the default tolerances.

    python examples/stiff_flow.py [--seeds 4]

Prints, per seed and solver: how far the solver got in its 100 000 steps, the rejected
share, the median step size of the second half of the run against 3/λ_max of the loss's
Hessian at its last point (the explicit stability limit), and the final loss; then the
float32 rounding error of the vector field against its size; then `simulate` with
`solver="tsit5"` and `solver="auto"` (the default) on the same seeds.
"""

import argparse
import time

import _command_line  # next to this file
import diffrax
import jax
import jax.numpy as jnp
import numpy as np

import wideDIP
from wideDIP._experiments.simulate import prepare
from wideDIP._integrate.outcomes import ENDINGS

CONFIG = wideDIP.Config(m=10, n=500, k=10, method="flow")


def field(t, z, args):
    mixing, observation = args
    phi = jax.nn.sigmoid(z)
    return -(phi * (1 - phi)) * ((mixing @ phi - observation) @ mixing)


def loss(z, mixing, observation):
    return 0.5 * jnp.sum((mixing @ jax.nn.sigmoid(z) - observation) ** 2)


def solve(solver, wide, mixing, observation, start, max_steps):
    """One seed over [0, T] in float64 (`wide`) or float32, every step saved: (times, final z,
    diffrax result, rejected steps)."""
    dtype = jnp.float64 if wide else jnp.float32
    with jax.enable_x64(wide):  # float32 throughout otherwise: diffrax follows the times' dtype
        args = (jnp.asarray(mixing, dtype), jnp.asarray(observation, dtype))
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            solver,
            0.0,
            CONFIG.horizon,
            None,
            jnp.asarray(start, dtype),
            args=args,
            saveat=diffrax.SaveAt(steps=True),
            stepsize_controller=diffrax.PIDController(rtol=CONFIG.rtol, atol=CONFIG.atol),
            max_steps=max_steps,
            throw=False,
        )
        times = np.asarray(solution.ts)
        reached = np.isfinite(times)
        assert np.asarray(solution.ys).dtype == dtype
        return (
            times[reached],
            np.asarray(solution.ys)[reached][-1],
            solution.result,
            int(solution.stats["num_rejected_steps"]),
        )


def parser() -> argparse.ArgumentParser:
    """This example's command line (it prints, and writes nothing)."""
    arguments = _command_line.parser(__doc__)
    arguments.add_argument("--seeds", type=int, default=4, help="seeds, the first ones of the cell (default 4)")
    return arguments


def main() -> None:
    arguments = parser().parse_args()
    config = CONFIG.replace(seeds=arguments.seeds)
    prepared = prepare(config)  # float32 draws, cast to float64 where asked
    mixing, observation, starts = (
        np.asarray(a) for a in (prepared.dynamics.mixing, prepared.dynamics.observation, prepared.parameters)
    )
    largest = np.asarray(prepared.largest_eigenvalue)
    for seed in range(config.seeds):
        print(f"seed {seed}: lambda_max(H(0)) {largest[seed]:.1f}, 3/lambda_max {3 / largest[seed]:.3f}")
        for name, solver, wide, max_steps in (
            ("tsit5 float32", diffrax.Tsit5(), False, 100_000),
            ("tsit5 float64", diffrax.Tsit5(), True, 100_000),
            ("kvaerno5 float64", diffrax.Kvaerno5(), True, 100_000),
            ("kvaerno5 float32", diffrax.Kvaerno5(), False, 5_000),
        ):
            started = time.perf_counter()
            times, end, result, rejected = solve(solver, wide, mixing[seed], observation[seed], starts[seed], max_steps)
            if name == "kvaerno5 float64":
                late = end  # z(T)
            with jax.enable_x64(True):
                point = (
                    jnp.asarray(end, jnp.float64),
                    jnp.asarray(mixing[seed], jnp.float64),
                    jnp.asarray(observation[seed], jnp.float64),
                )
                hessian = jax.hessian(loss)(*point)
                limit = 3 / float(jnp.linalg.eigvalsh(hessian)[-1])
                steps = np.diff(times)
                print(
                    f"  {name:17s} reached t = {times[-1]:8.1f} in {steps.size + rejected:6d} steps "
                    f"({rejected / max(1, steps.size + rejected):.0%} rejected; {'ok' if result == diffrax.RESULTS.successful else 'FAILED'}); "
                    f"median late step {np.median(steps[steps.size // 2 :]):.3f}, 3/lambda_max(Hessian) there {limit:.3f}; "
                    f"loss {float(loss(*point)):.6g}  ({time.perf_counter() - started:.1f} s)"
                )
        single = np.asarray(
            field(0.0, jnp.asarray(late, jnp.float32), (jnp.asarray(mixing[seed]), jnp.asarray(observation[seed]))),
            np.float64,
        )
        with jax.enable_x64(True):
            exact = field(
                0.0,
                jnp.asarray(late, jnp.float64),
                (jnp.asarray(mixing[seed], jnp.float64), jnp.asarray(observation[seed], jnp.float64)),
            )
            print(
                f"  at z(T) (kvaerno5 float64): |vector field| {float(jnp.abs(exact).max()):.2e}, its float32 "
                f"rounding error {float(np.abs(single - np.asarray(exact)).max()):.2e}"
            )
    for solver in ("tsit5", "auto"):
        started = time.perf_counter()
        result = wideDIP.simulate(config.replace(solver=solver), progress=False)
        counts = {status: int((result.status == status).sum()) for status in ENDINGS}
        print(
            f"simulate solver={solver}: {counts}, solver steps median {np.median(result.solver_steps):.0f}, "
            f"{time.perf_counter() - started:.1f} s with compilation"
        )


if __name__ == "__main__":
    main()
