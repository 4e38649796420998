"""The signal's interface (docs/theory.md §1, §12): a law of `x̄ ∈ R^n` drawn per seed, the
entrywise laws that may be shaped as an image, and the deterministic signals (the same `x̄` for
every seed), with what they share: the refusal of `Config.side` by 1-D families, the range map and
the optional extra."""

from __future__ import annotations

import abc
import importlib
from types import ModuleType
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

RANGE_INTERVALS = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}
"""The `Config.signal_range` values other than "native", each with the interval `x̄` is rescaled to
(its minimum to the interval's, its maximum to the interval's)."""
EXTRA = {"skimage": "scikit-image", "pywt": "PyWavelets"}
"""The modules of the optional extra `images` and the distributions that hold them."""


class Signal(eqx.Module):
    """A law of `x̄ ∈ R^n` (the values of `Config.signal`)."""

    name: ClassVar[str]
    config_fields: ClassVar[tuple[str, ...]] = ()
    gaussian_block: ClassVar[bool] = False
    """Whether `x̄` is the seed's Gaussian block: what a padded batch reproduces bit for bit."""

    @classmethod
    def validate(cls, **fields: Any) -> None:
        """Raise `ValueError`, naming the `Config` field, unless the fields suit this family."""

    @classmethod
    def from_fields(cls, **fields: Any) -> Signal:
        return cls(**fields)

    @abc.abstractmethod
    def draw(self, key: PRNGKeyArray, gaussian: Float[Array, " n"]) -> Float[Array, " n"]:
        """One seed's `x̄` from `key` (its own stream) and the seed's Gaussian block (iid N(0,1))."""


class AnyShapeSignal(Signal):
    """A law drawn entry by entry: a vector, or a `side × side` image when `Config.side` is set."""

    config_fields: ClassVar[tuple[str, ...]] = ("side",)
    side: int | None = eqx.field(static=True, default=None)


class StructuredSignal(Signal):
    """A signal a generator can have a prior for (docs/theory.md §12): results report its PSNR, and
    for an image its SSIM; the random laws (Gaussian, Rademacher, sphere) are not."""


class DeterministicSignal(StructuredSignal):
    """One `x̄` for every seed (docs/theory.md §12): its values computed once on the host when the
    law is built (`from_fields`), held as an array field, returned by `draw` in the draw's dtype."""

    values: Float[Array, " n"]

    @classmethod
    @abc.abstractmethod
    def values_of(cls, **fields: Any) -> np.ndarray:
        """`x̄` (float64, in its `Config.signal_range`) from the `Config` fields of `config_fields`."""

    @classmethod
    def from_fields(cls, **fields: Any) -> DeterministicSignal:
        return cls(values=cls.values_of(**fields))

    def draw(self, key, gaussian):
        return jnp.asarray(self.values, gaussian.dtype)


def refuse_side(signal: str, side: int | None) -> None:
    """The `ValueError` of a 1-D family (`signal`) given `Config.side`, which makes `x̄` an image."""
    if side is not None:
        raise ValueError(
            f"Config.side applies to 2-D signals (signal='image', or the entrywise laws 'gaussian', 'rademacher', "
            f"'sphere'): signal={signal!r} is a 1-D signal of length n; leave side unset (got side={side})"
        )


def in_range(values: np.ndarray, signal_range: str, what: str) -> np.ndarray:
    """`values` as they are ("native") or rescaled min to min and max to max onto `RANGE_INTERVALS`
    (`Config.signal_range`); a `ValueError` naming `what` when constant values cannot be rescaled."""
    if signal_range == "native":
        return values
    low, high = values.min(), values.max()
    if low == high:
        raise ValueError(
            f"Config.signal_range={signal_range!r} rescales x̄ from its minimum to its maximum, but {what} is "
            f"constant ({low:g}): use signal_range='native'"
        )
    bottom, top = RANGE_INTERVALS[signal_range]
    return bottom + (top - bottom) * (values - low) / (high - low)


def extra_modules(signal: str, *modules: str) -> list[ModuleType]:
    """The optional extra's `modules` (`EXTRA`) that `signal` needs, imported; a one-line `ValueError`
    naming what to install when one is missing (imported here, lazily: `import wideDIP` and the other
    signals do not need them)."""
    imported, missing = [], {}
    for module in modules:
        try:
            imported.append(importlib.import_module(module))
        except ImportError:
            missing[EXTRA[module]] = None
    if missing:
        raise ValueError(
            f"Config.signal={signal!r} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed: pip install 'widedip[images]' (in a clone: pip install -e \".[images]\")"
        )
    return imported
