"""Where results and figures are written: checked before any computation, so that a long run
never ends on a path it cannot write (docs/configuration.md, "Mistakes, interruptions, damaged files")."""

from __future__ import annotations

import os
from pathlib import Path


def result_path(path: str | os.PathLike) -> Path:
    """Where `save(path)` writes: `path` itself if it ends in `.npz`, `path.npz` if it has no
    suffix; any other suffix is a `ValueError` (a result is one `.npz` file)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder: give the result's file name (ending in .npz)")
    if path.suffix == "":
        return path.with_suffix(".npz")
    if path.suffix != ".npz":
        raise ValueError(
            f"a result is saved as one .npz file: give a path ending in .npz (or no suffix), got {str(path)!r}"
        )
    return path


def check_writable(path: str | os.PathLike, what: str) -> Path:
    """Raise a `ValueError` naming `what` unless a file can be created at `path` (its folder
    exists and is writable, and `path` is not a folder): checked before a long computation."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ValueError(f"{what}: {str(path)!r} is a folder, give a file name")
    if not folder.is_dir():
        raise ValueError(f"{what}: the folder {str(folder)!r} of {str(path)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what}: the folder {str(folder)!r} is not writable")
    return path
