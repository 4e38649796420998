"""The `widedip` command (also `python -m wideDIP`): Ctrl-C is answered from the first moment,
before JAX loads (see `_interrupt`); the commands themselves are in `_cli`."""

from ._runtime.interrupt import stop_on_interrupt


def entry_point() -> None:
    """The console script `widedip`."""
    stop_on_interrupt(lambda: "widedip: interrupted before the work started; nothing was done")
    from ._cli import main

    raise SystemExit(main())


if __name__ == "__main__":
    entry_point()
