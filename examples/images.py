"""The Deep Image Prior's own regime (docs/theory.md §12, docs/images.md): on a 32 × 32 crop of
`camera`, does the convolutional decoder beat the two-layer network of (nearly) equal parameter
count on the part of the error in ker A and on PSNR, how often does stopping at T land near the
best PSNR, and is the image aligned with the decoder's leading kernel eigenvectors?

    python examples/images.py [--out DIR] [--quick]

The settings, 8 seeds each (4 with --quick, and 10 times fewer steps):
- the decoder `conv_decoder`: k = 32 channels, 3 bilinear upsamplings from a 4 × 4 input tensor,
  3 × 3 convolutions, sigmoid: p = 3·32²·9 + 32 = 27 680 parameters; gradient descent at
  η = 0.01 (η λ_max(H(0)) ≈ 1.5) and Adam at learning rate 0.01 (what Deep Image Prior uses);
- the paper's two-layer network with k = 2048, d = 14: p = 28 672; descent at η = 10
  (η λ_max(H(0)) ≈ 1.4);
- denoising (`identity`, σ = 0.1) and 50 % pixel inpainting (`inpainting`, m = 512, no noise),
  2000 steps (Adam on denoising: 6000, to see the noise fitted), the whole budget
  (`stop_at_threshold=False`), the top-32 alignment at θ(0) on denoising.

Prints a Markdown table, writes DIR/images_denoising.png and DIR/images_inpainting.png (the
decoder's runs by Adam as `SimulationResult.plot` draws them) and DIR/images_alignment.png
(`wideDIP.plot_alignment`, both networks on the denoising problem), and keeps the runs in
runs/images/ (reused when present; --quick keeps nothing).
"""

import argparse
import hashlib
from pathlib import Path

import _command_line  # next to this file
import numpy as np

import wideDIP
from wideDIP import Config

IMAGE = Config(signal="image", image="camera", side=32, seeds=8, steps=2000, threshold=1e-9, stop_at_threshold=False)
DECODER = dict(network="conv_decoder", k=32, decoder_layers=3)
TWO_LAYER = dict(network="two_layer", k=2048, d=14)
PROBLEMS = {
    "denoising σ = 0.1": dict(operator="identity", noise=0.1),
    "inpainting 50 %": dict(operator="inpainting", m=512),
}
NETWORKS = {
    "decoder, descent η = 0.01": dict(**DECODER, step_size=0.01),
    "decoder, Adam lr = 0.01": dict(**DECODER, optimizer="adam", step_size=0.01),
    "two-layer, descent η = 10": dict(**TWO_LAYER, step_size=10.0),
}
LONGER = {("denoising σ = 0.1", "decoder, Adam lr = 0.01"): 6000}
"""Runs given more steps than `IMAGE`'s: long enough to see the noise being fitted."""
NEAR = 0.5
"""Stopping at T "lands near" the best PSNR when it is within this many dB of it."""


def settings(quick: bool = False) -> dict[tuple[str, str], Config]:
    """Every run of the table by (problem, network)."""
    runs = {}
    for problem, changes in PROBLEMS.items():
        for network, other in NETWORKS.items():
            steps = LONGER.get((problem, network), IMAGE.steps) // (10 if quick else 1)
            alignment = 32 if problem.startswith("denoising") else 0
            runs[problem, network] = IMAGE.replace(
                **changes, **other, steps=steps, alignment_rank=alignment, seeds=4 if quick else IMAGE.seeds
            )
    return runs


def run(config: Config, keep: Path | None):
    """`simulate(config)` with its reconstructions, kept in (and read back from) `keep` when given."""
    name = "_".join(
        f"{field}-{value}" for field, value in sorted(config.to_dict().items()) if value != getattr(Config, field)
    )
    path = None if keep is None else keep / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.npz"
    if path is not None and path.exists():
        result = wideDIP.load(path)
        if result.config == config:
            return result
    result = wideDIP.simulate(config, progress=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        result.save(path, reconstructions=True)
    return result


def row(problem: str, network: str, result) -> str:
    """One line of the table: medians over seeds."""
    kernel = result.signal_error_kernel[:, -1]
    finite = np.isfinite(result.psnr_at_early_stop)
    near = np.abs(result.best_psnr - result.psnr_at_early_stop)[finite] <= NEAR
    at_T = (
        f"{np.median(result.psnr_at_early_stop[finite]):.2f} ({int(near.sum())}/{int(finite.sum())} within {NEAR} dB)"
        if finite.any()
        else "T = ∞ for every seed"
    )
    aligned = "-"
    if result.alignment is not None:
        a = result.alignment
        aligned = f"{np.median(a['signal_alignment']):.3f} / {np.median(a['noise_alignment']):.3f}"
    return (
        f"| {problem} | {network} | {result.network['parameters']} | {np.median(result.observed_psnr):.2f} | "
        f"{np.median(result.best_psnr):.2f} at {np.median(result.best_psnr_time):.4g} | {at_T} | "
        f"{np.median(result.final_psnr):.2f} | {np.median(kernel):.3f} | {aligned} |"
    )


HEADER = (
    "| problem | network | p | PSNR of Aᵀy | best PSNR at time | PSNR at T | final PSNR | final kernel part "
    "‖P_ker(x − x̄)‖/‖x̄‖ | top-32 alignment: image / noise |\n" + "|---" * 9 + "|"
)


def draw(out: Path, quick: bool = False, keep: Path | None = None) -> dict:
    """Every run of `settings`, the table's lines, and the three figures in `out`."""
    results = {key: run(config, keep) for key, config in settings(quick).items()}
    adam = "decoder, Adam lr = 0.01"
    for problem, name in (("denoising σ = 0.1", "images_denoising.png"), ("inpainting 50 %", "images_inpainting.png")):
        results[problem, adam].plot(out / name)
    denoising = [(network, results["denoising σ = 0.1", network]) for network in ("two-layer, descent η = 10", adam)]
    wideDIP.plot_alignment([r for _, r in denoising], out / "images_alignment.png", labels=[n for n, _ in denoising])
    return results


def parser() -> argparse.ArgumentParser:
    """This example's command line."""
    arguments = _command_line.parser(__doc__)
    _command_line.add_out(arguments)
    arguments.add_argument("--quick", action="store_true", help="4 seeds, 10 times fewer steps (to check, not to cite)")
    return arguments


def main() -> None:
    arguments = parser().parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    results = draw(arguments.out, arguments.quick, None if arguments.quick else _command_line.RUNS / "images")
    print(HEADER)
    for (problem, network), result in results.items():
        print(row(problem, network, result))


if __name__ == "__main__":
    main()
