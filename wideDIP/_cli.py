"""The `widedip` command line: every `Config` field is an option; a bad value is a one-line
`widedip <command>: error: …` with exit code 2; Ctrl-C says what was kept and how to go on
(exit code 130). The options are the experiment's fields (docs/theory.md §6)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from ._config import Config, allowed_values
from ._dynamics.registry import dynamics_names
from ._runtime.interrupt import stop_on_interrupt

REPORTED_PACKAGES = (
    "widedip",
    "jax",
    "jaxlib",
    "optax",
    "diffrax",
    "equinox",
    "numpy",
    "matplotlib",
    "pytest",
    "pytest-xdist",
)


def installed_version(name: str) -> str:
    """The installed version of the distribution `name`, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> str:
    """The installed versions of wideDIP and of what it runs on, one `name version` per line."""
    return "\n".join(f"{name} {installed_version(name)}" for name in REPORTED_PACKAGES)


class _PrintVersions(argparse.Action):
    """`--version`: one `name version` per line (argparse's own action would re-wrap them)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(versions())
        parser.exit()


def _add_config_options(
    parser: argparse.ArgumentParser, defaults: Config, skip: tuple[str, ...] = (), grids: dict[str, list] | None = None
) -> None:
    """One option per `Config` field (but `skip`), with its type, default and allowed values;
    the fields in `grids` take several values (a sweep's axes)."""
    grids = grids or {}
    for field in dataclasses.fields(Config):
        if field.name in skip:
            continue
        option = "--" + field.name.replace("_", "-")
        default = grids[field.name] if field.name in grids else getattr(defaults, field.name)
        shown = " ".join(map(str, default)) if field.name in grids else default
        kwargs = {"dest": field.name, "default": None, "help": f"default: {shown}"}
        if allowed_values(field.name) is not None:
            kwargs["choices"] = allowed_values(field.name)
        elif field.type == "bool":
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif field.type == "tuple[int, ...]":
            kwargs.update(type=int, nargs="+", help=f"widths, e.g. {option} 64 64; default: none")
        else:
            kwargs["type"] = {"int": int, "int | None": int, "str": str, "float": float, "float | None": float}[
                field.type
            ]
        if field.name in grids:
            kwargs.update(nargs="+", help=f"grid (an axis of this preset); default: {shown}")
        parser.add_argument(option, **kwargs)


def _given_fields(arguments: argparse.Namespace) -> dict:
    """The Config fields given on the command line; `--operator-file` alone means `--operator custom`."""
    changes = {
        f.name: getattr(arguments, f.name)
        for f in dataclasses.fields(Config)
        if getattr(arguments, f.name, None) is not None
    }
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


def config_from_arguments(arguments: argparse.Namespace, base: Config | None = None) -> Config:
    return (base or Config()).replace(**_given_fields(arguments))


def _checked_figure(path: str | None, what: str) -> Path | None:
    """`path` checked for writing a figure, in a format matplotlib writes, before any computation; None stays None."""
    from ._figures.plots import check_figure_path
    from ._runtime.paths import check_writable

    return None if path is None else check_figure_path(check_writable(path, what), what)


def _checked_result_path(arguments: argparse.Namespace) -> Path | None:
    """Where `--out` saves the result (`result_path`), checked for writing; None without `--out`."""
    from ._runtime.paths import check_writable, result_path

    if arguments.out is None:
        return None
    try:
        path = result_path(arguments.out)
    except ValueError as error:
        raise ValueError(f"--out: {error}") from None
    return check_writable(path, "--out")


def _report(result, arguments: argparse.Namespace, out: Path | None, figure: Path | None, **large: bool) -> int:
    """Save `result` to `out` and draw it to `figure` (either may be None), then print its summary or,
    with `--json`, one JSON object (the other lines go to stderr); `large`: `SimulationResult.save`'s keywords."""
    if out is not None:
        written = result.save(out, **large)  # a comparison of dynamics writes one file per run
        if not arguments.json:
            print(f"saved {', '.join(map(str, written)) if isinstance(written, list) else out}", file=sys.stderr)
    if figure is not None:
        result.plot(figure)
    print(json.dumps(result.to_json(**large)) if arguments.json else result.summary())
    if figure is not None:
        print(f"figure: {figure}", file=sys.stderr if arguments.json else sys.stdout)
    return 0


def _simulate(arguments: argparse.Namespace) -> int:
    from ._experiments.simulate import simulate

    config = config_from_arguments(arguments)
    return _run_and_report(arguments, simulate, config, **_large_fields(arguments))


def _run_and_report(arguments: argparse.Namespace, experiment: Callable, config: Config, **large: bool) -> int:
    """`experiment(config)` with `--operator-file`'s matrix, `--out` and `--figure` checked before it;
    process 0 (of several) saves, draws and prints the result (`_report`)."""
    from ._runtime.parallel import from_writer, is_writer

    out, figure = from_writer(lambda: (_checked_result_path(arguments), _checked_figure(arguments.figure, "--figure")))
    result = experiment(config, operator=operator_matrix(arguments), progress=not arguments.quiet)
    return _report(result, arguments, out, figure, **large) if is_writer() else 0


def _large_fields(arguments: argparse.Namespace) -> dict[str, bool]:
    """`SimulationResult.save`'s and `to_json`'s keywords from `--reconstructions` and
    `--operator-matrix`; a `ValueError` when neither `--out` nor `--json` takes the field."""
    large = {"reconstructions": arguments.reconstructions, "operator_matrix": arguments.operator_matrix}
    for name, asked in large.items():
        if asked and arguments.out is None and not arguments.json:
            raise ValueError(
                f"--{name.replace('_', '-')} adds a field to the file of --out or to the output "
                f"of --json: give one of them"
            )
    return large


def _compare(arguments: argparse.Namespace) -> int:
    from ._dynamics.flow import GradientFlow
    from ._experiments.compare import checked_step_sizes, compare
    from ._experiments.compare_dynamics import HYPERPARAMETERS, checked_dynamics, compare_dynamics

    given = _given_fields(arguments)
    if arguments.dynamics is None:
        for name in (*HYPERPARAMETERS, "optimizer"):
            if name in given and name not in GradientFlow.config_fields:
                option = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{option}: compare runs the flow against descent; to compare other dynamics, "
                    "name them with --dynamics (e.g. --dynamics sgd heavy_ball flow)"
                )
        step_sizes = checked_step_sizes(arguments.step_sizes or [1.0, 0.5, 0.1], "--step-sizes")
        config = config_from_arguments(arguments, Config(method="flow"))
        return _run_and_report(arguments, functools.partial(compare, step_sizes=step_sizes), config)
    names = checked_dynamics(arguments.dynamics, "--dynamics")
    step_sizes = None if arguments.step_sizes is None else checked_step_sizes(arguments.step_sizes, "--step-sizes")
    if arguments.optimizer is not None:
        raise ValueError("--optimizer: with --dynamics, name the optimizers there (e.g. --dynamics sgd adam)")
    hyperparameters = {name: given.pop(name) for name in HYPERPARAMETERS if name in given}
    experiment = functools.partial(compare_dynamics, dynamics=names, step_sizes=step_sizes, **hyperparameters)
    return _run_and_report(arguments, experiment, Config(method="flow").replace(**given))


def _ntk(arguments: argparse.Namespace) -> int:
    from ._experiments.simulate import simulate
    from ._runtime.parallel import from_writer, is_writer

    config = config_from_arguments(arguments, Config(track_ntk=True))
    if config.noise > 0 and arguments.stop_at_threshold is None:  # the bound after T needs the run to go on
        config = config.replace(stop_at_threshold=False)
    figure, out = from_writer(lambda: (_checked_figure(arguments.figure, "--figure"), _checked_result_path(arguments)))
    result = simulate(config, operator=operator_matrix(arguments), progress=not arguments.quiet)
    if not is_writer():
        return 0
    result.plot_ntk(figure)
    if out is not None:
        result.save(out)
    print(result.summary())
    print(f"figure: {figure}")
    return 0


def _sweep_directory(arguments: argparse.Namespace) -> Path:
    return Path(arguments.out or f"runs/{arguments.preset}")


def _sweep(arguments: argparse.Namespace) -> int:
    from ._experiments.sweep import normalised_axes, sweep
    from ._presets import preset
    from ._results.sweep import HEADER
    from ._runtime.parallel import from_writer, is_writer

    base, axes = preset(arguments.preset, **_given_fields(arguments))
    axes = normalised_axes(base, axes)  # a bad value is named before anything else is looked at
    out = _sweep_directory(arguments)

    def refuse_an_existing_sweep() -> None:
        if (out / HEADER).exists() and not arguments.resume:
            raise ValueError(f"{out} already holds a sweep: pass --resume to continue it, or choose another --out")

    from_writer(refuse_an_existing_sweep)
    result = sweep(
        base, axes, out, operator=operator_matrix(arguments), progress=not arguments.quiet, workers=arguments.workers
    )
    if not is_writer():
        return 0
    result.plot(out / "figure")
    print(sweep_summary(result))
    print(f"results: {out}   figure: {out / 'figure.png'} (and .pdf)")
    if result.noisy:
        result.plot_recovery(out / "recovery")
        print(f"recovery figure (median best vs final signal error): {out / 'recovery.png'} (and .pdf)")
    return 0


def _grid_table(result, values, fmt: str) -> list[str]:
    """`values` (shaped like the grid) as a table: rows = first axis, columns = the others."""
    import itertools

    names = list(result.axes)
    columns = [", ".join(map(str, values)) for values in itertools.product(*list(result.axes.values())[1:])] or [""]
    lines = [f"{names[0] + ' / ' + ', '.join(names[1:]):>14} " + " ".join(f"{c:>9}" for c in columns)]
    for value, row in zip(result.axes[names[0]], values.reshape(result.shape[0], -1)):
        lines.append(f"{value!s:>14} " + " ".join(f"{v:>9{fmt}}" for v in row))
    return lines


def sweep_summary(result) -> str:
    """The settings the grid holds fixed (as in its figure's title), then the frequency grid as a table
    (`_grid_table`); for a sweep with noise, also the median best and final signal errors (§7)."""
    import numpy as np

    from ._figures.captions import grid_settings

    fixed = grid_settings(result, list(result.axes), result.configs)
    lines = ["fixed: " + ", ".join(fixed), *_grid_table(result, result.frequency, ".2f")]
    lines.append(
        f"convergence frequency per cell; {result.cells.size} cell{'s' * (result.cells.size != 1)}, {np.nansum(result.wall_time):.1f} s of cell time"
    )
    if result.noisy:
        for which, values in (
            ("best along the path", result.median_best_signal_error),
            ("final", result.median_final_signal_error),
        ):
            lines += [f"median signal error ||x - x_bar||/||x_bar||, {which}:", *_grid_table(result, values, ".3g")]
    return "\n".join(lines)


def _plot(arguments: argparse.Namespace) -> int:
    """Draw what `arguments.path` holds (`wideDIP.load`): a sweep's phase diagram, a run's curves."""
    from ._results.load import load
    from ._results.sweep import SweepResult

    path = Path(arguments.path)
    default = path / "figure.png" if path.is_dir() else path.with_suffix(".png")  # run.v2.npz: run.v2.png
    out = Path(arguments.figure) if arguments.figure else default
    formats = (out.suffix.lstrip("."),) if out.suffix and arguments.figure else ("png", "pdf")
    if arguments.figure:
        for suffix in formats:
            _checked_figure(str(out.with_suffix("." + suffix)), "--figure")
    result = load(path)
    if isinstance(result, SweepResult):
        computed = result.computed
        if not computed.all():
            warnings.warn(
                f"{path}: {int(computed.sum())} of {computed.size} cells computed, the others drawn as "
                "not run (widedip sweep ... --resume computes them)",
                stacklevel=2,
            )
        result.plot(out, formats, arguments.statistic or "frequency", values=not arguments.no_values)
    elif arguments.statistic is not None or arguments.no_values:
        option = "--statistic" if arguments.statistic is not None else "--no-values"
        raise ValueError(
            f"{option} applies to a sweep directory; {str(path)!r} holds a saved "
            f"{type(result).__name__}, drawn without it"
        )
    else:
        for suffix in formats:
            result.plot(out.with_suffix("." + suffix))
    print("figure: " + " and ".join(str(out.with_suffix("." + suffix)) for suffix in formats))
    return 0


def _what_was_kept(arguments: argparse.Namespace, argv: list[str]) -> str:
    """The message after Ctrl-C: what is on disk, and the exact command that goes on."""
    again = shlex.join(["widedip", *argv])
    if arguments.command != "sweep":
        return f"interrupted: nothing was saved (widedip {arguments.command} keeps no partial result); run it again with: {again}"
    from ._results.sweep import CELLS

    out = _sweep_directory(arguments)
    saved = len(list((out / CELLS).glob("cell-*.json"))) if (out / CELLS).is_dir() else 0
    resume = again if "--resume" in argv else f"{again} --resume"
    return f"interrupted: {saved} finished cell(s) are saved in {out}; resume with: {resume}"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _command(
    commands,
    name: str,
    help: str,
    handler: Callable,
    defaults: Config | None = None,
    skip: tuple[str, ...] = (),
    grids: dict[str, list] | None = None,
) -> argparse.ArgumentParser:
    """A subcommand taking every Config field (but `skip`) as an option, and `--quiet`."""
    command = commands.add_parser(
        name, help=help, description=help, usage="%(prog)s [OPTIONS]  (--help lists them)", allow_abbrev=False
    )
    _add_config_options(command, Config() if defaults is None else defaults, skip, grids)
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.add_argument(
        "--operator-file",
        metavar="A.npy",
        help="the (m, n) matrix of --operator custom, a NumPy .npy file (implies --operator custom)",
    )
    command.set_defaults(handler=handler, parser=command)
    return command


def build_parser() -> argparse.ArgumentParser:
    from ._analysis.statistics import PLOTTED_STATISTICS
    from ._presets import PRESETS

    parser = argparse.ArgumentParser(prog="widedip", description=__doc__, allow_abbrev=False)
    parser.add_argument(
        "--version",
        action=_PrintVersions,
        nargs=0,
        help="print the versions of wideDIP, JAX and the libraries it uses, and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = _command(commands, "simulate", "train all seeds of one configuration and print a summary", _simulate)
    simulate.add_argument("--json", action="store_true", help="print machine-readable output")
    simulate.add_argument("--out", help="save the result to this .npz file")
    simulate.add_argument(
        "--reconstructions",
        action="store_true",
        help="with --out or --json: include x(t) at every checkpoint, seeds x checkpoints x n "
        "numbers (the best and final reconstructions are always there)",
    )
    simulate.add_argument(
        "--operator-matrix",
        action="store_true",
        help="with --out or --json: include each seed's operator A, seeds x m x n numbers",
    )
    simulate.add_argument(
        "--figure", help="draw the loss, observation and signal errors over time to this file (e.g. run.png)"
    )

    compare = _command(
        commands,
        "compare",
        "gradient flow vs descent for several step sizes, or any set of dynamics (--dynamics), from the same "
        "draws (horizon: --t-max, else --steps)",
        _compare,
        Config(method="flow"),
        skip=("method", "step_size"),
    )
    compare.add_argument(
        "--step-sizes",
        type=float,
        nargs="+",
        help="descent steps η, each once, in the order given (default: 1 0.5 0.1; with --dynamics: 1, the "
        "learning rate of each discrete dynamics)",
    )
    compare.add_argument(
        "--dynamics",
        nargs="+",
        choices=dynamics_names(),
        help="compare these dynamics instead, from the same draws on one axis (each discrete one at every "
        "--step-sizes; their options, e.g. --momentum, go to those that read them)",
    )
    compare.add_argument(
        "--figure", help="draw the loss against time to this file (e.g. compare.png); default: no figure"
    )
    compare.add_argument("--json", action="store_true", help="print machine-readable output")
    compare.add_argument(
        "--out",
        help="save the result to this .npz file (widedip plot draws it again); with --dynamics one simulation "
        "file per run, OUT.0.npz, OUT.1.npz, ...",
    )

    ntk = _command(
        commands,
        "ntk",
        "track the NTK along the runs, check Theorem 2.1, draw the figure (with "
        "--noise, runs the whole budget unless --stop-at-threshold)",
        _ntk,
        Config(track_ntk=True),
        skip=("track_ntk",),
    )
    ntk.add_argument("--figure", default="ntk.png", help="where to write the figure")
    ntk.add_argument("--out", help="save the result to this .npz file")

    sweep = commands.add_parser(
        "sweep",
        help="a phase diagram (the paper's figures): resumable, with a figure",
        description="A phase diagram from a preset; `widedip sweep PRESET --help` lists "
        "its options with the preset's own defaults.",
        allow_abbrev=False,
    )
    presets = sweep.add_subparsers(dest="preset", required=True, metavar="PRESET")
    for name, (base, axes) in PRESETS.items():
        grid = " × ".join(f"{axis} ∈ {{{', '.join(map(str, values))}}}" for axis, values in axes.items())
        command = _command(presets, name, f"preset {name}: {grid}", _sweep, base, grids=axes)
        command.add_argument("--out", help=f"sweep directory (default runs/{name})")
        command.add_argument("--resume", action="store_true", help="continue the sweep stored in --out")
        command.add_argument("--workers", type=_positive_int, default=2, help="batches run at once (default 2)")

    plot = commands.add_parser(
        "plot",
        help="draw a saved result: a sweep directory's phase diagram, a saved "
        "simulation's or comparison's curves (.npz of --out)",
        usage="%(prog)s PATH [OPTIONS]  (--help lists them)",
        allow_abbrev=False,
    )
    plot.add_argument("path", help="a sweep directory, or a .npz saved by widedip simulate/compare/ntk --out")
    plot.add_argument(
        "--statistic",
        choices=PLOTTED_STATISTICS,
        help="sweeps only: what is drawn (default: frequency, the convergence frequency; "
        "steps_to_threshold and time_to_threshold: their median)",
    )
    plot.add_argument(
        "--figure",
        help="output file; without a suffix, both PATH.png and PATH.pdf "
        "(default: figure.png and figure.pdf in the sweep directory, "
        "RUN.png and RUN.pdf next to RUN.npz)",
    )
    plot.add_argument(
        "--no-values", action="store_true", help="sweeps only: leave the cells of the heatmap without their values"
    )
    plot.set_defaults(handler=_plot, parser=plot)
    return parser


def _with_compilation_cache(handler: Callable[[argparse.Namespace], int], arguments: argparse.Namespace) -> int:
    from ._runtime.cache import enable_compilation_cache

    enable_compilation_cache()
    return handler(arguments)


def main(argv: list[str] | None = None) -> int:
    """Run `widedip` with `argv` (default: the process's arguments)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    arguments, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the subcommand that got them, with its usage
        arguments.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = stop_on_interrupt(lambda: f"{arguments.parser.prog}: {_what_was_kept(arguments, argv)}")
    # The work runs in a worker thread, so that this one waits where a signal reaches it at
    # once, even while a compiled loop runs.
    pool = ThreadPoolExecutor(1, thread_name_prefix="widedip")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            status = pool.submit(_with_compilation_cache, arguments.handler, arguments).result()
        sys.stdout.flush()  # a reader that has gone shows here when the output was buffered
        return status
    except BrokenPipeError:  # `widedip ... | head`: a normal way to stop reading
        return _stdout_closed()
    except ValueError as error:
        if not _raised_by_wideDIP(error):  # an internal failure, not the user's mistake: its traceback
            raise
        arguments.parser.error(_in_option_names(str(error), arguments))
    except OSError as error:  # a file that could not be read or written after all
        arguments.parser.error(f"{error.strerror or error}: {error.filename}" if error.filename else str(error))
    finally:
        pool.shutdown(wait=False)
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)


def _stdout_closed() -> int:
    """Exit status 0, quietly, once stdout's reader has gone: stdout then writes to os.devnull, so
    that nothing more raises (the Python docs' note on SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _raised_by_wideDIP(error: BaseException) -> bool:
    """Whether `error` was raised in wideDIP's own code, whose `ValueError`s name a bad input."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback is not None and Path(__file__).parent in Path(traceback.tb_frame.f_code.co_filename).parents


def _in_option_names(message: str, arguments: argparse.Namespace) -> str:
    """`message` with each `Config.field` that this command takes as an option written as the
    option (`Config.step_size` → `--step-size`): the Python API's messages name the fields."""

    def option(match: re.Match) -> str:
        name = match.group(1)
        return "--" + name.replace("_", "-") if name in vars(arguments) else match.group(0)

    return re.sub(r"\bConfig\.(\w+)", option, message)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"widedip: warning: {message}", file=sys.stderr)
