"""The linear solves inside the implicit flow solvers (Kvaerno5), built on the structure of the
loss (docs/theory.md §10). Each implicit stage solves `f − v(ŷ + c f) = 0` by the chord method; the
gradient flow's Newton matrix is `I + c ∇²L`. Where the Hessian is diagonal plus rank `m`
(`DiagonalPlusLowRankHessian`: the reduced two-layer dynamics) it is solved by Woodbury in
`O(k m² + m³)` instead of the `O(k³)` of a dense LU; for any other loss by GMRES on
Jacobian-vector products, never forming the `p × p` matrix. The inertial flow's Newton matrix
`I − c ∂f/∂y` (its state `(θ, θ')` or `(θ, u)`, §11) is solved by GMRES on the Jacobian-vector
products of its vector field, whatever the loss."""

from __future__ import annotations

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import lineax as lx
import optimistix as optx

# the chord iteration's state: only how its Newton matrix is built and solved differs from diffrax's
from diffrax._root_finder._verychord import _VeryChordState
from jaxtyping import Array, Float, PyTree

from .._dynamics.flow import SOLVERS, GradientFlow
from .._networks.losses import DiagonalPlusLowRankHessian

KRYLOV_TOLERANCE = 1e-10
"""GMRES's relative and absolute tolerance on a Newton step of a loss without structure (the
chord iteration, to the controller's tolerance, absorbs the rest)."""
KRYLOV_RESTART = 20
"""GMRES's fewest iterations between restarts (lineax's default)."""


class DiagonalPlusLowRank(lx.AbstractLinearOperator):
    """`diag(diagonal) + scale · U Uᵀ`, symmetric, with `U` (`factor`) of few columns."""

    diagonal: Float[Array, " k"]
    factor: Float[Array, "k m"]
    scale: Float[Array, ""]

    def mv(self, vector):
        return self.diagonal * vector + self.scale * (self.factor @ (self.factor.T @ vector))

    def as_matrix(self):
        return jnp.diag(self.diagonal) + self.scale * self.factor @ self.factor.T

    def transpose(self):
        return self

    def in_structure(self):
        return jax.eval_shape(lambda: self.diagonal)  # with its sharding, as lineax compares it

    def out_structure(self):
        return self.in_structure()


class Woodbury(lx.AbstractLinearSolver):
    """Solves a `DiagonalPlusLowRank` system `(M + c U Uᵀ) x = b` by
    `x = M⁻¹b − M⁻¹U (I + c Uᵀ M⁻¹ U)⁻¹ c Uᵀ M⁻¹ b`: one LU of an `m × m` matrix (docs/theory.md §10)."""

    def init(self, operator: lx.AbstractLinearOperator, options: dict[str, Any]):
        if not isinstance(operator, DiagonalPlusLowRank):
            raise ValueError(f"Woodbury solves DiagonalPlusLowRank operators, not {type(operator).__name__}")
        inverse = 1 / operator.diagonal
        scaled = operator.scale * operator.factor.T  # c Uᵀ
        capacitance = jnp.eye(scaled.shape[0], dtype=inverse.dtype) + (scaled * inverse) @ operator.factor
        return inverse, operator.factor, scaled, jax.scipy.linalg.lu_factor(capacitance)

    def compute(self, state, vector, options):
        inverse, factor, scaled, capacitance = state
        solved = inverse * vector
        solution = solved - inverse * (factor @ jax.scipy.linalg.lu_solve(capacitance, scaled @ solved))
        return solution, lx.RESULTS.successful, {}

    def transpose(self, state, options):
        return state, options  # the operator is symmetric

    def conj(self, state, options):
        return state, options  # real

    def assume_full_rank(self) -> bool:
        return True


class HessianNewtonMatrix(lx.AbstractLinearOperator):
    """`I + scale · ∇²L(point)` of any `loss` (a pytree state), applied by Hessian-vector products."""

    loss: eqx.Module
    point: PyTree
    scale: Float[Array, ""]

    def mv(self, vector):
        gradient = lambda state: self.loss.loss_and_gradient(state)[1]  # noqa: E731
        curvature = jax.jvp(gradient, (self.point,), (vector,))[1]
        return jax.tree.map(lambda v, h: v + self.scale * h, vector, curvature)

    def as_matrix(self):
        flat, unravel = jax.flatten_util.ravel_pytree(self.point)
        return jax.jacfwd(lambda v: jax.flatten_util.ravel_pytree(self.mv(unravel(v)))[0])(flat)

    def transpose(self):
        return self

    def in_structure(self):
        return jax.eval_shape(lambda: self.point)

    def out_structure(self):
        return self.in_structure()


# what lineax asks of every operator it builds: the Newton matrices are symmetric
for _operator in (DiagonalPlusLowRank, HessianNewtonMatrix):
    lx.is_symmetric.register(_operator, lambda operator: True)
    lx.is_positive_semidefinite.register(_operator, lambda operator: False)  # not known
    lx.is_negative_semidefinite.register(_operator, lambda operator: False)
    lx.linearise.register(_operator, lambda operator: operator)  # linear already


def newton_matrix(loss: eqx.Module, point: PyTree, scale: Array) -> lx.AbstractLinearOperator:
    """`I + scale · ∇²L(point)`: diagonal plus low rank where the loss declares it
    (`DiagonalPlusLowRankHessian`), else applied by Hessian-vector products."""
    if isinstance(loss, DiagonalPlusLowRankHessian):
        diagonal, factor = loss.hessian_parts(point)
        return DiagonalPlusLowRank(1 + scale * diagonal, factor, scale)
    return HessianNewtonMatrix(loss, point, scale)


def newton_solver(loss: eqx.Module) -> lx.AbstractLinearSolver:
    """`Woodbury` for a diagonal-plus-low-rank Hessian; else GMRES restarted after at least `m + 1`
    iterations (the stiff part of the Hessian, `Jᵀ Aᵀ A J`, has rank `m`; fewer stagnated on
    indefinite Hessians far from a minimum)."""
    if isinstance(loss, DiagonalPlusLowRankHessian):
        return Woodbury()
    restart = max(KRYLOV_RESTART, loss.observation.shape[-1] + 1)
    return lx.GMRES(rtol=KRYLOV_TOLERANCE, atol=KRYLOV_TOLERANCE, restart=restart, stagnation_iters=restart)


def _newton_point(y: PyTree, args: tuple) -> tuple[PyTree, Array]:
    """`(ŷ + c f, c)` of an implicit stage: its Newton matrix is `I + c ∇²L(ŷ + c f)`. From
    diffrax's stage arguments, in either of its two forms (`_implicit_relation_f` and `_k`)."""
    if len(args) == 8:  # f − v(t, ŷ + a·f·dt)
        _, diagonal, _, prod, _, partial, _, control = args
        increment = prod(y, control)
    else:  # k − v(t, ŷ + a·k)·dt
        _, diagonal, _, _, partial, _, control = args
        increment = y
    return jax.tree.map(lambda p, i: p + diagonal * i, partial, increment), diagonal * control


class StructuredChord(diffrax.VeryChord):
    """diffrax's chord method (`VeryChord`: one Newton matrix per step) with the Newton matrix of the
    ODE of `settings` on `loss` built by `stage_newton_matrix` and solved by its `linear_solver`
    (`newton_solver`, `field_newton_solver`), never as a dense `p × p` matrix."""

    loss: eqx.Module = eqx.field(kw_only=True)
    settings: GradientFlow = eqx.field(kw_only=True)

    def init(self, fn, y, args, options, f_struct, aux_struct, tags) -> _VeryChordState:
        if "init_state" in options:
            return super().init(fn, y, args, options, f_struct, aux_struct, tags)
        operator = stage_newton_matrix(self.settings, self.loss, *_newton_point(y, args))
        return _VeryChordState(
            linear_state=(operator, jax.lax.stop_gradient(self.linear_solver.init(operator, {}))),
            diff=jax.tree.map(lambda leaf: jnp.full_like(leaf, jnp.inf), y),
            diffsize=jnp.array(jnp.inf, jax.tree.leaves(y)[0].dtype),
            diffsize_prev=jnp.array(1.0, jax.tree.leaves(y)[0].dtype),
            result=optx.RESULTS.successful,
            step=jnp.array(0),
        )


def is_gradient_flow(settings: GradientFlow) -> bool:
    """Whether the ODE of `settings` is the gradient flow `θ' = −∇L(θ)`, whose Newton matrix is
    `I + c ∇²L`; a dynamics with a vector field of its own (`InertialFlow`) has another."""
    return type(settings).vector_field is GradientFlow.vector_field


class FieldNewtonMatrix(lx.AbstractLinearOperator):
    """`I − scale · ∂f/∂y(point)` of the vector field `f` of `settings` on `loss` (the inertial flow's,
    docs/theory.md §11), applied by Jacobian-vector products of `f` (for the inertial flow's second
    order form, `f` holds a Hessian-vector product: its own `jvp` differentiates through it)."""

    settings: GradientFlow
    loss: eqx.Module
    point: PyTree
    scale: Float[Array, ""]

    def mv(self, vector):
        field = lambda state: self.settings.vector_field(self.loss, state)  # noqa: E731
        derivative = jax.jvp(field, (self.point,), (vector,))[1]
        return jax.tree.map(lambda v, d: v - self.scale * d, vector, derivative)

    def as_matrix(self):
        flat, unravel = jax.flatten_util.ravel_pytree(self.point)
        return jax.jacfwd(lambda v: jax.flatten_util.ravel_pytree(self.mv(unravel(v)))[0])(flat)

    def transpose(self):
        transposed = jax.linear_transpose(self.mv, self.point)
        return lx.FunctionLinearOperator(lambda vector: transposed(vector)[0], self.in_structure())

    def in_structure(self):
        return jax.eval_shape(lambda: self.point)

    def out_structure(self):
        return self.in_structure()


# what lineax asks of every operator it builds: this one is not symmetric
lx.is_symmetric.register(FieldNewtonMatrix, lambda operator: False)
lx.is_positive_semidefinite.register(FieldNewtonMatrix, lambda operator: False)  # not known
lx.is_negative_semidefinite.register(FieldNewtonMatrix, lambda operator: False)
lx.linearise.register(FieldNewtonMatrix, lambda operator: operator)  # linear already


def stage_newton_matrix(
    settings: GradientFlow, loss: eqx.Module, point: PyTree, scale: Array
) -> lx.AbstractLinearOperator:
    """The Newton matrix `I − scale · ∂f/∂y(point)` of an implicit stage of the ODE of `settings`: the
    gradient flow's `I + scale · ∇²L(point)` by `newton_matrix`; any other's as a `FieldNewtonMatrix`."""
    if is_gradient_flow(settings):
        return newton_matrix(loss, point, scale)
    return FieldNewtonMatrix(settings, loss, point, scale)


def field_newton_solver(loss: eqx.Module) -> lx.AbstractLinearSolver:
    """GMRES for a `FieldNewtonMatrix` (not symmetric), restarted after at least `2(m + 1)`
    iterations: near θ(0) the inertial flow's is, but for a perturbation of rank `2m` (position and
    velocity along the `m` stiff directions of `∇²L`), a 2 × 2 block of multiples of the identity,
    whose minimal polynomial has degree 2."""
    restart = max(KRYLOV_RESTART, 2 * (loss.observation.shape[-1] + 1))
    return lx.GMRES(rtol=KRYLOV_TOLERANCE, atol=KRYLOV_TOLERANCE, restart=restart, stagnation_iters=restart)


def ode_solver(settings: GradientFlow, loss: eqx.Module) -> diffrax.AbstractSolver:
    """The diffrax solver `settings.solver` (`SOLVERS`) for the ODE of `settings` on `loss`: an
    implicit one with the structured linear solves of `StructuredChord` (the gradient flow's by
    `newton_solver`, another ODE's by `field_newton_solver`; tolerances those of the step-size
    controller), or (`settings.structured_solves=False`) with diffrax's dense LU."""
    solver = getattr(diffrax, SOLVERS[settings.solver])
    if settings.structured_solves and issubclass(solver, diffrax.AbstractImplicitSolver):
        linear_solver = newton_solver(loss) if is_gradient_flow(settings) else field_newton_solver(loss)
        chord = diffrax.with_stepsize_controller_tols(StructuredChord)
        return solver(root_finder=chord(loss=loss, settings=settings, linear_solver=linear_solver))
    return solver()


def solves_over_devices(settings: GradientFlow, loss: eqx.Module) -> bool:
    """Whether the implicit solver of `ode_solver` may run under `shard_map`: only by Woodbury (the
    gradient flow's structured solves of a `DiagonalPlusLowRankHessian`); lineax's GMRES and LU
    compare array structures that differ in their sharding there."""
    woodbury = settings.structured_solves and isinstance(loss, DiagonalPlusLowRankHessian)
    return woodbury and is_gradient_flow(settings)
