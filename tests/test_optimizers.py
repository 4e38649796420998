"""The discrete update rules of method="descent" (docs/theory.md §11): heavy ball, Nesterov, Adam and
any optax transformation, against gradient descent, the heavy-ball ODE and optax run by hand; their
time axes, labels, linearised rates and one-line errors."""

import dataclasses

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import wideDIP
from wideDIP import (
    Adam,
    Config,
    GradientDescent,
    HeavyBall,
    Nesterov,
    checkpoint_steps,
    draw_problem,
    initial_weights,
    load,
    seed_keys,
    simulate,
)
from wideDIP._cli import main
from wideDIP._figures.captions import settings
from wideDIP._integrate import discrete
from wideDIP._resolve import resolve_dynamics

SMALL = Config(m=4, n=12, d=6, k=40, seeds=3, steps=300, step_size=1.0, threshold=1e-7)
"""Stable under descent at η = 1 (η λ_max(H(0)) ≤ 1.13 < 2); in float64, some seeds converge within the budget."""
NEVER = 1e-30
"""A threshold no run reaches: every seed runs its budget."""
PREDICTIONS = ("predicted_rate",)
"""Result fields that are a dynamics' linearised prediction, not what its run computed."""


def literal_loss(weights, problem):
    """The loss (2) of the paper's network (4) on the whole `W`, written here: `½‖A V φ(W u)/√k − y‖²`."""
    a, v, u, y = problem.operator, problem.layer, problem.input, problem.observation
    residual = a @ (v @ jax.nn.sigmoid(weights @ u)) / jnp.sqrt(v.shape[1]) - y
    return 0.5 * residual @ residual


def seed_draws(config, seed):
    """Seed `seed`'s problem and `W(0)`, as `simulate` draws them (call inside the config's precision)."""
    key = seed_keys(config)[seed]
    problem = draw_problem(config, key)
    return problem, initial_weights(config, key, problem)


def assert_same_bits(first, second, but=()):
    """Every field of two `SimulationResult`s equal bit for bit (NaN where NaN), but `config`, `wall_time`
    and the fields `but`."""
    for field in dataclasses.fields(first):
        if field.name in ("config", "wall_time", *but):
            continue
        a, b = getattr(first, field.name), getattr(second, field.name)
        if isinstance(a, dict):
            assert a.keys() == b.keys(), field.name
            for name in a:
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{field.name}[{name!r}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=field.name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_heavy_ball_without_momentum_is_gradient_descent_bit_for_bit(dtype):
    """μ = 0: `θ_{τ+1} = θ_τ − η ∇L(θ_τ)`; at η = 1 the two time axes (`τ η`, `τ √η`) coincide too."""
    config = SMALL.replace(dtype=dtype)
    descent = simulate(config, progress=False)
    heavy_ball = simulate(config.replace(optimizer="heavy_ball", momentum=0.0), progress=False)
    assert np.all(descent.final_loss < descent.initial_loss)
    assert_same_bits(descent, heavy_ball, but=PREDICTIONS)
    momentum = simulate(config.replace(optimizer="heavy_ball", momentum=0.5), progress=False)
    assert not np.array_equal(momentum.loss, descent.loss)  # the momentum is applied


@pytest.mark.parametrize("optimizer", ["heavy_ball", "nesterov"])
def test_the_reduced_momentum_path_equals_the_literal_one(optimizer):
    """A momentum step is a linear combination of gradients, each `(·) uᵀ`: the reduced path on `z = W u`
    is exact (docs/theory.md §4, §11)."""
    config = SMALL.replace(dtype="float64", steps=200, optimizer=optimizer, step_size=0.25, momentum=0.8)
    reduced = simulate(config, progress=False)
    full = simulate(config.replace(parametrization="full"), progress=False)
    assert (reduced.parametrization, full.parametrization) == ("reduced", "full")
    assert 0 < reduced.converged.sum() < config.seeds
    np.testing.assert_array_equal(reduced.stop_step, full.stop_step)
    np.testing.assert_allclose(reduced.final_loss, full.final_loss, rtol=1e-10)
    np.testing.assert_allclose(reduced.loss, full.loss, rtol=1e-10)
    np.testing.assert_allclose(reduced.final_reconstruction, full.final_reconstruction, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reduced.reconstructions, full.reconstructions, rtol=1e-10, atol=1e-12)
    title = {"heavy_ball": "heavy ball", "nesterov": "Nesterov"}[optimizer]
    lines = reduced.summary().splitlines()
    assert f"reduced {title} η=0.25 μ=0.8  threshold" in lines[0]
    steps_line = next(line for line in lines if line.startswith("median steps"))
    assert "time" in steps_line and "t = 0.5 × steps" in steps_line  # t = τ √η


def heavy_ball_ode_losses(config, damping, times):
    """Per seed, the loss along the heavy-ball ODE `θ'' + α θ' + ∇L(θ) = 0`, `θ'(0) = 0` (docs/theory.md
    §11) at `times`, by diffrax's Dopri8 at tolerances 1e-12 on the literal loss of the seed's draws."""

    def field(t, state, problem):
        weights, velocity = state
        return velocity, -damping * velocity - jax.grad(literal_loss)(weights, problem)

    losses = []
    with jax.enable_x64(True):
        for seed in range(config.seeds):
            problem, weights = seed_draws(config, seed)
            solution = diffrax.diffeqsolve(
                diffrax.ODETerm(field),
                diffrax.Dopri8(),
                0.0,
                float(times[-1]),
                0.01,
                (weights, jnp.zeros_like(weights)),
                args=problem,
                saveat=diffrax.SaveAt(ts=jnp.asarray(times)),
                stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
                max_steps=100_000,
            )
            losses.append(np.asarray(jax.vmap(literal_loss, in_axes=(0, None))(solution.ys[0], problem)))
    return np.array(losses)


def test_heavy_ball_follows_the_heavy_ball_ode_on_its_time_axis():
    """At a fixed damping `α`, `μ = 1 − α √η`: iteration `τ` is time `τ √η`, and the loss along the
    iterations approaches the ODE's as `η → 0`, the error about halving when `√η` does (first order)."""
    damping, horizon = 1.0, 8.0
    base = SMALL.replace(seeds=2, dtype="float64", optimizer="heavy_ball", threshold=NEVER)
    runs = []
    for step_size in (0.01, 0.0025):
        root = np.sqrt(step_size)
        steps = round(horizon / root)
        runs.append(
            simulate(base.replace(step_size=step_size, momentum=1 - damping * root, steps=steps), progress=False)
        )
        np.testing.assert_allclose(runs[-1].times, checkpoint_steps(steps) * root, rtol=1e-12)
    times = np.union1d(runs[0].times, runs[1].times)
    reference = heavy_ball_ode_losses(base, damping, times)
    assert np.all(reference[:, -1] < 0.5 * reference[:, 0])  # the run goes somewhere
    errors = []
    for run in runs:
        at = np.searchsorted(times, run.times)
        errors.append(np.max(np.abs(run.loss - reference[:, at]) / reference[:, :1]))
    assert errors[0] < 0.05 and errors[1] < 0.025
    assert 0.4 < errors[1] / errors[0] < 0.6


def test_changing_the_numbers_of_a_rule_does_not_recompile_the_loop(monkeypatch):
    """`step_size`, `momentum`, `b1`, `b2`, `eps` are arrays traced in the loop: runs that change them
    trace `discrete.advance` (counted by its calls of `classify`) no more, where a new budget `steps`
    (static: it shapes the checkpoints) does (the counter counts)."""
    traces = []
    original = discrete.classify
    monkeypatch.setattr(discrete, "classify", lambda *args: traces.append(1) or original(*args))

    def traced(config):
        before = len(traces)
        simulate(config, progress=False)
        return len(traces) - before

    heavy_ball = SMALL.replace(seeds=2, steps=23, optimizer="heavy_ball")
    adam = SMALL.replace(seeds=2, steps=23, optimizer="adam", step_size=0.01)
    for first, changed in [
        (heavy_ball, heavy_ball.replace(step_size=0.5, momentum=0.3)),
        (adam, adam.replace(step_size=0.02, b1=0.5, b2=0.9, eps=1e-4)),
    ]:
        traced(first)
        assert traced(changed) == 0
        assert traced(changed.replace(steps=29)) > 0


def test_adam_runs_on_the_literal_parameters_per_iteration_as_optax_does():
    """Adam's update is entrywise: "auto" runs it on `W` itself; it has no time axis (times are
    iterations); each seed's losses are those of `optax.adam` applied by hand to the literal loss."""
    config = SMALL.replace(seeds=2, dtype="float64", steps=200, threshold=NEVER)
    config = config.replace(optimizer="adam", step_size=0.01, b1=0.8, b2=0.99, eps=1e-6)
    result = simulate(config, progress=False)
    assert result.parametrization == "full"
    checkpoints = checkpoint_steps(config.steps)
    np.testing.assert_array_equal(result.times, checkpoints)
    np.testing.assert_array_equal(result.stop_time, result.stop_step)
    assert np.all(result.final_loss < result.initial_loss)
    lines = result.summary().splitlines()
    assert "full Adam lr=0.01  threshold" in lines[0]
    steps_line = next(line for line in lines if line.startswith("median steps"))
    assert "per iteration" in steps_line and "time" not in steps_line
    assert result.plot().axes[0].get_xlabel() == "iteration τ"  # descent's figure reads "time t"
    rule = optax.adam(0.01, b1=0.8, b2=0.99, eps=1e-6)
    with jax.enable_x64(True):
        for seed in range(config.seeds):
            problem, weights = seed_draws(config, seed)

            @jax.jit
            def step(weights, state, problem=problem):
                updates, state = rule.update(jax.grad(literal_loss)(weights, problem), state, weights)
                return optax.apply_updates(weights, updates), state

            state, losses = rule.init(weights), [literal_loss(weights, problem)]
            for _ in range(config.steps):
                weights, state = step(weights, state)
                losses.append(literal_loss(weights, problem))
            np.testing.assert_allclose(result.loss[seed], np.array(losses)[checkpoints], rtol=1e-12)
            np.testing.assert_allclose(result.final_loss[seed], losses[-1], rtol=1e-12)


def test_an_optax_transformation_of_ones_own_runs_per_iteration_on_the_literal_path(tmp_path):
    """`simulate(config, optimizer=optax.sgd(η))`: the bits of optimizer="sgd" on the literal path, on
    an axis of iterations, labelled as what ran (saved and loaded with it); what it leaves unused or
    cannot run is refused, naming it."""
    config = SMALL.replace(dtype="float64", step_size=0.5)
    descent = simulate(config.replace(parametrization="full"), progress=False)
    own = simulate(config.replace(step_size=Config.step_size), optimizer=optax.sgd(0.5), progress=False)
    assert [run.plot().axes[0].get_xlabel() for run in (descent, own)] == ["time t", "iteration τ"]
    assert own.config == config.replace(parametrization="full", step_size=Config.step_size)
    assert own.dynamics == "optax transformation" and own.parametrization == "full"
    time_axis = ("times", "stop_time", "time_to_threshold", "oracle_time", "best_psnr_time", "measured_rate")
    assert_same_bits(descent, own, but=("dynamics", "stability", *time_axis, *PREDICTIONS))
    np.testing.assert_array_equal(own.times, checkpoint_steps(config.steps))
    np.testing.assert_array_equal(own.times * 0.5, descent.times)
    np.testing.assert_array_equal(own.stop_time, own.stop_step)
    summary = own.summary()
    assert "full optax transformation  threshold" in summary and "per iteration" in summary
    assert "eta" not in summary  # the transformation's step is its own
    own.save(tmp_path / "own.npz")
    assert load(tmp_path / "own.npz").summary().splitlines()[0] == summary.splitlines()[0]
    assert "optax transformation" in own.plot(tmp_path / "own.png").get_suptitle()
    with pytest.raises(ValueError, match=r"simulate: optimizer must be an optax\.GradientTransformation .*got str"):
        simulate(config, optimizer="adam", progress=False)
    with pytest.raises(
        ValueError, match=r"leave Config\.method, Config\.optimizer, Config\.step_size at their .*step_size=0\.5"
    ):
        simulate(config, optimizer=optax.sgd(0.5), progress=False)
    with pytest.raises(ValueError, match=r"parametrization='reduced' is exact only .*simulate's optimizer= is not"):
        simulate(SMALL.replace(parametrization="reduced"), optimizer=optax.sgd(0.5), progress=False)


def test_linearised_rates_are_the_closed_forms():
    """docs/theory.md §11: descent `−ln|1 − ηλ|/η` (→ λ as η → 0); the heavy-ball ODE (and Nesterov's)
    the slowest root of `s² + α s + λ`: `√λ` at critical damping `α = 2√λ`, `α/2` below it, the slow
    root above it; Adam none."""
    eigenvalues = np.array([0.25, 1.0, 4.0])
    descent = GradientDescent(steps=1, step_size=0.125)
    np.testing.assert_allclose(descent.linearised_rate(eigenvalues), -np.log(1 - eigenvalues / 8) * 8, rtol=1e-14)
    np.testing.assert_allclose(descent.linearised_rate(np.array([8.0, 24.0])), [np.inf, -np.log(2) * 8])
    np.testing.assert_allclose(GradientDescent(1, 1e-8).linearised_rate(eigenvalues), eigenvalues, rtol=1e-7)
    for rule in (HeavyBall, Nesterov):
        step_size = 0.01
        for eigenvalue in eigenvalues:
            critical = rule(steps=1, step_size=step_size, momentum=1 - 2 * np.sqrt(eigenvalue) * np.sqrt(step_size))
            np.testing.assert_allclose(critical.damping, 2 * np.sqrt(eigenvalue), rtol=1e-12)
            np.testing.assert_allclose(critical.linearised_rate(eigenvalue), np.sqrt(eigenvalue), rtol=1e-6)
        damped = rule(steps=1, step_size=step_size, momentum=1 - 5 * np.sqrt(step_size))  # α = 5
        # α = 5: λ = 4 has roots −1, −4 (rate 1); λ = 0.25 has the slow root (−5 + √24)/2; λ = 9: α/2
        expected = [(5 - np.sqrt(24)) / 2, (5 - np.sqrt(21)) / 2, 1.0]
        np.testing.assert_allclose(damped.linearised_rate(eigenvalues), expected, rtol=1e-12)
        np.testing.assert_allclose(damped.linearised_rate(9.0), 2.5, rtol=1e-12)
    assert Adam(steps=1, step_size=0.01, b1=0.9, b2=0.999, eps=1e-8).linearised_rate(eigenvalues) is None


def test_captions_name_the_rule_and_its_numbers():
    """A figure's settings name the update rule that ran with the numbers it reads (μ for the heavy ball,
    β₁, β₂, ε for Adam), and none that it does not."""
    heavy_ball = settings(Config(optimizer="heavy_ball", step_size=0.1))
    assert "heavy ball" in heavy_ball and "μ = 0.9" in heavy_ball and not any("β" in words for words in heavy_ball)
    adam = settings(Config(optimizer="adam", step_size=0.01, b2=0.99))
    assert "Adam" in adam and {"β₁ = 0.9", "β₂ = 0.99", "ε = 1e-08"} <= set(adam)
    assert not any("μ" in words or "optimizer" in words for words in adam)
    descent = settings(Config())
    assert "gradient descent" in descent and not any("μ" in words or "β" in words for words in descent)
    assert "method descent" in settings(Config(optimizer="adam"), hidden=("optimizer",))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--optimizer", "heavy_ball", "--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
        (["--method", "flow", "--optimizer", "adam"], "--optimizer applies to method='descent' only"),
        (["--optimizer", "adam", "--parametrization", "reduced"], "optimizer='adam' is not: use 'full' or 'auto'"),
        (["--b1", "0.5"], "--b1 applies to optimizer='adam' only: optimizer='sgd' reads steps, step_size"),
    ],
)
def test_a_wrong_setting_of_a_rule_is_a_one_line_error_naming_the_option(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--quiet", *arguments])
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if "error:" in line]
    assert exit_info.value.code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in error


def test_the_inertia_preset_sweeps_the_update_rules_from_the_same_draws(tmp_path):
    """`inertia` is width × update rule (sgd, heavy ball, Nesterov), its `momentum` given to the cells
    that read it; each cell is the simulation of its own config; the flow, which has no update rule,
    is refused naming the field."""
    base, axes = wideDIP.preset("inertia", k=[5], seeds=2, steps=60, m=3, n=6, d=4, dtype="float64", momentum=0.5)
    assert axes["optimizer"] == ["sgd", "heavy_ball", "nesterov"]
    result = wideDIP.sweep(base, axes, tmp_path / "inertia", progress=False, workers=1)
    heavy = result.configs[0, 1]
    assert heavy.optimizer == "heavy_ball" and heavy.momentum == 0.5  # μ goes to the cells that read it
    assert result.configs[0, 0].optimizer == "sgd" and result.configs[0, 0].momentum == Config.momentum
    alone = simulate(heavy, progress=False)
    assert result.cells[0, 1]["median_final_loss"] == pytest.approx(float(np.median(alone.final_loss)), rel=1e-12)
    with pytest.raises(ValueError, match="optimizer applies to method='descent' only"):
        wideDIP.preset("inertia", method="flow")


@pytest.mark.parametrize("rule", ["heavy_ball", "nesterov"])
def test_the_stability_bound_is_where_the_iteration_on_a_quadratic_stops_contracting(rule):
    """On `L = λθ²/2` the heavy ball iterates `(θ, θ_prev)` by `[[1 + μ − ηλ, −μ], [1, 0]]` and optax's
    Nesterov `(θ, m)` by `[[1 − ηλ(1 + μ), −ημ²], [λ, μ]]`: their spectral radius crosses 1 at the
    bound the summary uses; Adam has none."""
    eta = 0.5
    for momentum in (0.0, 0.5, 0.9):
        dynamics = resolve_dynamics(SMALL.replace(optimizer=rule, momentum=momentum, step_size=eta))
        bound = dynamics.stability_bound()

        def radius(eta_lambda, momentum=momentum):
            curvature = eta_lambda / eta
            if rule == "heavy_ball":
                matrix = [[1 + momentum - eta_lambda, -momentum], [1, 0]]
            else:
                matrix = [[1 - eta_lambda * (1 + momentum), -eta * momentum**2], [curvature, momentum]]
            return max(abs(np.linalg.eigvals(np.array(matrix))))

        assert radius(bound * (1 - 1e-6)) < 1 < radius(bound * (1 + 1e-6))
    line = next(
        x
        for x in simulate(SMALL.replace(optimizer=rule), progress=False).summary().splitlines()
        if x.startswith("stability")
    )
    assert f"> {bound:.3g} for" in line
    assert resolve_dynamics(SMALL.replace(optimizer="adam")).stability_bound() is None
