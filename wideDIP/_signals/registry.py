"""The built-in signal families by `Config.signal` name (docs/theory.md §1, §12)."""

from __future__ import annotations

from .._runtime.registry import Registry
from .base import Signal
from .donoho_johnstone import Blocks, Bumps, Doppler, HeaviSine
from .gaussian import GaussianSignal
from .image import ImageSignal
from .piecewise_constant import PiecewiseConstantSignal
from .rademacher import RademacherSignal
from .sphere import SphereSignal

SIGNALS = Registry(
    "SIGNALS",
    Signal,
    {
        cls.name: cls
        for cls in (
            GaussianSignal,
            RademacherSignal,
            SphereSignal,
            Blocks,
            Bumps,
            HeaviSine,
            Doppler,
            PiecewiseConstantSignal,
            ImageSignal,
        )
    },
)
"""Every law of `x̄` by name (the values of `Config.signal`): adding one is adding a class here."""
