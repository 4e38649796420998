"""The inertial flow `θ'' + α θ' + β (d/dt)∇L(θ) + ∇L(θ) = 0` (docs/theory.md §11): closed forms on
a quadratic loss, its two forms, the heavy-ball ODE at β = 0, the implicit and "auto" solvers, errors."""

import dataclasses
import re

import jax
import jax.flatten_util
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest
from scipy.optimize import brentq

import wideDIP
from wideDIP import Config, InertialFlow, simulate
from wideDIP._cli import main
from wideDIP._experiments.simulate import precision, prepare
from wideDIP._integrate import continuous
from wideDIP._integrate.integrate import Start, integrate
from wideDIP._integrate.newton import FieldNewtonMatrix, field_newton_solver
from wideDIP._networks.losses import ReducedDynamics
from wideDIP._resolve import resolve_dynamics, stopping_rule

# the linear network (identity φ) of tests/test_flow.py's closed form: `H = B Bᵀ` is fixed, with
# eigenvalues from 0.05 to 1.9 on these draws, so α = 1 leaves some modes over- and some underdamped
QUADRATIC = Config(
    m=4,
    n=9,
    d=3,
    k=7,
    seeds=2,
    steps=100,
    t_max=6.0,
    activation="identity",
    operator_scale="sqrt_n",
    method="inertial_flow",
    damping=1.0,
    solver="tsit5",
    rtol=1e-12,
    atol=1e-14,
    threshold=1e-30,
    parametrization="reduced",
    dtype="float64",
)


def oscillators(config):
    """The closed form on the linear network: `r = B z − y` obeys `r'' + (α I + β H) r' + H r = 0`
    with `H = B Bᵀ` and `r'(0) = B z'(0) = 0`, so along the eigenvector of `H` of eigenvalue `λ`
    `c(t) = c(0) (s₂ e^{s₁t} − s₁ e^{s₂t})/(s₂ − s₁)`, `s₁, s₂` the roots of `s² + (α + βλ) s + λ`.
    Per seed: the eigenvalues, the eigenvectors, and `c` as a function of the times (`[times, m]`)."""
    with precision(config):
        prepared = prepare(config)
    seeds = []
    for mixing, observation, start in zip(
        *(np.asarray(a) for a in (prepared.dynamics.mixing, prepared.dynamics.observation, prepared.parameters)),
        strict=True,
    ):
        eigenvalues, vectors = np.linalg.eigh(mixing @ mixing.T)
        initial = vectors.T @ (mixing @ start - observation)
        damping = config.damping + config.hessian_damping * eigenvalues
        root = np.sqrt((damping**2 - 4 * eigenvalues).astype(complex))
        fast, slow = (-damping - root) / 2, (-damping + root) / 2

        def modes(times, initial=initial, fast=fast, slow=slow):
            t = np.asarray(times, np.float64)[:, None]
            return initial * ((fast * np.exp(slow * t) - slow * np.exp(fast * t)) / (fast - slow)).real

        seeds.append((eigenvalues, vectors, modes))
    return seeds


def simulated_modes(result, vectors, seed):
    """The residual `A x(t) − y` of a result's seed along the eigenvectors `vectors` of `H`, `[times, m]`."""
    residual = result.reconstructions[seed] @ result.operator_matrix[seed].T - result.observation[seed]
    return residual @ vectors


@pytest.mark.parametrize("hessian_damping", [0.0, 0.3], ids=["heavy_ball_ode", "hessian_damped"])
def test_a_quadratic_loss_follows_the_damped_oscillators_mode_by_mode(hessian_damping):
    """On the linear network each eigenvector of `H` is a damped oscillator (docs/theory.md §11): the
    simulated residual follows the closed form along every one to 1e-8 (float64), over- and
    underdamped modes alike, with and without Hessian damping."""
    config = QUADRATIC.replace(hessian_damping=hessian_damping)
    result = simulate(config, progress=False)
    assert list(result.status) == ["stalled"] * config.seeds  # integrated to the horizon
    underdamped = []
    for seed, (eigenvalues, vectors, modes) in enumerate(oscillators(config)):
        underdamped.extend((config.damping + hessian_damping * eigenvalues) ** 2 < 4 * eigenvalues)
        expected = modes(result.times)
        np.testing.assert_allclose(simulated_modes(result, vectors, seed), expected, rtol=0, atol=1e-8)
        assert np.all(np.abs(expected[-1] - expected[0]) > 1e-3)  # every mode moved
    assert any(underdamped) and not all(underdamped)


def test_the_crossing_time_is_that_of_the_closed_form():
    """A converging cell: each seed stops at the end of the solver step where the loss first falls
    under the threshold, so the recorded crossing lies after the closed form's first crossing `t*`
    of `½ Σ c² = threshold`, by less than twice the mean step, where the closed-form loss is the
    final loss (to 1e-8)."""
    config = QUADRATIC.replace(hessian_damping=0.3, threshold=0.25)
    result = simulate(config, progress=False)
    assert list(result.status) == ["converged"] * config.seeds
    np.testing.assert_array_equal(result.time_to_threshold, result.stop_time)
    for seed, (_, _, modes) in enumerate(oscillators(config)):
        loss = lambda t, modes=modes: 0.5 * np.sum(modes([t]) ** 2)  # noqa: E731
        grid = np.linspace(0, config.t_max, 601)
        first = np.argmax([loss(t) <= config.threshold for t in grid])
        assert first > 0
        crossing = brentq(lambda t: loss(t) - config.threshold, grid[first - 1], grid[first], xtol=1e-14)  # noqa: B023
        stop = result.time_to_threshold[seed]
        assert crossing <= stop <= crossing + 2 * stop / result.steps_to_threshold[seed]  # within about a step
        np.testing.assert_allclose(result.final_loss[seed], loss(stop), rtol=1e-8)
        assert result.final_loss[seed] <= config.threshold


def run_form(config, form):
    """The inertial flow of `config` integrated in `form` (`InertialFlow.form`), on the host."""
    with precision(config):
        prepared = prepare(config)
        start = Start(prepared.dynamics, prepared.problems, prepared.parameters, prepared.largest_eigenvalue)
        method = dataclasses.replace(resolve_dynamics(config), form=form)
        return integrate(method, stopping_rule(config), start, seeds=config.seeds, progress=False)


# a nonlinear cell (tanh) at tests/test_flow.py's shapes, integrated to its horizon
NONLINEAR = Config(
    m=4,
    n=12,
    d=6,
    k=40,
    seeds=2,
    steps=60,
    t_max=15.0,
    operator_scale="sqrt_n",
    activation="tanh",
    method="inertial_flow",
    damping=1.0,
    hessian_damping=0.5,
    solver="tsit5",
    rtol=1e-11,
    atol=1e-13,
    threshold=1e-30,
    dtype="float64",
)


def test_the_two_forms_agree_and_the_reduced_path_is_exact():
    """The second-order form (a Hessian-vector product per evaluation) and the Hessian-free form
    (docs/theory.md §11) give the same losses, outputs `x(t)` and final parameters to 1e-8, on the
    literal parameters and on the reduced state `(z, z')`; the two paths agree to 1e-7 (§4, §11)."""
    assert resolve_dynamics(NONLINEAR).form == "hessian_free"  # the default
    runs = {}
    for parametrization in ("reduced", "full"):
        config = NONLINEAR.replace(parametrization=parametrization)
        second, free = (run_form(config, form) for form in ("second_order", "hessian_free"))
        np.testing.assert_array_equal(second.outcome, free.outcome)
        np.testing.assert_allclose(second.snapshots.loss, free.snapshots.loss, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(second.snapshots.signal, free.snapshots.signal, rtol=0, atol=1e-8)
        for a, b in zip(jax.tree.leaves(second.final_parameters), jax.tree.leaves(free.final_parameters), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
        assert np.all(second.snapshots.loss[:, -1] < 0.5 * second.snapshots.loss[:, 0])  # it moved
        runs[parametrization] = free
    np.testing.assert_allclose(runs["full"].snapshots.loss, runs["reduced"].snapshots.loss, rtol=1e-7)
    np.testing.assert_allclose(
        runs["full"].snapshots.weight_distance, runs["reduced"].snapshots.weight_distance, rtol=1e-7
    )


def heavy_ball_ode_losses(config, times):
    """The loss at `times` of SciPy's DOP853 (rtol 1e-12) on the reduced heavy-ball ODE
    `z'' + α z' + φ'(z) ⊙ Bᵀ(B φ(z) − y) = 0`, `z'(0) = 0`, of each seed (tanh): independent of diffrax."""
    from scipy.integrate import solve_ivp

    with precision(config):
        prepared = prepare(config)
    losses = []
    for b, y, z0 in zip(
        *(np.asarray(a) for a in (prepared.dynamics.mixing, prepared.dynamics.observation, prepared.parameters)),
        strict=True,
    ):

        def field(t, state, b=b, y=y):
            z, v = np.split(state, 2)
            gradient = (1 - np.tanh(z) ** 2) * ((b @ np.tanh(z) - y) @ b)
            return np.concatenate([v, -config.damping * v - gradient])

        solution = solve_ivp(
            field, (0, times[-1]), np.concatenate([z0, 0 * z0]), "DOP853", t_eval=times, rtol=1e-12, atol=1e-14
        )
        z = solution.y[: z0.size]
        losses.append(0.5 * np.sum((b @ np.tanh(z) - y[:, None]) ** 2, axis=0))
    return np.array(losses)


def test_without_hessian_damping_it_is_the_heavy_ball_ode():
    """β = 0: the default form's field is the heavy ball's in `(θ, u = −θ')`, `θ' = −u`,
    `u' = −α u + ∇L(θ)` (no Hessian-vector product); it gives the results of the second-order form
    (whose Hessian term is then 0) and of an independent integration of `θ'' + α θ' + ∇L(θ) = 0`
    (SciPy) to 1e-8."""
    config = NONLINEAR.replace(hessian_damping=0.0, parametrization="reduced")
    settings = resolve_dynamics(config)
    assert settings.form == "hessian_free"
    with precision(config):
        prepared = prepare(config)
        loss = jax.tree.map(lambda leaf: leaf[0], prepared.dynamics)
        state = (prepared.parameters[0], jnp.linspace(-1.0, 1.0, config.k))
        gradient = loss.loss_and_gradient(state[0])[1]
        field = settings.vector_field(loss, state)
        np.testing.assert_array_equal(field[0], -state[1])
        np.testing.assert_allclose(field[1], -config.damping * state[1] + gradient, rtol=1e-15, atol=1e-15)
    free, second = run_form(config, "hessian_free"), run_form(config, "second_order")
    np.testing.assert_allclose(free.snapshots.loss, second.snapshots.loss, rtol=1e-8)
    times = np.asarray(wideDIP.checkpoint_steps(config.steps) * config.t_max / config.steps)
    np.testing.assert_allclose(free.snapshots.loss, heavy_ball_ode_losses(config, times), rtol=1e-8)


@pytest.mark.parametrize("form", ["second_order", "hessian_free"])
def test_the_newton_matrix_is_that_of_the_inertial_system_and_gmres_solves_it(form):
    """The implicit stages' Newton matrix `I − c ∂f/∂y` applied by Jacobian-vector products equals,
    on the linear network, the closed form of §11's systems (`∂f/∂y` of `(θ, v)`:
    `[[0, I], [−H, −αI − βH]]`; of `(θ, u)`: `[[−βH, −I], [−(αβ − 1)H, −αI]]`, `H = BᵀB`), and
    for tanh (through the Hessian-vector product's own derivative) GMRES solves it as a dense solve
    does, to 1e-9."""
    with jax.enable_x64(True):
        alpha, beta, scale, k = 1.5, 0.4, 0.7, 12
        settings = dataclasses.replace(resolve_dynamics(NONLINEAR), form=form, damping=alpha, hessian_damping=beta)
        keys = jax.random.split(jax.random.PRNGKey(0), 4)
        mixing, observation = jax.random.normal(keys[0], (3, k)) / np.sqrt(k), jax.random.normal(keys[1], (3,))
        point = (jax.random.normal(keys[2], (k,)), jax.random.normal(keys[3], (k,)))
        linear = ReducedDynamics(mixing, observation, "identity")
        curvature, identity = np.asarray(mixing.T @ mixing), np.eye(k)
        if form == "second_order":
            jacobian = np.block([[0 * identity, identity], [-curvature, -alpha * identity - beta * curvature]])
        else:
            jacobian = np.block([[-beta * curvature, -identity], [-(alpha * beta - 1) * curvature, -alpha * identity]])
        operator = FieldNewtonMatrix(settings, linear, point, jnp.asarray(scale))
        np.testing.assert_allclose(operator.as_matrix(), np.eye(2 * k) - scale * jacobian, rtol=1e-12, atol=1e-12)

        nonlinear = ReducedDynamics(mixing, 3 * observation, "tanh")
        operator = FieldNewtonMatrix(settings, nonlinear, point, jnp.asarray(20.0))
        dense = np.asarray(operator.as_matrix())
        assert not np.allclose(dense, dense.T)  # GMRES, not a symmetric solver
        vector = np.asarray(jax.random.normal(jax.random.PRNGKey(9), (2 * k,)))
        solution = lx.linear_solve(
            operator, (jnp.asarray(vector[:k]), jnp.asarray(vector[k:])), field_newton_solver(nonlinear)
        )
        expected = np.linalg.solve(dense, vector)
        got = np.concatenate([np.asarray(part) for part in solution.value])
        assert np.max(np.abs(got - expected)) <= 1e-9 * np.max(np.abs(expected))


def test_auto_continues_a_stiff_inertial_state_by_kvaerno5():
    """Strong Hessian damping (`β λ_max` ≈ 200 to 400: the system is stiff): "auto" predicts every seed
    stiff from the roots of `s² + (α + βλ) s + λ`, gives Tsit5 2 % of the budget, and continues the
    state `(θ, u)` (position and velocity, not θ alone) by Kvaerno5, its Newton steps by GMRES: the
    residual follows the closed form along every eigenvector of `H` to 1e-6."""
    config = QUADRATIC.replace(hessian_damping=200.0, solver="auto", rtol=1e-9, atol=1e-12, max_solver_steps=300)
    result = simulate(config, progress=False)
    assert list(result.status) == ["stalled"] * config.seeds  # carried to the horizon
    budgets = continuous.explicit_budgets(resolve_dynamics(config), result.stability / config.step_size)
    np.testing.assert_array_equal(budgets, int(continuous.PROBE_FRACTION * config.max_solver_steps))
    assert np.all(result.solver_steps > budgets)  # continued past Tsit5's probe
    for seed, (_, vectors, modes) in enumerate(oscillators(config)):
        np.testing.assert_allclose(simulated_modes(result, vectors, seed), modes(result.times), rtol=0, atol=1e-6)


def test_auto_predicts_stiff_seeds_from_the_oscillator_roots():
    """`solver="auto"`'s step budgets from the largest root modulus of `s² + (α + βλ) s + λ` over
    `[0, λ_max]`, not from `λ_max`: without Hessian damping, `√λ_max` (a seed with `λ_max = 10⁴` is not
    stiff for the heavy-ball ODE, for the flow it is); with `β = 0.5`, about `β λ_max`: `NumPy`'s
    roots."""
    horizon, largest = 100.0, np.array([100.0, 1e4, 1e6])
    heavy_ball = resolve_dynamics(Config(method="inertial_flow", t_max=horizon))
    hessian_damped = resolve_dynamics(Config(method="inertial_flow", t_max=horizon, hessian_damping=0.5))
    flow = resolve_dynamics(Config(method="flow", t_max=horizon))
    np.testing.assert_allclose(heavy_ball.stiffness(largest), np.sqrt(largest), rtol=1e-12)  # underdamped
    np.testing.assert_allclose(heavy_ball.stiffness(np.array([0.0, 0.5])), 2.0)  # α: a direction of zero curvature
    roots = [max(abs(np.roots([1, 2 + 0.5 * value, value]))) for value in largest]  # ≈ β λ_max
    np.testing.assert_allclose(hessian_damped.stiffness(largest), roots, rtol=1e-10)
    full, probe = 100_000, int(continuous.PROBE_FRACTION * 100_000)
    np.testing.assert_array_equal(continuous.explicit_budgets(heavy_ball, largest), [full, full, probe])
    np.testing.assert_array_equal(continuous.explicit_budgets(hessian_damped, largest), [full, probe, probe])
    np.testing.assert_array_equal(continuous.explicit_budgets(flow, largest), [full, probe, probe])


def test_linearised_rate_and_label():
    """`linearised_rate`: `−max Re` of the roots of `s² + (α + βλ) s + λ` (NumPy's `roots`), `√λ` at
    critical damping; the label names α, β and the solver."""
    dynamics = resolve_dynamics(Config(method="inertial_flow", damping=2.0, hessian_damping=0.5, solver="tsit5"))
    assert dynamics.label == "inertial flow α=2 β=0.5 (tsit5)"
    eigenvalues = np.array([0.01, 0.3, 1.0, 4.0, 50.0])
    expected = [-max(np.roots([1, 2.0 + 0.5 * value, value]).real) for value in eigenvalues]
    np.testing.assert_allclose(dynamics.linearised_rate(eigenvalues), expected, rtol=1e-10)
    critical = resolve_dynamics(Config(method="inertial_flow", damping=2 * np.sqrt(0.3)))
    np.testing.assert_allclose(critical.linearised_rate(np.array([0.3])), np.sqrt(0.3), rtol=1e-6)


@pytest.mark.parametrize(
    "changes, pattern",
    [
        (dict(method="inertial_flow", damping=-1.0), r"^Config\.damping must be >= 0, got -1\.0$"),
        (dict(method="inertial_flow", hessian_damping=-0.5), r"^Config\.hessian_damping must be >= 0, got -0\.5$"),
        (dict(method="inertial_flow", optimizer="adam"), r"^Config\.optimizer applies to method='descent' only"),
        (dict(method="flow", hessian_damping=0.5), r"^Config\.hessian_damping applies to method='inertial_flow' only"),
        (dict(method="flow", damping=1.0), r"^Config\.damping applies to method='inertial_flow' only"),
    ],
)
def test_wrong_settings_are_one_line_errors(changes, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        Config(**changes)
    assert "\n" not in str(info.value)


def test_the_command_line_runs_it_and_names_it(capsys):
    """`widedip simulate --method inertial_flow --damping 2 --hessian-damping 0.5` (options from the
    Config fields) runs, and the summary names the dynamics; a negative damping is a one-line error."""
    tiny = ["--m", "3", "--n", "6", "--d", "4", "--k", "5", "--seeds", "2", "--steps", "20", "--quiet"]
    assert main(["simulate", "--method", "inertial_flow", "--damping", "2", "--hessian-damping", "0.5", *tiny]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "inertial flow α=2 β=0.5 (auto, rtol=1e-06, atol=1e-08)  horizon t=20" in lines[0]
    stiffness = next(line for line in lines if line.startswith("stiffness"))
    assert "largest |s|" in stiffness and "3/lambda_max" not in stiffness  # its step limit, not the flow's
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--method", "inertial_flow", "--damping", "-1", *tiny])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and re.search(r"--damping must be >= 0, got -1\.0$", errors[0])


def test_the_class_refuses_what_it_cannot_run():
    """Built directly (the Python API): a form it does not know, a negative damping."""
    settings = resolve_dynamics(NONLINEAR)
    with pytest.raises(
        ValueError, match=r"InertialFlow\.form must be one of \('second_order', 'hessian_free'\), got 'verlet'$"
    ):
        dataclasses.replace(settings, form="verlet")
    with pytest.raises(ValueError, match=r"InertialFlow\.damping must be >= 0, got -1\.0$"):
        dataclasses.replace(settings, damping=-1.0)
    assert type(settings) is InertialFlow  # what the package exports
