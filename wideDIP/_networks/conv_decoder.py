"""The 2-D convolutional decoder (docs/theory.md §12): a `side × side` image from a fixed random tensor."""

from __future__ import annotations

from typing import Any, ClassVar

from .decoder import ConvolutionalDecoder


class ConvDecoder(ConvolutionalDecoder):
    """The decoder of `ConvolutionalDecoder` with a `k × side/2^L × side/2^L` input, 2-D convolutions
    (`kernel_size × kernel_size`) and a `side × side` output (`n = side²`, flattened row-major)."""

    name: ClassVar[str] = "conv_decoder"

    @classmethod
    def validate(cls, *, side: int | None, decoder_layers: int, kernel_size: int, **fields: Any) -> None:
        """`side` set (an image), divisible by `2^decoder_layers`, its smallest map at least `kernel_size` wide."""
        if side is None:
            raise ValueError(
                f"Config.side must be set for network={cls.name!r}, which generates a side × side image "
                "(n = side²); for a 1-D signal use network='conv_decoder_1d'"
            )
        cls.validate_extent(side, "side", decoder_layers, kernel_size)

    @classmethod
    def from_fields(cls, *, n: int, side: int, **fields: Any) -> ConvDecoder:
        """The output shape `(side, side)` (`Config` has checked `n = side²`)."""
        return cls((side, side), **fields)
