"""The signal families (docs/theory.md §1, §12): the entrywise laws, the Donoho–Johnstone signals, random
piecewise-constant signals, images (shipped or a user's `.npy` array) and the optional extra `images`."""

import math
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
import pywt
import skimage

import wideDIP
from wideDIP import Config, draw_problem, seed_keys
from wideDIP._experiments.simulate import precision
from wideDIP._signals.image_data import load_image, shipped_images
from wideDIP._signals.piecewise_constant import PiecewiseConstantSignal
from wideDIP._signals.registry import SIGNALS

SMALL = dict(m=2, d=2, k=2, dtype="float64")


def drawn_signals(config: Config) -> np.ndarray:
    """`x̄` of every seed of `config`, `[seeds, n]`, drawn as a run draws it."""
    with precision(config):
        return np.asarray(jax.vmap(lambda key: draw_problem(config, key).signal)(seed_keys(config)))


def rescaled(values: np.ndarray, signal_range: str) -> np.ndarray:
    """Min-max onto [0, 1] ("unit") or [−1, 1] ("symmetric"), written apart from the package."""
    unit = (values - values.min()) / np.ptp(values)
    return {"native": values, "unit": unit, "symmetric": 2 * unit - 1}[signal_range]


def resized_crop(pixels: np.ndarray, crop: float, side: int) -> np.ndarray:
    """The centred `crop` square of `pixels` resized to `side × side` by the same scikit-image call."""
    kept = round(crop * min(pixels.shape))
    top, left = (pixels.shape[0] - kept) // 2, (pixels.shape[1] - kept) // 2
    square = pixels[top : top + kept, left : left + kept]
    return skimage.transform.resize(square, (side, side), anti_aliasing=True, preserve_range=True)


@pytest.mark.parametrize("name", ["gaussian", "rademacher", "sphere"])
def test_entrywise_laws_are_the_bits_of_jax_random(name):
    """x̄ of the seed key `key`: the "signal" slice of the flat normal draw of `fold_in(key, 0)` (after
    the operator's m·n numbers), or the Rademacher draw of the signal's stream `fold_in(key, 1)`."""
    config = Config(m=3, n=5, d=2, k=4, seeds=3, signal=name, dtype="float64")
    with precision(config):
        expected = []
        for key in seed_keys(config):
            size = config.m * config.n + config.n + config.m + config.n * config.k + config.k + config.d
            gaussian = np.asarray(jax.random.normal(jax.random.fold_in(key, 0), (size,), np.float64))
            block = gaussian[config.m * config.n : config.m * config.n + config.n]
            expected.append(
                {
                    "gaussian": block,
                    "rademacher": np.asarray(jax.random.rademacher(jax.random.fold_in(key, 1), (5,), np.float64)),
                    "sphere": math.sqrt(5) * block / np.linalg.norm(block),
                }[name]
            )
    # bit for bit; the sphere's norm is summed in another order by NumPy than by XLA
    np.testing.assert_allclose(drawn_signals(config), np.array(expected), rtol=1e-15 if name == "sphere" else 0)


@pytest.mark.parametrize(
    "name, generator", [("blocks", "Blocks"), ("bumps", "Bumps"), ("heavisine", "HeaviSine"), ("doppler", "Doppler")]
)
def test_donoho_johnstone_signals_are_pywavelets_demo_signals(name, generator):
    """The same x̄ for every seed of a run; in each range, PyWavelets' samples mapped here."""
    config = Config(n=64, seeds=2, signal=name, **SMALL)
    signals = drawn_signals(config)
    np.testing.assert_array_equal(signals[0], signals[1])
    np.testing.assert_allclose(signals[0], pywt.data.demo_signal(generator, 64), rtol=1e-15)
    for signal_range in ("unit", "symmetric"):
        law = SIGNALS[name].from_fields(n=64, side=None, signal_range=signal_range)
        expected = rescaled(pywt.data.demo_signal(generator, 64), signal_range)
        with precision(config):
            drawn = law.draw(jax.random.PRNGKey(0), np.zeros(64))
        np.testing.assert_allclose(drawn, expected, rtol=1e-14, atol=1e-14)


def test_donoho_johnstone_signals_have_n_samples_where_pywavelets_rounds_one_past():
    """For n = 49 PyWavelets samples `arange(1/n, 1 + 1/n, 1/n)`, 50 points: x̄ is HeaviSine at t = i/n, i ≤ n."""
    assert len(pywt.data.demo_signal("HeaviSine", 49)) == 50  # the quirk this guards against
    t = np.arange(1, 50) / 49
    heavisine = 4 * np.sin(4 * np.pi * t) - np.sign(t - 0.3) - np.sign(0.72 - t)
    (signal,) = drawn_signals(Config(n=49, seeds=1, signal="heavisine", **SMALL))
    np.testing.assert_allclose(signal, heavisine, atol=1e-12)


def test_piecewise_constant_law():
    """4000 keys, n = 32, 6 pieces, one vmapped draw: every draw has 6 distinct levels and 5 jumps;
    each position 1..31 starts a piece with probability 5/31 (binomial s.e. 0.006: within 0.03);
    the 24000 levels have mean 0 (within 5 s.e. = 0.032) and variance 1 (s.e. 0.009: within 0.05)."""
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    signals = np.asarray(jax.jit(jax.vmap(PiecewiseConstantSignal(pieces=6).draw))(keys, np.zeros((4000, 32))))
    assert all(len(np.unique(signal)) == 6 for signal in signals)
    jumps = signals[:, 1:] != signals[:, :-1]
    np.testing.assert_array_equal(jumps.sum(axis=1), 5)
    np.testing.assert_allclose(jumps.mean(axis=0), 5 / 31, atol=0.03)
    levels = np.concatenate([signals[:, :1], np.where(jumps, signals[:, 1:], np.nan)], axis=1)
    levels = levels[~np.isnan(levels)]
    assert levels.size == 24000
    assert abs(levels.mean()) < 5 / math.sqrt(levels.size)
    assert abs(levels.var() - 1) < 0.05


def test_piecewise_constant_signals_differ_per_seed_and_take_every_sample_at_pieces_n():
    signals = drawn_signals(Config(n=7, seeds=5, signal="piecewise_constant", pieces=7, **SMALL))
    assert all(len(np.unique(signal)) == 7 for signal in signals)
    keys = jax.random.split(jax.random.PRNGKey(3), 5)
    constant = np.asarray(jax.vmap(PiecewiseConstantSignal(pieces=1).draw)(keys, np.zeros((5, 7))))
    assert np.all(constant == constant[:, :1]) and len(np.unique(constant[:, 0])) == 5


def test_image_is_the_centred_crop_resized_by_scikit_image():
    """The same scikit-image call on a centre crop cut here (coins is 303 × 384: the crop is off the
    corners), and, loosely, a block average of camera (512 = 16 × 32, crop 1: a 32-pixel block per
    pixel, which the anti-aliasing Gaussian blurs a little wider): correlation > 0.99, mean gap < 0.03."""
    coins = skimage.util.img_as_float(skimage.data.coins())
    (signal,) = drawn_signals(Config(seeds=1, signal="image", image="coins", side=20, crop=0.8, **SMALL))
    np.testing.assert_allclose(signal, resized_crop(coins, 0.8, 20).ravel(), rtol=1e-12, atol=1e-12)
    (camera,) = drawn_signals(Config(seeds=1, signal="image", image="camera", side=16, **SMALL))
    block = skimage.util.img_as_float(skimage.data.camera()).reshape(16, 32, 16, 32).mean(axis=(1, 3)).ravel()
    assert np.corrcoef(camera, block)[0, 1] > 0.99 and np.abs(camera - block).mean() < 0.03
    (astronaut,) = drawn_signals(Config(seeds=1, signal="image", image="astronaut", side=16, **SMALL))
    grey = skimage.color.rgb2gray(skimage.data.astronaut())
    np.testing.assert_allclose(astronaut, resized_crop(grey, 1.0, 16).ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("signal_range", ["unit", "symmetric"])
def test_image_ranges(signal_range):
    native, again = drawn_signals(Config(seeds=2, signal="image", image="moon", side=16, **SMALL))
    np.testing.assert_array_equal(native, again)  # the same for every seed
    assert 0 <= native.min() and native.max() <= 1
    (ranged,) = drawn_signals(
        Config(seeds=1, signal="image", image="moon", side=16, signal_range=signal_range, **SMALL)
    )
    np.testing.assert_allclose(ranged, rescaled(native, signal_range), atol=1e-12)
    assert (ranged.min(), ranged.max()) == ({"unit": 0.0, "symmetric": -1.0}[signal_range], 1.0)


def test_every_shipped_image_loads_with_no_network(monkeypatch):
    """A socket opened anywhere fails: every image comes from the installed wheels, grey in [0, 1]."""

    def refuse(*args, **kwargs):
        raise AssertionError("a shipped image tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert {"camera", "astronaut", "phantom", "ascent"} <= set(shipped_images())
    for name in shipped_images():
        pixels = load_image(name)
        assert pixels.ndim == 2 and min(pixels.shape) >= 64, name
        assert 0 <= pixels.min() < pixels.max() <= 1, name
    np.testing.assert_allclose(load_image("ascent"), pywt.data.ascent() / 255, rtol=1e-15)
    np.testing.assert_array_equal(load_image("phantom"), skimage.data.shepp_logan_phantom())


def test_a_users_npy_array_round_trips(tmp_path):
    """A 16 × 16 array at side 16 is kept as it is (native: its own values) and raveled row by row."""
    array = np.random.default_rng(0).normal(size=(16, 16)) * 7 + 3
    np.save(tmp_path / "mine.npy", array)
    (signal,) = drawn_signals(Config(seeds=1, signal="image", image=str(tmp_path / "mine.npy"), side=16, **SMALL))
    np.testing.assert_allclose(signal, array.ravel(), rtol=1e-12)
    written = (tmp_path / "mine.npy").stat().st_mtime_ns
    np.save(tmp_path / "mine.npy", array[::-1])  # the file changed (same size): read again, not a stale copy
    os.utime(tmp_path / "mine.npy", ns=(written, written + 10**9))  # whatever the clock's resolution
    (signal,) = drawn_signals(Config(seeds=1, signal="image", image=str(tmp_path / "mine.npy"), side=16, **SMALL))
    np.testing.assert_allclose(signal, array[::-1].ravel(), rtol=1e-12)
    wide = np.random.default_rng(1).integers(0, 256, size=(30, 40)).astype(np.uint8)
    np.save(tmp_path / "wide.npy", wide)
    (signal,) = drawn_signals(Config(seeds=1, signal="image", image=str(tmp_path / "wide.npy"), side=16, **SMALL))
    np.testing.assert_allclose(signal, resized_crop(wide.astype(np.float64), 1.0, 16).ravel(), rtol=1e-12)


def test_bad_user_arrays_are_refused(tmp_path):
    def refused(array_or_bytes, match, name="bad.npy"):
        path = tmp_path / name
        if isinstance(array_or_bytes, bytes):
            path.write_bytes(array_or_bytes)
        else:
            np.save(path, array_or_bytes)
        with pytest.raises(ValueError, match=match):
            Config(signal="image", side=16, image=str(path))

    refused(np.ones(30), r"Config\.image='.*bad\.npy' must hold a non-empty 2-D array \(an image\), got shape \(30,\)")
    refused(np.ones((4, 4, 3)), r"must hold a non-empty 2-D array .* got shape \(4, 4, 3\)")
    refused(np.ones((4, 4)) * 1j, r"Config\.image=.* must hold real numbers, got dtype complex128")
    refused(np.array([[0.0, np.nan], [1.0, 2.0]]), r"Config\.image=.* holds values that are not finite")
    refused(np.full((5, 5), 0.5), r"Config\.image=.* is constant \(0\.5\)")
    good = tmp_path / "good.npy"
    np.save(good, np.eye(20))
    refused(good.read_bytes()[:100], r"Config\.image=.* is not a readable \.npy array \(damaged file")
    refused(b"not an array at all", r"Config\.image=.* is not a readable \.npy array")
    with pytest.raises(ValueError, match=r"Config\.image=.*missing\.npy': no such \.npy file"):
        Config(signal="image", side=16, image=str(tmp_path / "missing.npy"))
    with pytest.raises(
        ValueError,
        match=r"Config\.image must be a shipped image \(camera, .*ascent.*\) or the path .* got 'photo\.png'",
    ):
        Config(signal="image", side=16, image="photo.png")
    np.savez(tmp_path / "archive.npz", a=np.eye(3))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    with pytest.raises(ValueError, match=r"Config\.image=.*archive\.npy' is not a \.npy array but a NpzFile"):
        Config(signal="image", side=16, image=str(tmp_path / "archive.npy"))


def test_signal_fields_are_refused_where_they_do_not_apply(tmp_path):
    with pytest.raises(
        ValueError, match=r"Config\.image must be a shipped image \(camera, astronaut, .*\) or the path .*, got 'lena'"
    ):
        Config(signal="image", side=16, image="lena")
    with pytest.raises(ValueError, match=r"Config\.side must be set for signal='image'"):
        Config(signal="image")
    for name in ("blocks", "piecewise_constant"):
        with pytest.raises(
            ValueError, match=rf"Config\.side applies to 2-D signals .* signal='{name}' is a 1-D signal"
        ):
            Config(signal=name, side=16)
    with pytest.raises(ValueError, match=r"Config\.pieces must be at most n = 5 .*, got 6"):
        Config(signal="piecewise_constant", n=5, pieces=6)
    assert Config(signal="piecewise_constant", n=5, pieces=5).pieces == 5
    with pytest.raises(ValueError, match=r"Config\.pieces applies to signal='piecewise_constant' only"):
        Config(signal="blocks", pieces=3)
    with pytest.raises(ValueError, match=r"Config\.signal_range applies to signal='blocks' or .*signal='image' only"):
        Config(signal="piecewise_constant", signal_range="unit")
    with pytest.raises(ValueError, match=r"Config\.crop applies to signal='image' only"):
        Config(signal="bumps", crop=0.5)
    with pytest.raises(
        ValueError, match=r"Config\.signal_range='unit' rescales .* but signal='blocks' at n=1 is constant"
    ):
        Config(signal="blocks", n=1, signal_range="unit")
    corner = np.zeros((40, 40))
    corner[0, 0] = 1.0  # the centred half is constant
    np.save(tmp_path / "corner.npy", corner)
    with pytest.raises(
        ValueError, match=r"Config\.crop=0\.5 keeps a constant part of image .*corner\.npy' \(20 × 20 pixels\)"
    ):
        Config(signal="image", side=16, image=str(tmp_path / "corner.npy"), crop=0.5)
    assert Config(signal="image", side=16, image=str(tmp_path / "corner.npy")).crop == 1  # the whole is not constant


def test_a_missing_extra_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywt", None)  # `import pywt` now raises ImportError
    with pytest.raises(
        ValueError,
        match=r"^Config\.signal='doppler' needs PyWavelets, which is not installed: pip install 'widedip\[images\]' \(in a clone: pip install -e \".\[images\]\"\)$",
    ):
        Config(signal="doppler", n=64)
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(
        ValueError,
        match=r"^Config\.signal='image' needs scikit-image, which is not installed: pip install 'widedip\[images\]' \(in a clone: pip install -e \".\[images\]\"\)$",
    ):
        Config(signal="image", side=16)
    assert Config(signal="piecewise_constant", n=20).signal == "piecewise_constant"


def test_wideDIP_and_the_random_signals_do_not_import_the_extra():
    script = (
        "import sys, wideDIP\n"
        "from wideDIP._resolve import problem_law\n"
        "config = wideDIP.Config(signal='gaussian', side=16)\n"
        "problem_law(config)\n"
        "print(sorted({'pywt', 'skimage'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_an_inpainted_image_run_records_the_image():
    config = Config(
        signal="image", side=16, operator="inpainting", m=128, k=16, d=4, steps=50, seeds=2, dtype="float64"
    )
    result = wideDIP.simulate(config)
    camera = resized_crop(skimage.util.img_as_float(skimage.data.camera()), 1.0, 16).ravel()
    np.testing.assert_allclose(result.signal, np.stack([camera, camera]), rtol=1e-12)
    # what ran is named: the image, and that A^T y of inpainting is an image (A A^T = I)
    first, psnr = (
        result.summary().splitlines()[0],
        next(line for line in result.summary().splitlines() if "PSNR" in line),
    )
    assert "x̄: image camera" in first and "(16×16)" in first and "not an image" not in psnr
    gaussian = wideDIP.simulate(config.replace(operator="gaussian", m=32, steps=5, seeds=1))
    assert "(not an image: AA^T != I)" in next(line for line in gaussian.summary().splitlines() if "PSNR" in line)
