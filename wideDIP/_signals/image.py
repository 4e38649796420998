"""An image as the signal (docs/theory.md §12): a shipped image or a user's array (`image_data`),
cropped, resized to `side × side` and flattened in raster order: the same `x̄` for every seed."""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np

from .base import DeterministicSignal, extra_modules, in_range
from .image_data import check_image, file_stamp, load_image


class ImageSignal(DeterministicSignal):
    """`x̄ = image.ravel()` (row-major, `n = side²`): the centred square of side `crop` times the
    image's shorter side, resized to `side × side` with anti-aliasing (`skimage.transform.resize`:
    a Gaussian filter where it shrinks, then bilinear interpolation), in `Config.signal_range`
    ("native": a shipped image's grey levels in [0, 1], a user's array's own values)."""

    name: ClassVar[str] = "image"
    config_fields: ClassVar[tuple[str, ...]] = ("side", "image", "crop", "signal_range")

    @classmethod
    def validate(cls, side: int | None, image: str, crop: float, signal_range: str) -> None:
        extra_modules(cls.name, "skimage")
        if side is None:
            raise ValueError("Config.side must be set for signal='image' (the image is side × side pixels, 16 to 64)")
        cls.values_of(side, image, crop, signal_range)

    @classmethod
    def values_of(cls, side: int, image: str, crop: float, signal_range: str) -> np.ndarray:
        check_image(image)
        return _image_values(image, file_stamp(image), side, crop, signal_range)


@functools.lru_cache(maxsize=16)
def _image_values(image: str, stamp: tuple[int, int] | None, side: int, crop: float, signal_range: str) -> np.ndarray:
    """`ImageSignal`'s `x̄` (read-only), computed once per image, version of a user's file (`stamp`)
    and settings: `Config` validates it, and the law holds it."""
    (skimage,) = extra_modules("image", "skimage")
    pixels = load_image(image)
    kept = max(1, round(crop * min(pixels.shape)))
    top, left = (pixels.shape[0] - kept) // 2, (pixels.shape[1] - kept) // 2
    square = pixels[top : top + kept, left : left + kept]
    resized = np.asarray(skimage.transform.resize(square, (side, side), anti_aliasing=True, preserve_range=True))
    if resized.min() == resized.max():
        raise ValueError(
            f"Config.crop={crop:g} keeps a constant part of image {image!r} ({kept} × {kept} pixels): there is no image to recover"
        )
    values = in_range(resized.astype(np.float64), signal_range, f"image {image!r}").ravel()
    values.setflags(write=False)
    return values
