"""What the examples' command lines share: the whole docstring as `--help`, and folders that git
ignores for what they write, so that running an example leaves the checkout clean. Only
`gallery.py --docs` writes the docs' figures into docs/."""

import argparse
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
REPOSITORY = EXAMPLES.parent
RUN_FOLDER = EXAMPLES / "out"
"""Where an example writes its figures unless `--out` says otherwise (ignored by git)."""
RUNS = REPOSITORY / "runs"
"""Where the examples keep the sweeps they resume (ignored by git; `widedip sweep`'s default too)."""
DOCS = REPOSITORY / "docs"
"""The docs' figures: written by `gallery.py --docs` only."""


def shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it (for help texts)."""
    return str(path.relative_to(REPOSITORY)) if path.is_relative_to(REPOSITORY) else str(path)


def parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the example's whole docstring `doc`, laid out as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_out(arguments: argparse._ActionsContainer, default: Path = RUN_FOLDER) -> None:
    """`--out DIR` on `arguments` (a parser or a group of it): the folder the figures are written to,
    `default` unless given."""
    arguments.add_argument(
        "--out",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"folder for the figures (default: {shown(default)}/, which git ignores)",
    )


def figure_parser(doc: str, switch: str, switch_help: str) -> argparse.ArgumentParser:
    """`parser(doc)` with `--out DIR`, the example's own on/off `switch` and `--dpi` (the PNGs'
    resolution, `PRINT_DPI` by default): the command line of the examples that draw figures."""
    from wideDIP._figures.plots import PRINT_DPI

    arguments = parser(doc)
    add_out(arguments)
    arguments.add_argument(switch, action="store_true", help=switch_help)
    arguments.add_argument("--dpi", type=int, default=PRINT_DPI, help=f"PNG resolution (default {PRINT_DPI})")
    return arguments
