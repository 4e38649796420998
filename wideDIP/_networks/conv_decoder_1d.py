"""The 1-D convolutional decoder (docs/theory.md §12): a signal of length `n` from a fixed random tensor."""

from __future__ import annotations

from typing import Any, ClassVar

from .decoder import ConvolutionalDecoder


class ConvDecoder1D(ConvolutionalDecoder):
    """The decoder of `ConvolutionalDecoder` with a `k × n/2^L` input, 1-D convolutions
    (`kernel_size` taps) and an output of length `n`."""

    name: ClassVar[str] = "conv_decoder_1d"

    @classmethod
    def validate(cls, *, n: int, side: int | None, decoder_layers: int, kernel_size: int, **fields: Any) -> None:
        """`side` None (a 1-D signal), `n` divisible by `2^decoder_layers`, its smallest map at least `kernel_size` long."""
        if side is not None:
            raise ValueError(
                f"Config.side must be left unset (None) for network={cls.name!r}, which generates a 1-D signal of length n; "
                f"for a side × side image use network='conv_decoder' (got side={side})"
            )
        cls.validate_extent(n, "n", decoder_layers, kernel_size)

    @classmethod
    def from_fields(cls, *, n: int, side: None, **fields: Any) -> ConvDecoder1D:
        """The output shape `(n,)`."""
        return cls((n,), **fields)
