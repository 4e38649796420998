"""Ctrl-C on the command line: one line saying what was kept, exit code 130, at any moment
(infrastructure of the `widedip` command; no formula of docs/theory.md)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""


def stop_on_interrupt(message: Callable[[], str]):
    """From now on, Ctrl-C prints `message()` and ends the process at once with code 130; returns
    the previous handler. A signal handler rather than `KeyboardInterrupt`, which a callback
    running at that moment (JAX runs some during garbage collection) could swallow."""

    def stop(signum, frame):
        sys.stdout.flush()
        print(f"\n{message()}", file=sys.stderr, flush=True)
        os._exit(INTERRUPTED)  # compiled loops and running cells cannot be cancelled: end them with the process

    return signal.signal(signal.SIGINT, stop)
