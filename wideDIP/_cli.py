"""The `widedip` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ._config import _CHOICES, Config


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per `Config` field, with its type, default and allowed values."""
    defaults = Config()
    for field in dataclasses.fields(Config):
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
    changes = {
        f.name: getattr(arguments, f.name) for f in dataclasses.fields(Config) if getattr(arguments, f.name) is not None
    }
    return (base or Config()).replace(**changes)


def _simulate(arguments: argparse.Namespace) -> int:
    from ._simulate import simulate

    result = simulate(config_from_arguments(arguments), progress=not arguments.quiet)
    if arguments.out:
        path = result.save(arguments.out)
        if not arguments.json:
            print(f"saved {path}", file=sys.stderr)
    print(json.dumps(result.to_json()) if arguments.json else result.summary())
    return 0


def _compare(arguments: argparse.Namespace) -> int:
    from ._compare import compare

    result = compare(config_from_arguments(arguments), arguments.step_sizes, progress=not arguments.quiet)
    result.plot(arguments.figure)
    print(result.summary())
    print(f"figure: {arguments.figure}")
    return 0


def _ntk(arguments: argparse.Namespace) -> int:
    from ._simulate import simulate

    result = simulate(config_from_arguments(arguments, Config(track_ntk=True)), progress=not arguments.quiet)
    result.plot_ntk(arguments.figure)
    if arguments.out:
        result.save(arguments.out)
    print(result.summary())
    print(f"figure: {arguments.figure}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="widedip", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="train all seeds of one configuration and print a summary")
    _add_config_options(simulate)
    simulate.add_argument("--json", action="store_true", help="print machine-readable output")
    simulate.add_argument("--out", help="save the result (.npz) to this file")
    simulate.add_argument("--quiet", action="store_true", help="no progress bar")
    simulate.set_defaults(handler=_simulate)

    compare = commands.add_parser("compare", help="gradient flow vs descent for several step sizes, with a figure")
    _add_config_options(compare)
    compare.add_argument("--step-sizes", type=float, nargs="+", default=[1.0, 0.5, 0.1], help="descent steps η")
    compare.add_argument("--figure", default="compare.png", help="where to write the loss-vs-time figure")
    compare.add_argument("--quiet", action="store_true", help="no progress bar")
    compare.set_defaults(handler=_compare)

    ntk = commands.add_parser("ntk", help="track the NTK along the runs, check Theorem 2.1, draw the figure")
    _add_config_options(ntk)
    ntk.add_argument("--figure", default="ntk.png", help="where to write the figure")
    ntk.add_argument("--out", help="save the result (.npz) to this file")
    ntk.add_argument("--quiet", action="store_true", help="no progress bar")
    ntk.set_defaults(handler=_ntk)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
