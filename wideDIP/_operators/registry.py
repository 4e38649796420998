"""The forward operators by `Config.operator` name (docs/theory.md §8, §12). Adding an operator is
adding one class to `OPERATORS`: `Config`, the draw, the command line and figures read it."""

from __future__ import annotations

from .._runtime.registry import Registry
from .base import Operator
from .block_inpainting import BlockInpainting
from .blur import Blur
from .conditioned import Conditioned
from .custom import Custom
from .dct import PartialDCT
from .gaussian import Gaussian
from .identity import Identity
from .inpainting import Inpainting

OPERATORS = Registry(
    "OPERATORS",
    Operator,
    {cls.name: cls for cls in (Gaussian, Conditioned, Identity, Inpainting, BlockInpainting, Blur, PartialDCT, Custom)},
)
"""Every forward operator class by name (the values of `Config.operator`)."""


def operator(name: str) -> type[Operator]:
    """The operator class called `name` (one of `Config.operator`'s values)."""
    try:
        return OPERATORS[name]
    except KeyError:
        raise ValueError(f"operator must be one of {tuple(OPERATORS)}, got {name!r}") from None


def placeholders() -> dict[str, float]:
    """Every operator's parameters at their placeholders: what a compiled setup's static config holds."""
    return {name: value for op in OPERATORS.values() for name, value in op.parameters.items()}
