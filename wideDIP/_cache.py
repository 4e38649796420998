"""JAX's persistent compilation cache: a sweep's cells compile once per shape and machine,
not once per process."""

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
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # small cells compile fast, but many
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
