"""The `widedip` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ._config import _CHOICES, Config


def _add_config_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One option per `Config` field (but `skip`), with its type, default and allowed values."""
    defaults = Config()
    for field in dataclasses.fields(Config):
        if field.name in skip:
            continue
        option = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        kwargs = {"dest": field.name, "default": None, "help": f"default: {default}"}
        if field.name in _CHOICES:
            kwargs["choices"] = _CHOICES[field.name]
        elif field.type == "bool":
            kwargs.update(action="store_const", const=True)
        else:
            kwargs["type"] = {"int": int, "float": float, "float | None": float}[field.type]
        parser.add_argument(option, **kwargs)


def config_from_arguments(arguments: argparse.Namespace, base: Config | None = None) -> Config:
    return (base or Config()).replace(**_given_fields(arguments))


def _given_fields(arguments: argparse.Namespace) -> dict:
    """The Config fields given on the command line; `--operator-file` alone means `--operator custom`."""
    changes = {f.name: getattr(arguments, f.name) for f in dataclasses.fields(Config)
               if getattr(arguments, f.name) is not None}
    if getattr(arguments, "operator_file", None) is not None:
        changes.setdefault("operator", "custom")
    return changes


def operator_matrix(arguments: argparse.Namespace):
    """The matrix of `--operator-file` (a NumPy `.npy` file), or None."""
    if getattr(arguments, "operator_file", None) is None:
        return None
    import numpy as np

    try:
        return np.load(arguments.operator_file, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"--operator-file {arguments.operator_file}: cannot read a .npy matrix ({error})") from None


def _simulate(arguments: argparse.Namespace) -> int:
    from ._simulate import simulate

    result = simulate(config_from_arguments(arguments), operator=operator_matrix(arguments), progress=not arguments.quiet)
    if arguments.out:
        path = result.save(arguments.out)
        if not arguments.json:
            print(f"saved {path}", file=sys.stderr)
    print(json.dumps(result.to_json()) if arguments.json else result.summary())
    return 0


def _compare(arguments: argparse.Namespace) -> int:
    from ._compare import compare

    result = compare(config_from_arguments(arguments), arguments.step_sizes, operator=operator_matrix(arguments),
                     progress=not arguments.quiet)
    result.plot(arguments.figure)
    print(result.summary())
    print(f"figure: {arguments.figure}")
    return 0


def _ntk(arguments: argparse.Namespace) -> int:
    from ._simulate import simulate

    result = simulate(config_from_arguments(arguments, Config(track_ntk=True)), operator=operator_matrix(arguments),
                      progress=not arguments.quiet)
    result.plot_ntk(arguments.figure)
    if arguments.out:
        result.save(arguments.out)
    print(result.summary())
    print(f"figure: {arguments.figure}")
    return 0


def _sweep(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from ._presets import PRESETS, preset
    from ._sweep import HEADER, sweep

    overrides = _given_fields(arguments)
    for name, value in overrides.items():
        if isinstance(value, list) and name not in PRESETS[arguments.preset][1]:
            if len(value) != 1:
                raise ValueError(f"--{name} is not an axis of preset {arguments.preset}: give one value")
            overrides[name] = value[0]
    base, axes = preset(arguments.preset, **overrides)
    out = Path(arguments.out or f"runs/{arguments.preset}")
    if (out / HEADER).exists() and not arguments.resume:
        raise ValueError(f"{out} already holds a sweep: pass --resume to continue it, or choose another --out")
    result = sweep(base, axes, out, operator=operator_matrix(arguments), progress=not arguments.quiet,
                   workers=arguments.workers)
    result.plot(out / "figure")
    print(sweep_summary(result))
    print(f"results: {out}   figure: {out / 'figure.png'} (and .pdf)")
    return 0


def sweep_summary(result) -> str:
    """The frequency grid as a table: rows = first axis, columns = the others."""
    import itertools

    import numpy as np

    names = list(result.axes)
    frequency = result.frequency.reshape(result.shape[0], -1)
    columns = [", ".join(map(str, values)) for values in itertools.product(*list(result.axes.values())[1:])] or [""]
    lines = [f"{names[0] + ' / ' + ', '.join(names[1:]):>14} " + " ".join(f"{c:>9}" for c in columns)]
    for value, row in zip(result.axes[names[0]], frequency):
        lines.append(f"{value!s:>14} " + " ".join(f"{f:>9.2f}" for f in row))
    lines.append(f"convergence frequency per cell; {result.cells.size} cells, "
                 f"{np.nansum(result.wall_time):.1f} s of cell time")
    return "\n".join(lines)


def _plot(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from ._sweep import load_sweep

    result = load_sweep(arguments.path)
    out = Path(arguments.figure) if arguments.figure else Path(arguments.path) / "figure"
    result.plot(out)
    print(f"figure: {out.with_suffix('.png')} (and .pdf)")
    return 0


def _command(commands, name: str, help: str, handler, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """A subcommand taking every Config field as an option, and `--quiet`."""
    command = commands.add_parser(name, help=help)
    _add_config_options(command, skip)
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument("--operator-file", metavar="A.npy",
                         help="the (m, n) matrix of --operator custom, a NumPy .npy file (implies --operator custom)")
    command.set_defaults(handler=handler)
    return command


def build_parser() -> argparse.ArgumentParser:
    from ._operators import placeholders
    from ._presets import PRESETS

    parser = argparse.ArgumentParser(prog="widedip", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = _command(commands, "simulate", "train all seeds of one configuration and print a summary", _simulate)
    simulate.add_argument("--json", action="store_true", help="print machine-readable output")
    simulate.add_argument("--out", help="save the result (.npz) to this file")

    compare = _command(commands, "compare", "gradient flow vs descent for several step sizes, with a figure", _compare)
    compare.add_argument("--step-sizes", type=float, nargs="+", default=[1.0, 0.5, 0.1], help="descent steps η")
    compare.add_argument("--figure", default="compare.png", help="where to write the loss-vs-time figure")

    ntk = _command(commands, "ntk", "track the NTK along the runs, check Theorem 2.1, draw the figure", _ntk)
    ntk.add_argument("--figure", default="ntk.png", help="where to write the figure")
    ntk.add_argument("--out", help="save the result (.npz) to this file")

    grids = {"k": int, "n": int, "m": int, **{name: float for name in placeholders()}}  # the operators' numbers too
    sweep = _command(commands, "sweep", "a phase diagram (the paper's figures): resumable, with a figure", _sweep,
                     skip=tuple(grids))
    sweep.add_argument("preset", choices=tuple(PRESETS))
    for axis, kind in grids.items():  # grid overrides take several values
        sweep.add_argument("--" + axis.replace("_", "-"), dest=axis, type=kind, nargs="+", default=None,
                           help=f"grid of {axis} if it is an axis of the preset, else its value")
    sweep.add_argument("--out", help="sweep directory (default runs/PRESET)")
    sweep.add_argument("--resume", action="store_true", help="continue the sweep stored in --out")
    sweep.add_argument("--workers", type=int, default=2, help="cells run at once (default 2)")

    plot = commands.add_parser("plot", help="draw the phase diagram of a sweep directory")
    plot.add_argument("path")
    plot.add_argument("--figure", help="output path without suffix (default PATH/figure); writes .png and .pdf")
    plot.set_defaults(handler=_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._cache import enable_compilation_cache

    parser = build_parser()
    arguments = parser.parse_args(argv)
    enable_compilation_cache()
    try:
        return arguments.handler(arguments)
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
