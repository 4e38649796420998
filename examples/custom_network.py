"""A generator network of one's own, written as two plain JAX functions, trained by wideDIP's engine
with its NTK tracked over time through its Jacobian (docs/theory.md §3, §9).

    python examples/custom_network.py [--out DIR] [--seeds 10]

The network is a three-layer perceptron in the NTK parametrisation,
`g(u, θ) = W_3 tanh(W_2 tanh(W_1 u)/√h)/√h`, `θ = (W_1, W_2, W_3)`, all trained, written below as
`init(key)` and `apply(θ, u)` without anything from wideDIP. `simulate(config, network=...)` trains
it on `config.seeds` random problems at once (descent; `jax.grad` of the loss, `vmap` over seeds)
and, with `track_ntk=True`, computes `λ_min(K)`, `λ_min(H)`, `λ_max(H)` and the Jacobian's
Lipschitz ratio from `J = ∂g/∂θ` (`jax.jacrev`) at `ntk_checkpoints` checkpoints. Figure:
DIR/custom_network.png (DIR: examples/out/ unless given). A table compares it with the built-in
networks at the same width.
"""

import argparse
from pathlib import Path

import _command_line  # next to this file
import jax
import jax.numpy as jnp
import numpy as np

import wideDIP

D, H, N = 20, 100, 50  # input size d, hidden width h (= k), signal size n


def init(key):
    """iid N(0, 1) weights (the key is the seed's own network key: the problem's draws are shared)."""
    first, second, third = jax.random.split(key, 3)
    return (jax.random.normal(first, (H, D)), jax.random.normal(second, (H, H)), jax.random.normal(third, (N, H)))


def apply(parameters, u):
    w1, w2, w3 = parameters
    hidden = jnp.tanh(w1 @ u)
    hidden = jnp.tanh(w2 @ hidden / jnp.sqrt(H))
    return w3 @ hidden / jnp.sqrt(H)


def train(out: Path, seeds: int = 10) -> wideDIP.SimulationResult:
    """The network of this file on `seeds` problems, its NTK tracked; draws OUT/custom_network.png."""
    config = wideDIP.Config(
        m=10,
        n=N,
        d=D,
        k=H,
        activation="tanh",
        operator_scale="sqrt_n",
        steps=400,
        step_size=0.5,
        seeds=seeds,
        track_ntk=True,
        ntk_checkpoints=20,
    )
    network = wideDIP.FunctionNetwork(init, apply, name="tanh_mlp3")
    result = wideDIP.simulate(config, network=network, progress=False)
    result.plot_ntk(out / "custom_network.png")
    return result


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    arguments = _command_line.parser(__doc__)
    _command_line.add_out(arguments)
    arguments.add_argument("--seeds", type=int, default=10, help="seeds (default 10)")
    return arguments


def main() -> None:
    arguments = parser().parse_args()
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)

    result = train(out, arguments.seeds)
    config = result.config
    print(result.summary(), "\n")

    print(
        f"{'network':<28}{'parameters':>11}{'converged':>11}{'median steps':>14}{'λmin(K(0))':>12}"
        f"{'λmin(H(0))':>12}{'certified':>11}{'Lip ratio':>11}{'wall s':>8}"
    )
    rows = {"tanh_mlp3 (this file)": result}
    for name, changes in (
        ("two_layer (paper)", {}),
        ("two_layer_both", {"network": "two_layer_both"}),
        (f"mlp, hidden ({H},)", {"network": "mlp", "hidden": (H,)}),
    ):
        rows[name] = wideDIP.simulate(config.replace(**changes), progress=False)
    for name, r in rows.items():
        steps = r.steps_to_threshold[r.converged]
        certified = "n/a" if r.certified is None else f"{r.certified.mean():.2f}"
        print(
            f"{name:<28}{r.network['parameters']:>11}{r.frequency:>11.2f}"
            f"{(np.median(steps) if steps.size else np.nan):>14.0f}{np.median(r.min_lambda_K):>12.3g}"
            f"{np.median(r.min_lambda_H):>12.3g}{certified:>11}{np.nanmedian(r.theory.measured_lipschitz_ratio):>11.3g}"
            f"{r.wall_time:>8.1f}"
        )
    print(f"\nfigure: {out / 'custom_network.png'}")


if __name__ == "__main__":
    main()
