"""Forward operators (docs/theory.md §8): each one against an independent construction, the
realised ‖A‖, σ_A, κ(A), the custom matrix end to end, invalid inputs, and the default path's
bits pinned to what they were before operators existed."""

import hashlib
import json
import math

import jax
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, compare, draw_problem, matrix_sha256, seed_keys, simulate, sweep, width_bound
from wideDIP._cli import main
from wideDIP._experiments.simulate import precision, prepare

# The shapes of other test files' runs (test_descent, test_cli, test_compare, test_result): in the
# whole suite the descent loop, the flow and the kernels are compiled once for both.
SHAPE = dict(m=4, n=12, d=6, k=40)
DESCENT = Config(**SHAPE, seeds=3, steps=2000, step_size=0.5, operator_scale="sqrt_n", threshold=1e-6)
RANDOM_OPERATORS = ("gaussian", "conditioned", "inpainting", "dct")


def draws(config, operator=None, order=None):
    """Every seed's draws (in the seed order `order`, a permutation, if given)."""
    with precision(config):
        keys = seed_keys(config) if order is None else seed_keys(config)[np.asarray(order)]
        problems = jax.vmap(lambda key: draw_problem(config, key, operator))(keys)
        return jax.tree.map(np.asarray, problems)


def setup_draws(config, matrix=None):
    """The problems `simulate(config)` drew, from its compiled setup (cached when it ran)."""
    with precision(config):
        return jax.tree.map(lambda leaf: np.asarray(leaf)[: config.seeds], prepare(config, matrix=matrix).problems)


def dct_matrix(n):
    """The orthonormal DCT-II, written from its definition."""
    k, j = np.arange(n)[:, None], np.arange(n)[None, :]
    c = np.where(k == 0, 1 / np.sqrt(2), 1.0)
    return np.sqrt(2 / n) * c * np.cos(np.pi * (2 * j + 1) * k / (2 * n))


def test_the_default_path_keeps_its_bits():
    """Values recorded with the code as it was before operators existed (same machine type):
    the Gaussian operator still uses the shared threefry block and nothing else moved."""
    config = Config(
        m=4,
        n=12,
        d=6,
        k=40,
        seeds=3,
        steps=300,
        step_size=2.0,
        operator_scale="sqrt_n",
        threshold=1e-5,
        dtype="float64",
    )
    result = simulate(config, progress=False)
    assert [v.hex() for v in result.final_loss.tolist()] == [
        "0x1.4c9220b55580ap-17",
        "0x1.12f1b17879493p-9",
        "0x1.438000bf942e0p-17",
    ]
    assert result.stop_step.tolist() == [243, 300, 225]
    assert [v.hex() for v in result.stability.tolist()] == [
        "0x1.809991783ef67p-3",
        "0x1.512d5a5041169p-4",
        "0x1.6c3acb75e812ap-3",
    ]
    problems = setup_draws(config)  # the same bits as draw_problem's (test_problem.py draws those)
    for name, digest in (
        ("operator", "ce04ee45aef8a2c59ac9ce9b915e5a7c65888867cc76b2ffef3e0e089c904e1c"),
        ("layer", "4eb564a0c619e0a8bca03467d7322b48d001df992eb2dd1e8aa5a2030ad4e259"),
        ("observation", "4b53b31ecce600ae1e32489d7fac6bc32e4dbc6e8ee130753da59a7cbf693810"),
    ):
        assert hashlib.sha256(np.ascontiguousarray(getattr(problems, name)).tobytes()).hexdigest() == digest, name
    single = setup_draws(config.replace(dtype="float32"))
    assert hashlib.sha256(single.operator.tobytes()).hexdigest() == (
        "e2b0ba04abbaeca6f7889dd73c194f9dd318a29951ec68dc864b04321d1d23ed"
    )


@pytest.mark.parametrize("m, n", [(3, 8), (8, 3), (6, 6)])
def test_conditioned_has_the_geometric_spectrum_and_the_prescribed_condition_number(m, n):
    rank = min(m, n)
    for kappa in (1.0, 7.5, 1000.0):
        config = Config(
            m=m,
            n=n,
            d=2,
            k=3,
            seeds=3,
            operator="conditioned",
            condition_number=kappa,
            operator_scale="sqrt_m",
            dtype="float64",
        )
        for a in draws(config).operator:
            singular = np.linalg.svd(a, compute_uv=False)
            np.testing.assert_allclose(singular[0], (math.sqrt(n) + math.sqrt(m)) / math.sqrt(m), rtol=1e-12)
            np.testing.assert_allclose(singular / singular[0], kappa ** -(np.arange(rank) / (rank - 1)), rtol=1e-10)
            assert singular[0] / singular[-1] == pytest.approx(kappa, rel=1e-8)


def test_realised_spectrum_is_in_every_result():
    config = DESCENT.replace(steps=3, operator="conditioned", condition_number=37.0, dtype="float64")
    result = simulate(config, progress=False)
    np.testing.assert_allclose(result.kappa_A, 37.0, rtol=1e-8)
    singular = np.linalg.svd(setup_draws(config).operator, compute_uv=False)  # NumPy on the same draws
    np.testing.assert_allclose(result.norm_A, singular[:, 0], rtol=1e-12)
    np.testing.assert_allclose(result.sigma_A, singular[:, -1], rtol=1e-10)
    assert result.theory is None  # the spectrum does not need track_ntk
    assert "A: conditioned, κ(A) = 37, ‖A‖ = 1 + √(m/n)" in result.summary() and "kappa(A) 37" in result.summary()
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["operator"] == "conditioned, κ(A) = 37, ‖A‖ = 1 + √(m/n)"
    assert payload["kappa_A"] == pytest.approx([37.0] * 3, rel=1e-8)


def test_the_theorem_uses_the_realised_spectrum():
    config = Config(
        m=3, n=5, d=4, k=20, seeds=3, steps=50, track_ntk=True, operator="conditioned", condition_number=37.0
    )  # test_result's tracked shape
    result = simulate(config, progress=False)
    theory = result.theory
    np.testing.assert_array_equal(theory.norm_A, result.norm_A)
    np.testing.assert_array_equal(theory.sigma_A, result.sigma_A)
    singular = np.linalg.svd(setup_draws(config).operator.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(theory.rate_bound, singular[:, -1] ** 2 * theory.min_lambda_K / 4, rtol=1e-4)
    np.testing.assert_allclose(theory.condition_number, 37.0, rtol=1e-4)  # float32


@pytest.mark.parametrize("name", ["inpainting", "dct"])
def test_inpainting_and_dct_are_distinct_rows_of_an_orthonormal_matrix(name):
    config = Config(m=3, n=8, d=2, k=3, seeds=3, operator=name, dtype="float64")
    reference = np.eye(8) if name == "inpainting" else dct_matrix(8)
    np.testing.assert_allclose(reference @ reference.T, np.eye(8), atol=1e-13)  # the reference is orthonormal
    chosen = []
    for a in draws(config).operator:
        np.testing.assert_allclose(a @ a.T, np.eye(3), atol=1e-13)
        selection = a @ reference.T  # a 0/1 selection matrix when the rows of A are rows of the reference
        np.testing.assert_allclose(selection, np.round(selection), atol=1e-12)
        rows = np.argmax(selection, axis=1)
        assert len(set(rows)) == 3 and np.all(np.abs(selection).sum(axis=1) == pytest.approx(1.0))
        chosen.append(tuple(rows))
    assert len(set(chosen)) > 1  # drawn per seed


def test_dct_entries_are_accurate_in_float32_at_large_n():
    """The angle is reduced exactly in integers: float32 entries are within rounding of the
    float64 definition (a float32 angle π(2j+1)k/(2n) up to ~1900 would be off by ~5e-6)."""
    config = Config(m=600, n=600, d=1, k=1, seeds=1, operator="dct")
    a = draws(config).operator[0]
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, dct_matrix(600), rtol=0, atol=2e-8)  # the whole matrix (m = n)


@pytest.mark.parametrize("m, n, width", [(8, 8, 0.6), (3, 8, 2.5), (7, 30, 4.0)])
def test_blur_is_an_fft_convolution_then_even_sampling(m, n, width):
    config = Config(m=m, n=n, d=2, k=3, seeds=3, operator="blur", blur_width=width, dtype="float64")
    a = draws(config).operator
    np.testing.assert_array_equal(a[0], a[1])  # the same for every seed
    offsets = np.arange(n)
    kernel = np.exp(-(np.minimum(offsets, n - offsets) ** 2) / (2 * width**2))
    kernel /= kernel.sum()
    samples = np.floor(np.arange(m) * n / m).astype(int)
    x = np.random.default_rng(1).standard_normal((n, 4))
    blurred = np.real(np.fft.ifft(np.fft.fft(kernel)[:, None] * np.fft.fft(x, axis=0), axis=0))
    np.testing.assert_allclose(a[0] @ x, blurred[samples], atol=1e-13)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_custom_with_the_gaussian_draw_reproduces_the_gaussian_run_bit_for_bit(dtype):
    """Seed 0's matrix passed as "custom" (to every seed): seed 0 is the same run, bit for bit
    (and seed 0 of a run is the one-seed run, test_descent.py)."""
    config = DESCENT.replace(dtype=dtype)
    gaussian = simulate(config, progress=False)
    matrix = setup_draws(config).operator[0]
    custom = simulate(config.replace(operator="custom", operator_scale="none"), operator=matrix, progress=False)
    for name in (
        "loss",
        "final_loss",
        "stop_step",
        "stability",
        "signal_error",
        "weight_distance",
        "norm_A",
        "sigma_A",
        "status",
    ):
        np.testing.assert_array_equal(getattr(custom, name)[0], getattr(gaussian, name)[0], err_msg=name)
    np.testing.assert_array_equal(custom.norm_A, custom.norm_A[0])  # the same matrix for every seed
    assert custom.operator_sha256 == hashlib.sha256(matrix.astype(np.float64).tobytes()).hexdigest()
    assert gaussian.operator_sha256 is None


def test_custom_matrix_is_recorded_and_survives_save_and_load(tmp_path):
    matrix = np.random.default_rng(2).standard_normal((4, 12)).astype(np.float32)
    config = DESCENT.replace(steps=5, operator="custom", operator_scale="none")
    result = simulate(config, operator=matrix, progress=False)
    assert result.operator_sha256 == matrix_sha256(matrix.astype(np.float64))  # dtype-normalised
    np.testing.assert_allclose(result.norm_A, np.linalg.norm(matrix, 2), rtol=1e-5)
    loaded = wideDIP.load(result.save(tmp_path / "custom.npz"))
    assert loaded.operator_sha256 == result.operator_sha256
    np.testing.assert_array_equal(loaded.kappa_A, result.kappa_A)
    assert f"sha256:{result.operator_sha256[:8]}" in loaded.summary()
    assert result.to_json()["operator_sha256"] == result.operator_sha256
    smooth = Config(
        m=3,
        n=8,
        d=4,
        k=30,
        seeds=3,
        steps=40,
        step_size=0.1,
        threshold=1e-30,
        method="flow",
        rtol=1e-10,
        atol=1e-12,
        dtype="float64",
        operator="custom",
    )  # test_compare's shape
    comparison = compare(smooth, step_sizes=(0.3,), operator=matrix[:3, :8], progress=False)
    assert "A: custom" in comparison.summary()
    assert comparison.operator_sha256 == matrix_sha256(matrix[:3, :8].astype(np.float64))


def test_each_operator_is_deterministic_per_key_and_seed_prefix_stable():
    """Same key, same bits; a seed's draw depends on its key only (not on its place in the
    batch, hence not on the number of seeds: seed_keys are prefix-stable, test_problem.py)."""
    gaussian = draws(Config(m=3, n=8, d=2, k=3, seeds=3, dtype="float64"))
    for name in ("gaussian", "conditioned", "inpainting", "blur", "dct"):
        config = Config(m=3, n=8, d=2, k=3, seeds=3, operator=name, dtype="float64")
        first, again, permuted = draws(config), draws(config), draws(config, order=[2, 0, 1])
        np.testing.assert_array_equal(first.operator, again.operator)
        np.testing.assert_array_equal(first.operator[[2, 0, 1]], permuted.operator)
        other = draws(config.replace(seed=1)).operator
        assert np.array_equal(other, first.operator) == (name == "blur"), name  # only the blur is not random
        for field in ("signal", "layer", "features", "input"):  # nothing else depends on the operator
            np.testing.assert_array_equal(getattr(first, field), getattr(gaussian, field))


def test_operator_numbers_and_matrices_do_not_recompile(setup_traces):
    """κ, the blur width and the custom matrix are arrays in the compiled setup: one trace per shape."""
    traces = setup_traces
    base = Config(m=2, n=9, d=1, k=5, seeds=2)  # a shape no other test uses
    realised = []
    for kappa in (2.0, 50.0):
        with precision(base):
            prepared = prepare(base.replace(operator="conditioned", condition_number=kappa))
            realised.append(np.asarray(prepared.norm_A) / np.asarray(prepared.sigma_A))
    assert len(traces) == 1
    np.testing.assert_allclose(realised, [[2.0, 2.0], [50.0, 50.0]], rtol=1e-4)
    traces.clear()
    rng = np.random.default_rng(3)
    for _ in range(2):
        with precision(base):
            prepare(base.replace(operator="custom"), matrix=rng.standard_normal((2, 9)))
    assert len(traces) == 1


@pytest.mark.parametrize(
    "changes, field, allowed",
    [
        (dict(operator="inpainting", m=9, n=8), "m", "<= Config.n"),
        (dict(operator="blur", m=9, n=8), "m", "<= Config.n"),
        (dict(operator="dct", m=9, n=8), "m", "<= Config.n"),
        (dict(operator="conditioned", condition_number=0.5), "condition_number", ">= 1"),
        (dict(operator="conditioned", condition_number=math.inf), "condition_number", "finite"),
        (dict(operator="conditioned", m=1, condition_number=3.0), "condition_number", "must be 1 when min(m, n) = 1"),
        (dict(operator="blur", blur_width=0.0), "blur_width", "> 0"),
        (dict(operator="blur", blur_width=-2.0), "blur_width", "> 0"),
        (dict(operator="fourier"), "operator", "inpainting"),
        (dict(operator="dct", operator_scale="sqrt_n"), "operator_scale", "'none'"),
    ],
)
def test_invalid_configurations_name_the_field(changes, field, allowed):
    with pytest.raises(ValueError, match=rf"Config\.{field} must") as info:
        Config(**changes)
    assert allowed in str(info.value)


@pytest.mark.parametrize(
    "operator, matrix, message",
    [
        ("custom", None, "needs its matrix"),
        ("gaussian", np.ones((3, 8)), "set Config.operator='custom'"),
        ("custom", np.ones((3, 7)), r"shape \(Config.m, Config.n\) = \(3, 8\), got \(3, 7\)"),
        ("custom", np.ones(24), r"got \(24,\)"),
        ("custom", np.full((3, 8), np.nan), "finite"),
        ("custom", np.where(np.eye(3, 8) > 0, np.inf, 1.0), "finite"),
        ("custom", np.zeros((3, 8)), "all zeros"),
        ("custom", np.full((3, 8), "a"), "real numbers"),
    ],
)
def test_invalid_custom_matrices_raise_everywhere(tmp_path, operator, matrix, message):
    config = Config(m=3, n=8, d=2, k=16, seeds=1, steps=1, operator=operator)
    for call in (
        lambda: simulate(config, operator=matrix, progress=False),
        lambda: compare(config, step_sizes=(1.0,), operator=matrix, progress=False),
        lambda: sweep(config, {"k": [4]}, tmp_path / "s", operator=matrix, progress=False),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_width_bound_with_realised_values_has_its_closed_form():
    """Rademacher V (D = 1): k = 64 B² n (‖A‖ C_φ √n + ‖A‖ √n)² / (σ_A² C_φ'⁴), no fixed point."""
    c_phi, c_derivative = wideDIP.activation_constants("tanh")
    expected = 64 * 1.0 * 50 * (2.0 * c_phi * math.sqrt(50) + 2.0 * math.sqrt(50)) ** 2 / (0.1**2 * c_derivative**4)
    assert width_bound(50, 5, "tanh", v_law="rademacher", norm_A=2.0, sigma_A=0.1) == pytest.approx(expected, rel=1e-12)
    # the κ² of Theorem 2.1(ii): σ_A ten times smaller at the same ‖A‖ asks for a hundred times the width
    ratio = width_bound(100, 10, norm_A=1.3, sigma_A=0.013) / width_bound(100, 10, norm_A=1.3, sigma_A=0.13)
    assert 100 <= ratio < 125  # Gaussian V: D² = 2 ln(2 n k) grows (slowly) with k
    assert width_bound(100, 10) == width_bound(100, 10, "sigmoid", "none", "gaussian")  # the default is kept


@pytest.mark.parametrize(
    "arguments, keywords, message",
    [
        ((-1, 10), {}, "n must be an integer >= 1, got -1"),
        ((2.5, 10), {}, "n must be an integer >= 1"),
        ((10, 0), {}, "m must be an integer >= 1"),
        ((10, 3, "swish"), {}, "activation_name must be one of"),
        ((10, 3, "sigmoid", "x"), {}, "operator_scale must be one of"),
        ((10, 3, "sigmoid", "none", "cauchy"), {}, "v_law must be one of"),
        ((10, 3), {"norm_A": 1.0}, "give both norm_A and sigma_A"),
        ((10, 3), {"norm_A": 1.0, "sigma_A": -0.5}, "sigma_A must be a finite real number > 0"),
        ((10, 3), {"norm_A": math.nan, "sigma_A": 0.5}, "norm_A must be a finite real number > 0"),
        ((10, 3), {"norm_A": 1.0, "sigma_A": 2.0}, "sigma_A must be <= norm_A"),
    ],
)
def test_width_bound_rejects_invalid_arguments_by_name(arguments, keywords, message):
    with pytest.raises(ValueError, match="width_bound: " + message):
        width_bound(*arguments, **keywords)


def test_a_sweep_records_the_custom_matrix_and_refuses_another(tmp_path):
    base = DESCENT.replace(steps=20, operator="custom", operator_scale="none")
    rng = np.random.default_rng(4)
    first, second = rng.standard_normal((4, 12)), rng.standard_normal((4, 12))
    result = sweep(base, {"k": [40]}, tmp_path, operator=first, progress=False)
    header = json.loads((tmp_path / "sweep.json").read_text())
    assert header["operator_sha256"] == result.operator_sha256 == hashlib.sha256(first.tobytes()).hexdigest()
    with pytest.raises(ValueError, match="custom matrix sha256"):
        sweep(base, {"k": [40]}, tmp_path, operator=second, progress=False)
    again = sweep(base, {"k": [40]}, tmp_path, operator=first, progress=False)  # the same one resumes
    np.testing.assert_array_equal(again.frequency, result.frequency)
    assert wideDIP.load_sweep(tmp_path).operator_sha256 == result.operator_sha256


def test_kappa_sweep_from_the_command_line_with_its_figure(tmp_path, capsys):
    out = tmp_path / "kappa"
    assert (
        main(
            [
                "sweep",
                "kappa-quick",
                "--k",
                "40",
                "--condition-number",
                "1",
                "30",
                "--n",
                "12",
                "--m",
                "4",
                "--d",
                "6",
                "--seeds",
                "3",
                "--steps",
                "50",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert "k / condition_number" in capsys.readouterr().out and (out / "figure.png").stat().st_size > 10_000
    result = wideDIP.load_sweep(out)
    assert result.base.operator == "conditioned" and result.axes["condition_number"] == [1.0, 30.0]
    np.testing.assert_allclose(result.statistic("median_kappa_A"), [[1, 30]], rtol=1e-4)  # float32 SVD
    figure = result.plot()
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and "κ" in axes.get_xlabel()
    assert "A: conditioned, ‖A‖ = 1 + √(m/n)" in figure.get_suptitle()
    np.testing.assert_array_equal(np.asarray(axes.collections[0].get_array()).reshape(1, 2), result.frequency)


def test_operator_file_on_the_command_line(tmp_path, capsys):
    matrix = np.random.default_rng(5).standard_normal((4, 12))
    np.save(tmp_path / "A.npy", matrix)
    arguments = [
        *"simulate --m 4 --n 12 --d 6 --k 40 --seeds 3 --steps 20 --quiet --json --operator-file".split(),
        str(tmp_path / "A.npy"),
    ]
    assert main(arguments) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["operator"] == "custom"
    assert payload["operator_sha256"] == hashlib.sha256(matrix.tobytes()).hexdigest()
    assert payload["norm_A"] == pytest.approx([np.linalg.norm(matrix, 2)] * 3, rel=1e-5)
    np.save(tmp_path / "B.npy", matrix[:, :7])
    for bad, message in (
        (["--operator-file", str(tmp_path / "B.npy")], "got (4, 7)"),
        (["--operator-file", str(tmp_path / "missing.npy")], "cannot read"),
        (["--operator", "inpainting", "--m", "9", "--n", "8"], "--m must be <= --n"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["simulate", "--quiet", *bad])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
