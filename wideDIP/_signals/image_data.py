"""The images `Config.image` names (docs/theory.md §12): those shipped inside the wheels of the
optional extra `images` (scikit-image's `skimage.data`, PyWavelets' `pywt.data`: read from the
installed package, never downloaded), or a user's 2-D array saved as a `.npy` file. Each is loaded
as a 2-D float64 array: a shipped image in grey levels in [0, 1], a user's array as its values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import extra_modules

_SHIPPED = {
    "camera": ("skimage", "camera"),
    "astronaut": ("skimage", "astronaut"),
    "phantom": ("skimage", "shepp_logan_phantom"),
    "coins": ("skimage", "coins"),
    "moon": ("skimage", "moon"),
    "text": ("skimage", "text"),
    "page": ("skimage", "page"),
    "brick": ("skimage", "brick"),
    "grass": ("skimage", "grass"),
    "gravel": ("skimage", "gravel"),
    "clock": ("skimage", "clock"),
    "cell": ("skimage", "cell"),
    "chelsea": ("skimage", "chelsea"),
    "coffee": ("skimage", "coffee"),
    "rocket": ("skimage", "rocket"),
    "horse": ("skimage", "horse"),
    "checkerboard": ("skimage", "checkerboard"),
    "ascent": ("pywt", "ascent"),
    "aero": ("pywt", "aero"),
}
"""Each shipped image's name: the module of the extra and its function there (files inside the
installed wheels, checked to load with no network access: tests/test_signals.py). Colour images
are turned grey."""


def shipped_images() -> tuple[str, ...]:
    """The names of the shipped images (`Config.image`)."""
    return tuple(_SHIPPED)


def check_image(image: str) -> None:
    """A one-line `ValueError` naming `Config.image` unless it names a shipped image or an existing `.npy` file."""
    if image in _SHIPPED:
        return
    if Path(image).suffix != ".npy":
        raise ValueError(
            f"Config.image must be a shipped image ({', '.join(shipped_images())}) or the path of a 2-D array "
            f"saved as a .npy file, got {image!r}"
        )
    if not Path(image).is_file():
        raise ValueError(f"Config.image={image!r}: no such .npy file")


def file_stamp(image: str) -> tuple[int, int] | None:
    """What tells a user's file apart from its earlier versions (modification time and size); None for a shipped image."""
    if image in _SHIPPED:
        return None
    status = Path(image).stat()
    return status.st_mtime_ns, status.st_size


def load_image(image: str) -> np.ndarray:
    """The 2-D float64 array `Config.image` names (checked by `check_image`): a shipped image in grey
    levels in [0, 1], or the user's array (refused, naming `Config.image`, unless a real, finite,
    non-constant 2-D array in an undamaged `.npy` file)."""
    if image not in _SHIPPED:
        return _user_array(image)
    package, function = _SHIPPED[image]
    skimage, source = extra_modules("image", "skimage", package)
    pixels = getattr(source.data, function)()
    if pixels.ndim == 3:
        pixels = skimage.color.rgb2gray(pixels)
    return np.asarray(skimage.util.img_as_float(pixels), np.float64)


def _user_array(path: str) -> np.ndarray:
    where = f"Config.image={path!r}"
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{where} is not a readable .npy array (damaged file: {type(error).__name__})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive under a .npy name
        raise ValueError(f"{where} is not a .npy array but a {type(array).__name__}")
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{where} must hold a non-empty 2-D array (an image), got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{where} must hold real numbers, got dtype {array.dtype}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{where} holds values that are not finite (NaN or infinite)")
    if values.min() == values.max():
        raise ValueError(f"{where} is constant ({values.flat[0]:g}): an image needs at least two grey levels")
    return values
