"""The examples' command lines: by default they write only into folders git ignores (docs/ only
with `gallery.py --docs`), and `--help` shows each one's whole docstring."""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(path.stem for path in EXAMPLES.glob("[!_]*.py"))


@pytest.fixture(scope="module")
def modules():
    """Every example, imported (they import each other and their shared `_command_line` by name)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in ["_command_line", *SCRIPTS]}
    finally:
        sys.path.remove(str(EXAMPLES))


def ignored_by_git(path: Path) -> bool:
    """Whether git ignores `path` in this checkout (`git check-ignore`)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(path)]).returncode == 0


def test_every_example_writes_by_default_where_git_ignores_it_never_into_docs(modules):
    defaults = {name: modules[name].parser().parse_args([]) for name in SCRIPTS}
    outs = {name: arguments.out.resolve() for name, arguments in defaults.items() if hasattr(arguments, "out")}
    assert set(SCRIPTS) - set(outs) == {"stiff_flow"}  # the one example that writes nothing
    for name, out in outs.items():
        assert not out.is_relative_to(ROOT / "docs"), name
        assert ignored_by_git(out / f"{name}.png"), (name, out)
    sweeps = modules["_command_line"].RUNS
    assert ignored_by_git(sweeps / "fig1-quick" / "sweep.json") and not sweeps.is_relative_to(ROOT / "docs")


def test_only_the_galleries_docs_option_writes_docs_and_not_with_quick():
    gallery = [sys.executable, str(EXAMPLES / "gallery.py")]
    refused = subprocess.run([*gallery, "--docs", "--quick"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("gallery.py: error: --docs")


def test_help_shows_each_examples_whole_docstring(modules):
    for name in SCRIPTS:
        assert modules[name].__doc__.strip() in modules[name].parser().format_help(), name
