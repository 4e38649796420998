"""The implicit flow solvers' Newton steps by the loss's structure (docs/theory.md §10): Woodbury
for the reduced two-layer loss, GMRES on Hessian-vector products otherwise, against dense solves."""

import dataclasses

import equinox as eqx
import jax
import jax.extend
import jax.flatten_util
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

from wideDIP import Config
from wideDIP._dynamics.base import in_precision
from wideDIP._experiments.simulate import precision, prepare
from wideDIP._integrate import continuous
from wideDIP._integrate.integrate import checkpoint_times
from wideDIP._integrate.newton import DiagonalPlusLowRank, HessianNewtonMatrix, newton_matrix, newton_solver
from wideDIP._networks.losses import ReducedBothDynamics, ReducedDynamics
from wideDIP._resolve import resolve_dynamics, stopping_rule


def random_reduced_loss(key, m, k, activation):
    """A reduced loss `½‖B φ(z) − y‖²` with random `B`, `y` and a random point `z`."""
    mixing_key, observation_key, point_key = jax.random.split(key, 3)
    loss = ReducedDynamics(
        jax.random.normal(mixing_key, (m, k)) / np.sqrt(k), 3 * jax.random.normal(observation_key, (m,)), activation
    )
    return loss, jax.random.normal(point_key, (k,))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus", "identity"])
def test_woodbury_solves_the_newton_matrix_of_the_reduced_loss_as_a_dense_solve(activation):
    """`I + c ∇²L(z)` from the loss's `(d, U)` is autodiff's Hessian, and Woodbury's solution equals
    `numpy.linalg.solve` of that dense matrix to 1e-10 relative (float64), from `c = 0` to stiff
    `c` (the residual `r = Bφ(z) − y` far from zero, so the diagonal part counts)."""
    with jax.enable_x64(True):
        for seed, (m, k) in enumerate([(3, 12), (7, 40)]):
            loss, point = random_reduced_loss(jax.random.PRNGKey(seed), m, k, activation)
            hessian = np.asarray(jax.hessian(loss.loss)(point))
            for scale in (0.0, 0.3, 50.0, 1e4):
                operator = newton_matrix(loss, point, jnp.asarray(scale))
                assert isinstance(operator, DiagonalPlusLowRank)
                dense = np.eye(k) + scale * hessian
                np.testing.assert_allclose(np.asarray(operator.as_matrix()), dense, rtol=1e-12, atol=1e-12 * scale)
                vector = np.asarray(jax.random.normal(jax.random.PRNGKey(100 + seed), (k,)))
                solution = lx.linear_solve(operator, jnp.asarray(vector), newton_solver(loss)).value
                expected = np.linalg.solve(dense, vector)
                assert np.max(np.abs(solution - expected)) <= 1e-10 * np.max(np.abs(expected))


def test_a_loss_without_structure_gets_hessian_vector_products_and_gmres():
    """Both layers trained, state `(z, V)`: the Newton matrix applied by Hessian-vector products
    equals `I + c` autodiff's Hessian, and GMRES solves it as a dense solve does, to 1e-9."""
    with jax.enable_x64(True):
        m, n, k = 4, 6, 5
        keys = jax.random.split(jax.random.PRNGKey(3), 4)
        loss = ReducedBothDynamics(jax.random.normal(keys[0], (m, n)), jax.random.normal(keys[1], (m,)), "tanh")
        point = (jax.random.normal(keys[2], (k,)), jax.random.normal(keys[3], (n, k)))
        flat, unravel = jax.flatten_util.ravel_pytree(point)
        hessian = np.asarray(jax.hessian(lambda v: loss.loss(unravel(v)))(flat))
        operator = newton_matrix(loss, point, jnp.asarray(20.0))
        assert isinstance(operator, HessianNewtonMatrix)
        dense = np.eye(flat.size) + 20.0 * hessian
        np.testing.assert_allclose(np.asarray(operator.as_matrix()), dense, rtol=1e-12, atol=1e-10)
        vector = np.asarray(jax.random.normal(jax.random.PRNGKey(9), flat.shape))
        solution = lx.linear_solve(operator, unravel(jnp.asarray(vector)), newton_solver(loss)).value
        expected = np.linalg.solve(dense, vector)
        got = np.asarray(jax.flatten_util.ravel_pytree(solution)[0])
        assert np.max(np.abs(got - expected)) <= 1e-9 * np.max(np.abs(expected))


def flow_runs(config, structured):
    """Kvaerno5 on every seed of `config`, its Newton steps structured or by diffrax's dense LU: the
    state size, the runs, and the shapes of every array in the compiled program."""
    with precision(config):
        prepared = prepare(config)
        dtype = jnp.dtype(config.dtype)
        settings = dataclasses.replace(in_precision(resolve_dynamics(config), dtype), structured_solves=structured)
        times = jnp.asarray(checkpoint_times(resolve_dynamics(config)), dtype)
        rule = in_precision(stopping_rule(config), dtype)
        arguments = (prepared.dynamics, prepared.problems, prepared.parameters, times, rule, settings)
        jaxpr = eqx.filter_make_jaxpr(continuous.integrate)(*arguments)[0]
        size = sum(leaf[0].size for leaf in jax.tree.leaves(prepared.parameters))
        return size, continuous.integrate(*arguments), set(array_shapes(jaxpr.jaxpr))


def array_shapes(jaxpr):
    """The shapes of every array a jaxpr and its inner jaxprs (loops, conditions, calls) compute."""
    for equation in jaxpr.eqns:
        yield from (tuple(v.aval.shape) for v in equation.outvars if hasattr(v.aval, "shape"))
        for param in equation.params.values():
            for inner in param if isinstance(param, (list, tuple)) else [param]:
                if isinstance(inner, jax.extend.core.ClosedJaxpr):
                    yield from array_shapes(inner.jaxpr)
                elif isinstance(inner, jax.extend.core.Jaxpr):
                    yield from array_shapes(inner)


# a cell whose seeds converge (tanh: sigmoid's stall here), at the shapes of tests/test_flow.py's stiff solver test
CELL = Config(
    m=4,
    n=12,
    d=6,
    k=40,
    seeds=2,
    t_max=200.0,
    operator_scale="sqrt_n",
    activation="tanh",
    method="flow",
    solver="kvaerno5",
    threshold=1e-6,
    dtype="float64",
)


@pytest.mark.parametrize(
    "config", [CELL, CELL.replace(network="two_layer_both", m=3, n=6, k=10)], ids=["two_layer", "two_layer_both"]
)
def test_structured_and_dense_newton_steps_give_the_same_flow(config):
    """On a cell whose seeds converge (float64), the structured solves (Woodbury on the paper's
    network, GMRES for both layers trained) give the outcomes, crossing times (to 1e-7 relative,
    within the controller's tolerance) and losses of diffrax's dense LU. And they never form the
    `p × p` matrix: the structured program holds no array with two axes of the state's size, the
    dense one does (both layers trained: at a smaller `n`, for the dense LU of `k + n k`)."""
    size, structured, structured_shapes = flow_runs(config, True)
    _, dense, dense_shapes = flow_runs(config, False)
    assert (np.asarray(structured.outcome) == 1).all()  # converged: crossing times to compare
    np.testing.assert_array_equal(structured.outcome, dense.outcome)
    np.testing.assert_allclose(structured.crossing_time, dense.crossing_time, rtol=1e-7)
    np.testing.assert_allclose(structured.final_loss, dense.final_loss, rtol=1e-4, atol=1e-14)
    assert not any(shape.count(size) >= 2 for shape in structured_shapes)
    assert any(shape.count(size) >= 2 for shape in dense_shapes)


def test_auto_predicts_stiff_where_kvaerno5_costs_less_than_tsit5():
    """`solver="auto"` gives Tsit5 its whole budget only where its predicted steps `T λ_max/3` cost
    less than Kvaerno5's (docs/theory.md §10: about 1000 steps of 8 Tsit5 steps): a seed predicted
    to need 20 000 Tsit5 steps is stiff although they fit in the budget of 100 000."""
    settings = resolve_dynamics(Config(method="flow", t_max=3000.0, max_solver_steps=100_000))
    predicted_steps = np.array([5_000, 20_000, 200_000])
    budgets = continuous.explicit_budgets(settings, predicted_steps * 3 / 3000.0)
    probe = int(continuous.PROBE_FRACTION * 100_000)
    np.testing.assert_array_equal(budgets, [100_000, probe, probe])
