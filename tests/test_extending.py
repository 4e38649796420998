"""docs/extending.md: a new forward operator, signal family, network and discrete dynamics, each one
class registered by name (`wideDIP.OPERATORS`, `SIGNALS`, `NETWORKS`, `DYNAMICS`) without touching
the package, run by `simulate` and by a two-cell `sweep`, and checked against what they are."""

import re
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import wideDIP
from wideDIP import Config, DiscreteDynamics, Network, Operator, Signal

BASE = Config(m=3, n=6, d=4, k=5, seeds=3, steps=40, step_size=0.5, operator_scale="none")


class SignedSampling(Operator):
    """`m` of the `n` coordinates drawn per seed, each with a random sign: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "signed_sampling"
    sampling: ClassVar[bool] = True

    def draw(self, key, gaussian):
        rows = jax.random.permutation(key, self.n)[: self.m]
        signs = jax.random.rademacher(jax.random.fold_in(key, 1), (self.m,), dtype=gaussian.dtype)
        return signs[:, None] * jax.nn.one_hot(rows, self.n, dtype=gaussian.dtype)


class TanhLayer(Network):
    """`g(u, W) = tanh(W u)` for `n` outputs: one trained layer `W ∈ R^{n×d}`."""

    n: int
    d: int

    @property
    def name(self) -> str:
        return "tanh_layer"

    def init(self, key):
        return jax.random.normal(key, (self.n, self.d))

    def apply(self, parameters, input):
        return jnp.tanh(parameters @ input)


class Sine(Signal):
    """`x̄_i = √2 sin(2π i/n + φ)` with a phase `φ` uniform per seed: `‖x̄‖² = n` exactly."""

    name: ClassVar[str] = "sine"

    def draw(self, key, gaussian):
        phase = jax.random.uniform(key, (), gaussian.dtype, 0, 2 * jnp.pi)
        positions = jnp.arange(gaussian.size, dtype=gaussian.dtype) / gaussian.size
        return jnp.sqrt(jnp.asarray(2, gaussian.dtype)) * jnp.sin(2 * jnp.pi * positions + phase)


ACTIVE = 7
"""The iterations during which `HaltingDescent` moves."""


class HaltingDescent(DiscreteDynamics):
    """Gradient descent whose step size decays to zero after `ACTIVE` iterations (an optax schedule)."""

    name: ClassVar[str] = "halting_descent"

    def transformation(self):
        return optax.sgd(lambda count: jnp.where(count < ACTIVE, self.step_size, 0.0))


@pytest.fixture
def registered(monkeypatch):
    """The components registered for one test (the registries are module state)."""
    monkeypatch.setitem(wideDIP.OPERATORS, SignedSampling.name, SignedSampling)
    monkeypatch.setitem(wideDIP.SIGNALS, Sine.name, Sine)
    monkeypatch.setitem(wideDIP.NETWORKS, "tanh_layer", TanhLayer)  # built from its config_fields: n, d
    monkeypatch.setitem(wideDIP.DYNAMICS, HaltingDescent.name, HaltingDescent)


def cells_match_alone(config: Config, axis: str, values: list) -> None:
    """A two-cell sweep over `axis` gives each cell's median final loss as `simulate` alone does."""
    grid = wideDIP.sweep(config, {axis: values}, progress=False)
    assert grid.computed.all()
    for index, value in enumerate(values):
        alone = wideDIP.simulate(config.replace(**{axis: value}), progress=False)
        np.testing.assert_allclose(grid.statistic("median_final_loss")[index], np.median(alone.final_loss), rtol=1e-6)


def test_a_registered_signal_family_runs_and_is_what_it_draws(registered):
    config = BASE.replace(signal="sine")
    result = wideDIP.simulate(config, progress=False)
    np.testing.assert_allclose((result.signal**2).sum(axis=1), config.n, rtol=1e-5)
    np.testing.assert_allclose(
        np.einsum("smn,sn->sm", result.operator_matrix, result.signal), result.clean_observation, atol=1e-5
    )
    gaussian = wideDIP.simulate(config.replace(signal="gaussian"), progress=False)
    np.testing.assert_array_equal(result.operator_matrix, gaussian.operator_matrix)  # the seed's other draws
    assert "x̄: sine" in result.summary()  # the summary names the family that ran
    cells_match_alone(config, "k", [5, 9])
    with pytest.raises(ValueError, match=r"Config\.signal must be one of .*'sine'"):
        Config(signal="sines")


def test_a_registered_discrete_dynamics_runs_its_own_update(registered):
    """Its step size is zero after `ACTIVE` iterations: the run ends where descent of `ACTIVE` steps
    ends, and the steps after change nothing."""
    config = BASE.replace(method="halting_descent", threshold=1e-30)
    result = wideDIP.simulate(config, progress=False)
    short = wideDIP.simulate(BASE.replace(steps=ACTIVE, threshold=1e-30), progress=False)
    np.testing.assert_allclose(result.final_loss, short.final_loss, rtol=1e-6)
    assert not np.allclose(
        result.final_loss, wideDIP.simulate(BASE.replace(threshold=1e-30), progress=False).final_loss
    )
    assert (result.stop_step == config.steps).all() and (result.status == "stalled").all()
    assert "halting_descent  eta=0.5" in result.summary()
    np.testing.assert_allclose(result.times[-1], config.steps * config.step_size)  # its time axis: t = τ η
    cells_match_alone(config, "step_size", [0.5, 0.25])
    with pytest.raises(ValueError, match=r"Config\.solver applies to method='flow' or method='inertial_flow' only"):
        config.replace(solver="tsit5")  # the flow's fields are refused: it does not read them


def test_a_registered_operator_runs_and_is_what_it_draws(registered):
    config = BASE.replace(operator="signed_sampling")
    result = wideDIP.simulate(config, progress=False)
    for matrix in result.operator_matrix:  # signed rows of the identity
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(config.m), atol=1e-6)
        assert set(np.abs(matrix).sum(axis=1)) == {1.0}
    np.testing.assert_allclose(result.kappa_A, 1.0, rtol=1e-5)
    grid = wideDIP.sweep(config, {"k": [5, 9]}, progress=False)
    for index, k in enumerate([5, 9]):
        alone = wideDIP.simulate(config.replace(k=k), progress=False)
        np.testing.assert_allclose(grid.statistic("median_final_loss")[index], np.median(alone.final_loss), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Config\.m must be <= Config\.n .* operator='signed_sampling'"):
        BASE.replace(operator="signed_sampling", m=7)  # its `sampling` capability is checked too


def test_a_registered_network_runs_and_its_loss_is_its_own(registered):
    config = BASE.replace(network="tanh_layer")
    result = wideDIP.simulate(config, progress=False)
    assert result.network["name"] == "tanh_layer" and result.parametrization == "full"
    assert result.network["parameters"] == config.n * config.d
    x0 = result.reconstructions[:, 0]  # g(u, W(0)) per seed
    residual = np.einsum("smn,sn->sm", result.operator_matrix, x0) - result.observation
    np.testing.assert_allclose(result.initial_loss, 0.5 * (residual**2).sum(axis=1), rtol=1e-5)
    assert np.all(np.abs(x0) < 1)  # tanh's range: the outputs are the network's
    assert "tanh_layer" in result.summary() and "k=5" not in result.summary()
    grid = wideDIP.sweep(config, {"step_size": [0.5, 0.25]}, progress=False)
    assert grid.computed.all()
    assert grid.statistic("median_final_loss")[0] == pytest.approx(np.median(result.final_loss), rel=1e-6)
    with pytest.raises(ValueError, match=r"Config\.network must be one of .*'tanh_layer'"):
        Config(network="tanh_layers")


class WrongSize(Signal):
    name: ClassVar[str] = "wrong_size"

    def draw(self, key, gaussian):
        return jnp.ones(gaussian.size + 1, gaussian.dtype)


class Momentum(DiscreteDynamics):
    name: ClassVar[str] = "momentum"
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size", "friction")

    def transformation(self):
        return optax.sgd(self.step_size, momentum=0.9)


def test_a_wrong_component_is_a_one_line_error_naming_it(monkeypatch):
    """Registered as an instance, not derived from the base, an abstract method left undefined, a
    `config_fields` that `Config` lacks, a draw of the wrong shape: each a `ValueError` naming the
    registry or the `Config` field, and the registry left as it was."""
    with pytest.raises(ValueError, match=r"wideDIP\.OPERATORS\['signed'\] must be a subclass of wideDIP\.Operator"):
        wideDIP.OPERATORS["signed"] = SignedSampling(m=3, n=6, operator_scale="none")
    with pytest.raises(ValueError, match=r"wideDIP\.SIGNALS\['tanh'\] must be a subclass of wideDIP\.Signal"):
        wideDIP.SIGNALS["tanh"] = TanhLayer

    class Unfinished(DiscreteDynamics):
        name: ClassVar[str] = "unfinished"

    with pytest.raises(
        ValueError, match=r"wideDIP\.DYNAMICS\['unfinished'\]: Unfinished does not define transformation"
    ):
        wideDIP.DYNAMICS["unfinished"] = Unfinished
    with pytest.raises(ValueError, match=r"wideDIP\.DYNAMICS\['descent'\] is built in"):
        wideDIP.DYNAMICS["descent"] = HaltingDescent
    with pytest.raises(ValueError, match=r"wideDIP\.DYNAMICS\['halting'\]: HaltingDescent\.name is 'halting_descent'"):
        wideDIP.DYNAMICS["halting"] = HaltingDescent
    assert "signed" not in wideDIP.OPERATORS and "unfinished" not in wideDIP.DYNAMICS
    monkeypatch.setitem(wideDIP.DYNAMICS, Momentum.name, Momentum)
    assert Config().method == "descent"  # the other dynamics' configs are not affected
    with pytest.raises(ValueError, match=r"Config\.method='momentum': Momentum\.config_fields names 'friction', not a"):
        Config(method="momentum")
    monkeypatch.setitem(wideDIP.SIGNALS, WrongSize.name, WrongSize)
    with pytest.raises(ValueError, match=r"Config\.signal='wrong_size' must draw an array of shape \(6,\), got \(7,\)"):
        wideDIP.simulate(BASE.replace(signal="wrong_size"), progress=False)


class Adam(DiscreteDynamics):
    name: ClassVar[str] = "adam"

    def transformation(self):
        return optax.adam(self.step_size)


class HeavyBall(DiscreteDynamics, wideDIP.LinearInGradients):
    name: ClassVar[str] = "heavy_ball"

    def transformation(self):
        return optax.sgd(self.step_size, momentum=0.9)


class NotAnUpdate(DiscreteDynamics):
    name: ClassVar[str] = "not_an_update"

    def transformation(self):
        return self.step_size


def test_the_reduced_path_runs_only_the_dynamics_it_is_exact_for(monkeypatch):
    """Adam rescales each entry of `W`: `W − W(0)` leaves `span(· uᵀ)`, so "auto" runs it on the literal
    parameters and "reduced" is refused; heavy ball, a linear combination of gradients, declares
    `LinearInGradients` and its reduced run equals its full one (docs/theory.md §4)."""
    for dynamics in (Adam, HeavyBall, NotAnUpdate):
        monkeypatch.setitem(wideDIP.DYNAMICS, dynamics.name, dynamics)
    config = BASE.replace(method="adam", step_size=0.05)
    assert wideDIP.simulate(config, progress=False).parametrization == "full"
    with pytest.raises(ValueError, match=r"parametrization='reduced' is exact only .*method='adam' is not"):
        config.replace(parametrization="reduced")
    config = BASE.replace(method="heavy_ball", step_size=0.05)
    reduced, full = (wideDIP.simulate(config.replace(parametrization=p), progress=False) for p in ("auto", "full"))
    assert reduced.parametrization == "reduced"
    np.testing.assert_allclose(reduced.loss, full.loss, rtol=1e-4, atol=1e-6)
    plain = wideDIP.simulate(BASE.replace(step_size=0.05), progress=False)
    assert not np.allclose(reduced.loss[:, -1], plain.loss[:, -1])  # the momentum is applied
    with pytest.raises(ValueError, match=r"compare runs the gradient flow against gradient descent, not method='heavy"):
        wideDIP.compare(config, progress=False)
    with pytest.raises(ValueError, match=r"NotAnUpdate\.transformation\(\) must return an optax\.GradientTrans"):
        wideDIP.simulate(BASE.replace(method="not_an_update"), progress=False)


def test_every_code_block_of_the_page_runs_and_registers_its_component():
    """docs/extending.md's examples, run as written (the registries restored afterwards)."""
    registries = {"operator": wideDIP.OPERATORS, "signal": wideDIP.SIGNALS}
    registries |= {"network": wideDIP.NETWORKS, "method": wideDIP.DYNAMICS}
    saved = {field: dict(registry) for field, registry in registries.items()}
    page = (Path(__file__).parent.parent / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == len(registries)
    try:
        for block, (field, registry) in zip(blocks, registries.items()):
            namespace = {}
            exec(compile(block, "docs/extending.md", "exec"), namespace)
            result = namespace["result"]
            assert set(registry) - set(saved[field]) == {getattr(result.config, field)}
            assert result.status.shape == (3,) and np.isfinite(result.final_loss).all()
    finally:
        for field, registry in registries.items():
            registry.clear()
            registry.update(saved[field])
