"""JAX's persistent compilation cache: a sweep's cells (docs/theory.md §6) compile once per
shape and machine, not once per process. Infrastructure: no formula of its own."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled programs in `path` (default `$WIDEDIP_CACHE_DIR`, else
    `$XDG_CACHE_HOME/widedip/jax` or `~/.cache/widedip/jax`); `WIDEDIP_CACHE_DIR=off`
    disables it. Returns the directory used, or None. The `widedip` command calls this."""
    setting = os.environ.get("WIDEDIP_CACHE_DIR")
    if path is None and setting is not None and setting.lower() in ("", "off", "0", "none"):
        return None
    if path is None:
        path = setting or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "widedip" / "jax"
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"enable_compilation_cache: cannot use {str(path)!r} as the cache folder "
            f"(set WIDEDIP_CACHE_DIR, or 'off'): {error.strerror or error}"
        ) from None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # small cells compile fast, but many
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
