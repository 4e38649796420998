"""The operators on images (docs/theory.md §12, docs/operators.md): each knows the image's shape from
`Config.side`. Each is compared with an independent construction (NumPy's FFT, SciPy's convolution
and DCT, the square written out, NumPy's SVD), in float64 at side 16."""

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage

from tests.test_operators import draws
from wideDIP import OPERATORS, Config
from wideDIP._config import switched
from wideDIP._resolve import operator_of

SIDE = 16
IMAGE = dict(side=SIDE, d=2, k=3, seeds=3, dtype="float64")
IMAGES = np.random.default_rng(7).standard_normal((3, SIDE, SIDE))
"""Test images, each multiplied by every seed's `A` as a raster-order vector."""


def gaussian_kernel(width):
    """The 1-D kernel of docs/operators.md: `h_j ∝ exp(−j²/(2w²))`, `j` modulo the side nearest 0."""
    offsets = np.arange(SIDE)
    kernel = np.exp(-(np.minimum(offsets, SIDE - offsets) ** 2) / (2 * width**2))
    return kernel / kernel.sum()


@pytest.mark.parametrize("width", [0.7, 2.0])
def test_2d_blur_is_the_circular_convolution_of_the_image_with_the_2d_kernel(width):
    config = Config(**IMAGE, operator="blur", blur_width=width)
    assert config.m == config.n == SIDE**2  # every pixel observed: m follows n
    a = draws(config).operator
    np.testing.assert_array_equal(a[0], a[2])  # the same for every seed
    kernel = np.outer(gaussian_kernel(width), gaussian_kernel(width))
    for image in IMAGES:
        blurred = np.real(np.fft.ifft2(np.fft.fft2(image) * np.fft.fft2(kernel)))
        np.testing.assert_allclose(a[0] @ image.ravel(), blurred.ravel(), atol=1e-14)
        # the kernel centred on the array's middle entry, as SciPy places it
        wrapped = scipy.ndimage.convolve(image, np.fft.fftshift(kernel), mode="wrap")
        np.testing.assert_allclose(a[0] @ image.ravel(), wrapped.ravel(), atol=1e-14)
    assert operator_of(config).describe() == f"2-D Gaussian blur of width {width:g} pixels"
    assert operator_of(config).describe(parameters=False) == "2-D Gaussian blur"


@pytest.mark.parametrize("width", [0.7, 1.5])
def test_2d_blur_spectrum_in_closed_form_is_the_svd_of_its_matrix(width):
    config = Config(**IMAGE, operator="blur", blur_width=width)
    singular = np.linalg.svd(draws(config).operator[0], compute_uv=False)
    spectrum = operator_of(config).spectrum()
    np.testing.assert_allclose(spectrum["norm_A"], singular[0], rtol=1e-12)
    np.testing.assert_allclose(spectrum["sigma_A"], singular[-1], rtol=1e-5)  # σ_A ≥ 1e-10: full rank
    assert singular[-1] > singular[0] * SIDE**2 * np.finfo(np.float64).eps


def test_2d_dct_rows_are_scipy_dctn_at_distinct_frequencies_drawn_per_seed():
    config = Config(**IMAGE, m=40, operator="dct")
    # the 2-D DCT-II as a matrix, column j the transform of the j-th pixel (raster order)
    reference = np.stack(
        [scipy.fft.dctn(pixel, norm="ortho").ravel() for pixel in np.eye(SIDE**2).reshape(-1, SIDE, SIDE)], axis=1
    )
    chosen = []
    for a in draws(config).operator:
        np.testing.assert_allclose(a @ a.T, np.eye(40), atol=1e-13)
        selection = a @ reference.T  # a 0/1 selection matrix when the rows of A are rows of the 2-D DCT
        np.testing.assert_allclose(selection, np.round(selection), atol=1e-12)
        frequencies = np.argmax(selection, axis=1)
        assert len(set(frequencies)) == 40
        for image in IMAGES:
            transform = scipy.fft.dctn(image, norm="ortho")
            np.testing.assert_allclose(a @ image.ravel(), transform.ravel()[frequencies], atol=1e-13)
        chosen.append(tuple(frequencies))
    assert len(set(chosen)) == 3  # drawn per seed
    assert operator_of(config).describe() == "partial 2-D DCT"


@pytest.mark.parametrize("block", [6, 5])  # centred exactly, and one pixel off centre (16 − 5 is odd)
def test_block_inpainting_misses_exactly_the_centred_square(block):
    config = Config(**IMAGE, m=SIDE**2 - block**2, operator="block_inpainting")
    a = draws(config).operator
    np.testing.assert_array_equal(a[0], a[1])  # the same for every seed
    np.testing.assert_array_equal(a[0] @ a[0].T, np.eye(config.m))
    start = (SIDE - block) // 2
    rows, columns = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    missing = (start <= rows) & (rows < start + block) & (start <= columns) & (columns < start + block)
    np.testing.assert_array_equal(a[0].sum(axis=0).reshape(SIDE, SIDE), ~missing)  # the unobserved pixels
    for image in IMAGES:
        np.testing.assert_array_equal(a[0] @ image.ravel(), image[~missing])  # the kept pixels, raster order
    assert operator_of(config).describe() == f"block inpainting ({block} × {block} missing)"


def test_identity_observes_every_sample_and_m_follows_n():
    config = Config(**IMAGE, operator="identity")
    assert config.m == config.n == SIDE**2
    np.testing.assert_array_equal(draws(config).operator, np.broadcast_to(np.eye(SIDE**2), (3, SIDE**2, SIDE**2)))
    assert Config(n=30, operator="identity").m == 30
    assert switched(Config(n=30, operator="identity"), n=40).m == 40  # follows n when n changes
    assert operator_of(config).describe() == "identity (denoising)"
    assert operator_of(config).spectrum() == {"norm_A": 1.0, "sigma_A": 1.0}


def test_only_the_image_operators_read_side_and_the_others_still_run_on_an_image():
    """The random-pixel inpainting, the Gaussian ensembles and a custom matrix need no shape: on an
    image (`side` read by the signal, here Gaussian pixels) they act on its raster-order vector."""
    readers = {name for name, cls in OPERATORS.items() if "side" in cls.config_fields}
    assert readers == {"block_inpainting", "blur", "dct"}
    for name in ("gaussian", "conditioned", "inpainting"):
        config = Config(**IMAGE, m=100, operator=name)
        operators = draws(config).operator
        assert operators.shape == (3, 100, SIDE**2), name
    for a in operators:  # the inpainting's: distinct pixels
        np.testing.assert_array_equal(a @ a.T, np.eye(100))
        np.testing.assert_array_equal(a @ IMAGES[0].ravel(), IMAGES[0].ravel()[np.argmax(a, axis=1)])
    matrix = np.random.default_rng(8).standard_normal((10, SIDE**2))
    custom = Config(**IMAGE, m=10, operator="custom")
    np.testing.assert_array_equal(draws(custom, matrix).operator[1], matrix)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(operator="block_inpainting", n=64, m=28), r"Config\.side must be set for operator='block_inpainting'"),
        (
            dict(operator="block_inpainting", side=16, m=200),
            r"Config\.m must be n − b² .* e\.g\. m=207 \(7 × 7 missing\) or m=192 \(8 × 8 missing\), got m=200",
        ),
        (
            dict(operator="block_inpainting", side=16, m=256),
            r"Config\.m must be n − b² .* e\.g\. m=255 \(1 × 1 missing\), got",
        ),
        (
            dict(operator="block_inpainting", side=16, m=2),
            r"Config\.m must be n − b² .* e\.g\. m=31 \(15 × 15 missing\), got",
        ),
        (dict(operator="block_inpainting", side=16, m=300), r"Config\.m must be <= Config\.n \(= 256\)"),
        (dict(operator="blur", side=16, m=100), r"Config\.m must be 256 for operator='blur'"),
        (dict(operator="identity", n=30, m=12), r"Config\.m must be 30 for operator='identity'"),
        (dict(operator="identity", operator_scale="sqrt_n"), r"Config\.operator_scale must be 'none'"),
    ],
)
def test_invalid_image_operators_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)
