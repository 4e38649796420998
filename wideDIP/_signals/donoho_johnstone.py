"""The piecewise-smooth test signals of Donoho and Johnstone (1994): Blocks, Bumps, HeaviSine,
Doppler (docs/theory.md §12), sampled at `t = 1/n, 2/n, …, 1` by PyWavelets' `pywt.data.demo_signal`
(the optional extra `images`): the same `x̄` for every seed."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import DeterministicSignal, extra_modules, in_range, refuse_side


class DonohoJohnstoneSignal(DeterministicSignal):
    """`pywt.data.demo_signal(generator, n)` in `Config.signal_range` ("native": its own amplitude)."""

    generator: ClassVar[str]
    """The signal's name in `pywt.data.demo_signal`."""
    config_fields: ClassVar[tuple[str, ...]] = ("n", "side", "signal_range")

    @classmethod
    def validate(cls, n: int, side: int | None, signal_range: str) -> None:
        refuse_side(cls.name, side)
        cls.values_of(n, side, signal_range)

    @classmethod
    def values_of(cls, n: int, side: int | None, signal_range: str) -> np.ndarray:
        (pywt,) = extra_modules(cls.name, "pywt")
        # PyWavelets samples `np.arange(1/n, 1 + 1/n, 1/n)`, which for some n (49, 103, ...) rounds to
        # one sample past t = 1: the first n are the signal at t = 1/n, ..., 1.
        samples = np.asarray(pywt.data.demo_signal(cls.generator, n), np.float64)[:n]
        return in_range(samples, signal_range, f"signal={cls.name!r} at n={n}")


class Blocks(DonohoJohnstoneSignal):
    """Piecewise constant: eleven jumps of various heights."""

    name: ClassVar[str] = "blocks"
    generator: ClassVar[str] = "Blocks"


class Bumps(DonohoJohnstoneSignal):
    """Eleven narrow positive bumps on a zero background."""

    name: ClassVar[str] = "bumps"
    generator: ClassVar[str] = "Bumps"


class HeaviSine(DonohoJohnstoneSignal):
    """A sinusoid with two jumps."""

    name: ClassVar[str] = "heavisine"
    generator: ClassVar[str] = "HeaviSine"


class Doppler(DonohoJohnstoneSignal):
    """A sinusoid whose frequency falls and amplitude grows along the signal."""

    name: ClassVar[str] = "doppler"
    generator: ClassVar[str] = "Doppler"
