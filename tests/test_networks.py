"""Networks beyond the paper's (docs/theory.md §9): built-ins, a user's own, one engine for all,
and the NTK tracked through the Jacobian."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import wideDIP
from wideDIP import (
    MLP,
    Config,
    FunctionNetwork,
    draw_problem,
    jacobian_ntk,
    network_jacobian,
    seed_keys,
    simulate,
)
from wideDIP._cli import main, sweep_summary
from wideDIP._networks.kernels import BothKernelProbe, jacobian_extremes
from wideDIP._resolve import builtin_network

# The paper's setting (sigmoid, A and V ~ N(0,1), η = 1, float32) at a small shape. These bits
# were recorded with the code as it was before any network but the paper's existed, when "full"
# was a dynamics of its own: today "full" is the generic path (jax.grad on a network's literal
# parameters), so the second row is the generic path reproducing it bit for bit. (The flow's
# bits were checked to be unchanged as well, once.)
PINNED_BASE = Config(m=10, n=20, d=50, k=100, seeds=4, steps=300)
PINNED = {
    "descent": (
        PINNED_BASE,
        [235, 170, 300, 110],
        ["0x1.98ab9cp-24", "0x1.a2846ep-24", "0x1.3ebcacp-8", "0x1.8fb0e0p-24"],
        ["0x1.888f2cp-1", "0x1.99cefep-1", "0x1.7008e4p-1", "0x1.dfb516p-1"],
    ),
    "full": (
        PINNED_BASE.replace(parametrization="full", steps=60),
        [60, 60, 60, 60],
        ["0x1.42e798p-7", "0x1.7cd528p-9", "0x1.578996p-3", "0x1.eec76ap-15"],
        ["0x1.8874b0p-1", "0x1.9996fap-1", "0x1.6d240ap-1", "0x1.dfb692p-1"],
    ),
}
PINNED_STABILITY = ["0x1.1e0e24p+1", "0x1.38fedap+1", "0x1.11e488p+1", "0x1.5f25e0p+1"]


def _floats(hexes):
    return np.array([float.fromhex(h) for h in hexes], np.float32)


@pytest.mark.parametrize("name", list(PINNED))
def test_the_papers_setting_keeps_its_bits(name):
    config, stop_step, final_loss, signal_error = PINNED[name]
    result = simulate(config, progress=False)
    assert result.parametrization == name.replace("descent", "reduced")
    assert result.stop_step.tolist() == stop_step
    np.testing.assert_array_equal(result.final_loss, _floats(final_loss))
    np.testing.assert_array_equal(result.final_signal_error, _floats(signal_error))
    # The stability number η λ_max(H(W(0))) is not the dynamics: its last bits are those of a
    # float32 eigensolver, which differ between CPUs (LAPACK kernels chosen at run time; on the
    # AMD EPYC of 2026-12 three of the four pinned values moved by 1-2 ulps, the dynamics' bits
    # above did not). It is checked against its pinned values to a few ulps, and against an
    # independent float64 computation from the same draws.
    np.testing.assert_allclose(result.stability, _floats(PINNED_STABILITY), rtol=1e-6)
    np.testing.assert_allclose(result.stability, _stability_in_float64(config), rtol=2e-6)


def _stability_in_float64(config):
    """`η λ_max(B diag(σ'(z)²) Bᵀ)`, `B = A V/√k`, `z = W(0) u`, in NumPy float64 from the
    seeds' float32 draws (sigmoid: σ' = σ(1 − σ))."""
    values = []
    for key in seed_keys(config):
        problem = draw_problem(config, key)
        operator, layer = (np.asarray(a, np.float64) for a in (problem.operator, problem.layer))
        sigmoid = 1 / (1 + np.exp(-np.asarray(problem.features, np.float64)))
        scaled = operator @ layer / np.sqrt(config.k) * (sigmoid * (1 - sigmoid))
        values.append(config.step_size * np.linalg.eigvalsh(scaled @ scaled.T)[-1])
    return np.array(values)


# ---------------------------------------------------------------------------------------------
# One small float64 shape for everything below, so that compiled code is shared between tests.
# k = 5 < n = 6: K of the paper's network is singular, that of the both-layers network is not.

SMALL = Config(
    m=3, n=6, d=4, k=5, seeds=3, steps=150, step_size=0.5, operator_scale="sqrt_n", threshold=1e-9, dtype="float64"
)
TRACKED = SMALL.replace(track_ntk=True)
KERNELS = ("min_lambda_K", "min_lambda_H", "max_lambda_H", "jacobian_lipschitz_ratio")


def _mlp_init(key):
    """The built-in MLP's draw, written out: one normal call, layers in row-major order."""
    shapes = [(4, 4), (5, 4), (6, 5)]  # d = 4 -> hidden 4 -> k = 5 -> n = 6
    flat = jax.random.normal(key, (sum(r * c for r, c in shapes),))
    out, start = [], 0
    for rows, columns in shapes:
        out.append(flat[start : start + rows * columns].reshape(rows, columns))
        start += rows * columns
    return tuple(out)


def _mlp_apply(parameters, u):
    first, second, third = parameters
    hidden = jax.nn.sigmoid(first @ u)
    hidden = jax.nn.sigmoid(second @ hidden / jnp.sqrt(4.0))
    return third @ hidden / jnp.sqrt(5.0)


USER_MLP = FunctionNetwork(_mlp_init, _mlp_apply, name="my_mlp")
MLP_CONFIG = TRACKED.replace(network="mlp", hidden=(4,), ntk_checkpoints=6)


@pytest.fixture(scope="module")
def two_layer_closed_form():
    return simulate(TRACKED, progress=False)  # the closed form: every checkpoint


@pytest.fixture(scope="module")
def mlp_tracked():
    return simulate(MLP_CONFIG, progress=False)


def _same_runs(a, b, rtol):
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.stop_step, b.stop_step)
    np.testing.assert_array_equal(np.isnan(a.loss), np.isnan(b.loss))
    np.testing.assert_allclose(a.loss, b.loss, rtol=rtol)
    np.testing.assert_allclose(a.weight_distance, b.weight_distance, rtol=rtol, atol=1e-14)
    np.testing.assert_allclose(a.final_loss, b.final_loss, rtol=rtol)


def test_two_layer_jacobian_route_equals_the_closed_form_at_every_checkpoint(two_layer_closed_form):
    closed = two_layer_closed_form
    jacobian = simulate(TRACKED.replace(ntk_checkpoints=1000, ntk_implementation="jacobian"), progress=False)
    assert (
        closed.network["ntk_implementation"] == "closed_form" and jacobian.network["ntk_implementation"] == "jacobian"
    )
    recorded = ~np.isnan(closed.loss)
    assert recorded.sum() > 3 * 50
    for name in KERNELS:
        np.testing.assert_array_equal(np.isnan(jacobian.ntk[name]), np.isnan(closed.ntk[name]), err_msg=name)
        np.testing.assert_allclose(jacobian.ntk[name], closed.ntk[name], rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.all(closed.ntk["min_lambda_K"][recorded] == 0)  # k < n
    assert np.nanmin(closed.ntk["min_lambda_H"]) > 0 and np.nanmax(closed.ntk["jacobian_lipschitz_ratio"]) > 0


@eqx.filter_jit
def _both_kernels(network, parameters, moved, u, operator):
    """The closed-form statistics of the engine (`BothKernelProbe`, from `(z, V)`) and the same
    through the Jacobian of g in (W, V), at `moved` against `parameters`; and K via the Jacobian."""
    features = network.features(moved, u), network.features(parameters, u)
    closed = BothKernelProbe(operator, network.k, network.activation).extremes(*features)
    j, j0 = (network_jacobian(network, p, u) for p in (moved, parameters))
    return closed, jacobian_extremes(j, j0, operator, jnp.linalg.norm(features[0] - features[1])), j @ j.T


def test_two_layer_both_kernel_is_its_closed_form():
    """§9: K = V diag(φ'(z)²) Vᵀ/k + (‖φ(z)‖²/k) I_n through the Jacobian of g in (W, V); the
    engine's closed-form statistics (H, the Lipschitz ratio) equal the Jacobian route's."""
    with jax.enable_x64(True):
        network = builtin_network(SMALL.replace(network="two_layer_both"))
        weights, layer = network.init(jax.random.PRNGKey(1))
        u = jax.random.normal(jax.random.PRNGKey(2), (SMALL.d,))
        u = u / jnp.linalg.norm(u)
        operator = jax.random.normal(jax.random.PRNGKey(3), (SMALL.m, SMALL.n))
        step = jnp.outer(jax.random.normal(jax.random.PRNGKey(4), (SMALL.k,)), u)  # W moves along R^k uᵀ (§4)
        moved = (weights + 0.3 * step, layer + 0.3 * jax.random.normal(jax.random.PRNGKey(5), layer.shape))
        closed, through_jacobian, kernel = _both_kernels(network, (weights, layer), moved, u, operator)
        z = np.asarray(moved[0] @ u)
        s = 1 / (1 + np.exp(-z))
        v = np.asarray(moved[1])
        expected = v @ np.diag((s * (1 - s)) ** 2) @ v.T / SMALL.k + (s @ s / SMALL.k) * np.eye(SMALL.n)
        np.testing.assert_allclose(kernel, expected, rtol=1e-10, atol=1e-13)
        assert np.linalg.eigvalsh(np.asarray(kernel))[0] >= s @ s / SMALL.k * (1 - 1e-10) > 0  # k < n, yet K ≻ 0
        for name in KERNELS:
            np.testing.assert_allclose(closed[name], through_jacobian[name], rtol=1e-10, err_msg=name)
        assert float(through_jacobian["jacobian_lipschitz_ratio"]) > 0


def test_two_layer_both_reduced_path_reproduces_the_literal_one():
    config = TRACKED.replace(network="two_layer_both", ntk_checkpoints=8)
    reduced = simulate(config, progress=False)  # auto: (z, V) and the closed-form kernels
    literal = simulate(SMALL.replace(network="two_layer_both", parametrization="full"), progress=False)
    assert (reduced.parametrization, reduced.network["ntk_implementation"]) == ("reduced", "closed_form")
    assert literal.parametrization == "full" and literal.network["parameters"] == 5 * 4 + 6 * 5
    _same_runs(reduced, literal, rtol=1e-10)
    assert np.nanmax(reduced.weight_distance) > 0.01
    tracked = np.isfinite(reduced.ntk["max_lambda_H"])
    assert 3 * 2 <= tracked.sum() <= 3 * 8
    assert np.all(reduced.ntk["min_lambda_K"][tracked] > 0)  # k < n
    assert reduced.certified is None and reduced.theory.lipschitz_bound_known is False


@eqx.filter_jit
def _finite_difference_jacobian(network, parameters, u, step=1e-6):
    """Central differences, one column per parameter (no automatic differentiation)."""
    flat, unflatten = jax.flatten_util.ravel_pytree(parameters)

    def column(e):
        return (network.apply(unflatten(flat + step * e), u) - network.apply(unflatten(flat - step * e), u)) / (
            2 * step
        )

    return jax.vmap(column, out_axes=1)(jnp.eye(flat.size))


def test_mlp_kernel_at_initialisation_matches_finite_differences(mlp_tracked):
    result = mlp_tracked
    assert result.parametrization == "full" and result.network["ntk_implementation"] == "jacobian"
    network = builtin_network(MLP_CONFIG)
    assert isinstance(network, MLP) and network.widths == (4, 5)  # hidden + (k,)
    with jax.enable_x64(True):
        for s, key in enumerate(seed_keys(MLP_CONFIG)):
            problem = draw_problem(MLP_CONFIG, key)
            seed_network, parameters = network.for_seed(problem, key)
            j = np.asarray(_finite_difference_jacobian(seed_network, parameters, problem.input))
            kernel = j @ j.T
            assert j.shape == (6, 4 * 4 + 5 * 4 + 6 * 5)
            np.testing.assert_allclose(
                eqx.filter_jit(jacobian_ntk)(seed_network, parameters, problem.input),
                kernel,
                rtol=1e-6,
                atol=1e-6 * np.abs(kernel).max(),
            )
            a = np.asarray(problem.operator)
            h = np.linalg.eigvalsh(a @ kernel @ a.T)
            measured = [result.ntk[name][s, 0] for name in ("min_lambda_K", "min_lambda_H", "max_lambda_H")]
            np.testing.assert_allclose(measured, [np.linalg.eigvalsh(kernel)[0], h[0], h[-1]], rtol=1e-6)


COMPARED = SMALL.replace(method="flow", t_max=2.0, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def user_comparison():
    return wideDIP.compare(COMPARED, step_sizes=(0.2, 0.1), network=USER_MLP, progress=False)


def test_user_network_as_plain_functions_is_the_builtin_mlp_under_descent_and_flow(user_comparison):
    """`compare` runs the flow and descent (η = 0.2, 0.1) for both, from the same draws: the
    user's two functions give the built-in MLP's runs; and explicit Euler's global error is O(η)
    for this network too (‖θ_GD − θ_GF‖ halves with η)."""
    builtin = wideDIP.compare(COMPARED.replace(network="mlp", hidden=(4,)), step_sizes=(0.2, 0.1), progress=False)
    user = user_comparison
    for name in ("flow_loss", "descent_loss", "max_loss_gap", "max_state_gap"):
        np.testing.assert_allclose(getattr(user, name), getattr(builtin, name), rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(user.status, builtin.status)
    np.testing.assert_array_equal(user.flow_status, builtin.flow_status)
    assert user.network["name"] == USER_MLP.name and builtin.network["name"] == "mlp"
    assert np.all(builtin.flow_status == "stalled")  # the whole horizon t = 2, three seeds
    assert np.nanmin(builtin.flow_loss[:, :, -1] / builtin.flow_loss[:, :, 0]) < 0.9  # they moved
    orders = np.log2(builtin.max_state_gap[0] / builtin.max_state_gap[1])
    assert np.all((orders > 0.7) & (orders < 1.3)), orders


def test_networks_without_a_lipschitz_bound_report_no_certificate(mlp_tracked, two_layer_closed_form, tmp_path):
    result = mlp_tracked
    theory = result.theory
    assert result.certified is None and result.certified_observation is None
    assert np.all(np.isnan(theory.lipschitz_bound)) and np.all(np.isnan(theory.required_width))
    np.testing.assert_array_equal(theory.min_lambda_K, result.ntk["min_lambda_K"][:, 0])
    np.testing.assert_allclose(theory.initial_error, np.sqrt(2 * result.initial_loss), rtol=1e-10)
    np.testing.assert_allclose(theory.rate_bound, theory.sigma_A**2 * theory.min_lambda_K / 4)
    assert np.all(theory.min_lambda_K > 0) and np.all(theory.measured_lipschitz_ratio > 0)
    np.testing.assert_array_equal(
        theory.measured_lipschitz_ratio, np.nanmax(result.ntk["jacobian_lipschitz_ratio"], axis=1)
    )
    assert "no certificate" in result.summary() and "network mlp 4 x 4 x 5 x 6" in result.summary()
    paper = two_layer_closed_form
    assert paper.certified is not None and paper.theory.lipschitz_bound_known
    assert np.all(paper.theory.measured_lipschitz_ratio <= paper.theory.lipschitz_bound)  # Lemma 3
    # the Jacobian route ran at ntk_checkpoints = 6 checkpoints, NaN at the others
    tracked = np.isfinite(result.ntk["max_lambda_H"]).any(axis=0)
    assert tracked[0] and 2 <= tracked.sum() <= 6
    loaded = wideDIP.load(result.save(tmp_path / "mlp.npz"))
    assert loaded.network == result.network and loaded.certified is None and loaded.summary() == result.summary()
    for name in KERNELS:
        np.testing.assert_array_equal(loaded.ntk[name], result.ntk[name])
    assert json.loads(json.dumps(result.to_json()))["network"]["name"] == "mlp"
    result.plot_ntk(tmp_path / "ntk.png")
    assert (tmp_path / "ntk.png").stat().st_size > 10_000


def _says_what_ran(text: str, network: dict) -> None:
    """`text` names the user's network and its parameter count, and none of the settings it does
    not read (COMPARED: k = 5, sigmoid, the paper's two-layer network)."""
    text = text.replace("\n", " ")
    assert f"my_mlp ({network['parameters']} parameters)" in text
    for unread in ("two-layer", "k=5", "k = 5", "sigmoid", "φ = "):
        assert unread not in text, unread


def test_labels_come_from_the_users_network_not_from_the_config(user_comparison, tmp_path):
    """The comparison's summary and figure, and a simulation's summary and figure, name the network
    that ran; the `Config` fields it does not read (k, activation, v_law) are named once, as unused;
    the state-gap column is the parameter distance `‖θ_GD − θ_GF‖` (the paper's network: `‖z_GD − z_GF‖`)."""
    summary = user_comparison.summary()
    _says_what_ran(summary.split("unused by this network")[0], user_comparison.network)
    assert "unused by this network: k, activation, v_law" in summary and "median max ||theta_GD - theta_GF||" in summary
    _says_what_ran(user_comparison.plot().axes[0].get_title(), user_comparison.network)
    simulated = simulate(SMALL.replace(steps=10, step_size=0.2), network=USER_MLP, progress=False)  # the sweep's below
    summary = simulated.summary()
    _says_what_ran(summary.split("unused by this network")[0], simulated.network)
    assert summary.count("unused by this network: k, activation, v_law") == 1
    _says_what_ran(simulated.plot().get_suptitle(), simulated.network)
    paper = dataclasses.replace(user_comparison, network=None).summary()  # as a file saved without the record reads
    assert "k=5  sigmoid" in paper and "||z_GD - z_GF||" in paper and "unused" not in paper


def test_a_comparison_figure_path_is_checked_before_drawing(user_comparison, tmp_path):
    with pytest.raises(
        ValueError, match=r"ComparisonResult\.plot: path: the folder '/nonexistent/dir' .* does not exist"
    ):
        user_comparison.plot("/nonexistent/dir/out.png")
    with pytest.raises(ValueError, match=r"ComparisonResult\.plot: path: '.*out\.xyz' must end in one of .*\.png"):
        user_comparison.plot(tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []


def test_the_builtin_mlp_names_what_it_reads_and_the_v_law_it_does_not(mlp_tracked):
    summary = mlp_tracked.summary()
    assert "k=5  sigmoid" in summary and "unused by this network: v_law" in summary
    title = mlp_tracked.plot().get_suptitle()
    assert "network mlp 4 x 4 x 5 x 6 sigmoid" in title and "k=5 sigmoid" in title


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            dict(network="resnet"),
            r"Config\.network must be one of \('two_layer', 'two_layer_both', 'mlp', 'conv_decoder', 'conv_decoder_1d'\)",
        ),
        (dict(hidden=(4,)), r"Config\.hidden applies to network='mlp' only"),
        (dict(network="mlp", hidden=(0,)), r"Config\.hidden must be a list of integers >= 1"),
        (dict(network="mlp", hidden="64"), r"Config\.hidden must be a list of integers >= 1"),
        (dict(network="mlp", parametrization="reduced"), r"Config\.parametrization='reduced' needs .* 'mlp' has none"),
        (dict(network="mlp", ntk_implementation="closed_form"), r"Config\.ntk_implementation='closed_form' needs"),
        (
            dict(ntk_implementation="fast"),
            r"Config\.ntk_implementation must be one of \('auto', 'jacobian', 'closed_form'\)",
        ),
        (dict(ntk_checkpoints=1), r"Config\.ntk_checkpoints must be an integer >= 2"),
    ],
)
def test_bad_network_settings_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)


def test_config_network_fields_are_json_and_hashable():
    config = Config(network="mlp", hidden=[8, 8])
    assert config.hidden == (8, 8) and hash(config) == hash(Config(network="mlp", hidden=(8, 8)))
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert (
        config.resolved_parametrization == "full"
        and Config(network="two_layer_both").resolved_parametrization == "reduced"
    )


def _wrong_size(parameters, u):
    return jnp.concatenate([_mlp_apply(parameters, u), jnp.zeros(1)])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: simulate(SMALL, network=_mlp_apply), r"network must be a wideDIP\.Network \(wrap plain functions"),
        (
            lambda: simulate(SMALL, network=FunctionNetwork(_mlp_init, _wrong_size)),
            r"must map u ∈ R\^4 to x ∈ R\^n with n = Config\.n = 6; its apply returns shape \(7,\)",
        ),
        (
            lambda: simulate(SMALL.replace(parametrization="reduced"), network=USER_MLP),
            r"parametrization='reduced' .*'my_mlp'",
        ),
        (
            lambda: simulate(TRACKED.replace(ntk_implementation="closed_form"), network=USER_MLP),
            r"'closed_form' .*'my_mlp'",
        ),
        (lambda: simulate(SMALL.replace(network="mlp"), network=USER_MLP), r"network= replaces Config\.network"),
        (lambda: wideDIP.compare(SMALL, network=3), r"compare: network must be a wideDIP\.Network"),
        (lambda: wideDIP.sweep(SMALL, {"k": [5]}, network="mlp"), r"sweep: network must be a wideDIP\.Network"),
        (lambda: FunctionNetwork(3, _mlp_apply), r"FunctionNetwork: init must be a function"),
    ],
)
def test_bad_user_networks_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sweep_with_a_users_network_refuses_another_on_resume(tmp_path):
    config = SMALL.replace(steps=10, step_size=0.2)  # COMPARED under descent
    result = wideDIP.sweep(config, {"seed": [0]}, tmp_path, network=USER_MLP, progress=False)
    direct = simulate(config.replace(network="mlp", hidden=(4,)), progress=False)
    assert result.cells[0]["median_final_loss"] == float(np.median(direct.final_loss))
    assert json.loads((tmp_path / "sweep.json").read_text())["network"] == "my_mlp"
    fixed = sweep_summary(result).splitlines()[0]  # the printed table names the network that ran
    assert "network my_mlp" in fixed and "two-layer" not in fixed and "k = " not in fixed
    with pytest.raises(ValueError, match=r"holds a sweep of network 'my_mlp', not 'given by the config'"):
        wideDIP.sweep(config, {"seed": [0]}, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"holds a sweep of network 'my_mlp', not 'other'"):
        wideDIP.sweep(
            config, {"seed": [0]}, tmp_path, network=FunctionNetwork(_mlp_init, _mlp_apply, "other"), progress=False
        )


def test_cli_trains_the_builtin_networks(tmp_path, capsys):
    shape = [
        "--m",
        "3",
        "--n",
        "6",
        "--d",
        "4",
        "--k",
        "5",
        "--seeds",
        "3",
        "--steps",
        "150",
        "--step-size",
        "0.5",
        "--operator-scale",
        "sqrt_n",
        "--threshold",
        "1e-9",
        "--dtype",
        "float64",
        "--quiet",
    ]
    assert (
        main(
            ["simulate", *shape, "--network", "mlp", "--hidden", "4", "--track-ntk", "--ntk-checkpoints", "6", "--json"]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["hidden"] == [4] and payload["network"]["name"] == "mlp"
    assert payload["network"]["ntk_implementation"] == "jacobian" and payload["network"]["parametrization"] == "full"
    assert main(["simulate", *shape, "--network", "two_layer_both"]) == 0
    assert "network two_layer_both (50 parameters)  reduced descent" in capsys.readouterr().out
    out = tmp_path / "sweep"
    assert (
        main(["sweep", "fig1-quick", *shape, "--network", "two_layer_both", "--k", "5", "--n", "6", "--out", str(out)])
        == 0
    )
    assert json.loads((out / "sweep.json").read_text())["base"]["network"] == "two_layer_both"
    assert wideDIP.load_sweep(out).cells.size == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--hidden", "8", "--quiet"])
    assert exit_info.value.code == 2
    assert "--hidden applies to network='mlp' only" in capsys.readouterr().err


def test_capabilities_are_declared_by_class_not_guessed_from_method_names():
    """A network has the fast path, closed-form kernels or a certificate when it derives from the
    capability class (checked with isinstance); a method that merely has the name is not taken for
    it, and a capability class without its method cannot be made."""
    from wideDIP import HasClosedFormKernels, HasLipschitzBound, HasReducedDynamics, TwoLayer, TwoLayerBoth
    from wideDIP._resolve import resolved_ntk_implementation, resolved_parametrization

    class NamedOnly(FunctionNetwork):
        def reduced(self, problem):  # not a declared capability
            raise AssertionError("called")

    named = NamedOnly(_mlp_init, _mlp_apply, name="named_only")
    assert resolved_parametrization(SMALL, named) == "full"
    assert resolved_ntk_implementation(SMALL, named) == "jacobian"
    with pytest.raises(ValueError, match="parametrization='reduced' needs a network with an exact reduced"):
        resolved_parametrization(SMALL.replace(parametrization="reduced"), named)
    paper, both = builtin_network(SMALL), builtin_network(SMALL.replace(network="two_layer_both"))
    assert type(paper) is TwoLayer and type(both) is TwoLayerBoth
    assert isinstance(paper, HasReducedDynamics | HasClosedFormKernels) and isinstance(paper, HasLipschitzBound)
    assert isinstance(both, HasReducedDynamics) and not isinstance(both, HasLipschitzBound)

    class Unfinished(HasReducedDynamics):
        def init(self, key):
            return jnp.zeros(3)

        def apply(self, parameters, input):
            return parameters

    with pytest.raises(TypeError, match="abstract"):
        Unfinished()


def test_config_asks_the_registered_class_and_builds_no_network(monkeypatch):
    """`Config` checks a network's paths on its registered CLASS (`issubclass`), building nothing;
    resolution builds it from its `config_fields` (`from_fields`)."""
    from wideDIP import HasClosedFormKernels, HasReducedDynamics

    built = []

    class Unbuilt(FunctionNetwork):
        @classmethod
        def from_fields(cls, **fields):
            built.append(fields)
            return cls(_mlp_init, _mlp_apply, name="unbuilt")

    class UnbuiltReducible(Unbuilt, HasReducedDynamics, HasClosedFormKernels):
        def reduced(self, problem):
            raise AssertionError("called")

        def kernel_probe(self, problem):
            raise AssertionError("called")

    monkeypatch.setitem(wideDIP.NETWORKS, "unbuilt", Unbuilt)
    monkeypatch.setitem(wideDIP.NETWORKS, "reducible", UnbuiltReducible)
    assert Config(network="unbuilt").resolved_parametrization == "full"
    assert Config(network="reducible", parametrization="reduced").resolved_parametrization == "reduced"
    Config(network="reducible", ntk_implementation="closed_form")
    with pytest.raises(ValueError, match=r"Config\.parametrization='reduced' needs .*; network 'unbuilt' has none"):
        Config(network="unbuilt", parametrization="reduced")
    with pytest.raises(
        ValueError, match=r"Config\.ntk_implementation='closed_form' needs .*network 'unbuilt' has none"
    ):
        Config(network="unbuilt", ntk_implementation="closed_form")
    assert built == []  # validated on the class alone
    network = builtin_network(SMALL.replace(network="unbuilt"))
    assert network.name == "unbuilt" and built == [{"n": 6, "d": 4}]  # Network.config_fields
