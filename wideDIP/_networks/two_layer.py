"""The paper's two-layer network (4) (docs/theory.md §2–§5), and the shape of both two-layer networks."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._problems.problem import Problem, initial_weights
from .base import HasClosedFormKernels, HasLipschitzBound, HasReducedDynamics, Network
from .kernels import KernelProbe, NtkImplementation, observation_ntk
from .losses import GenericDynamics, ReducedDynamics, network, signal_from_features


class TwoLayerShape(Network):
    """Sizes `n`, `d`, width `k` and activation `φ` of a two-layer network (4) (docs/theory.md §2)."""

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d", "k", "activation", "v_law")
    n: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    k: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    @classmethod
    def from_fields(cls, *, n: int, d: int, k: int, activation: str, v_law: str) -> TwoLayerShape:
        """`v_law` shapes the problem's draw of `V` (`wideDIP._problems.problem`), not the network."""
        return cls(n, d, k, activation)


class TwoLayer(TwoLayerShape, HasReducedDynamics, HasClosedFormKernels, HasLipschitzBound):
    """The paper's network (4), `g(u, W) = V φ(W u)/√k`: `W ∈ R^{k×d}` trained, `V ∈ R^{n×k}`
    fixed (drawn with the problem). Fast path: the `k` numbers `z = W u` (docs/theory.md §4);
    closed-form kernels (§3); Lemma 3 bounds `Lip(J)` (§5.2)."""

    layer: Float[Array, "n k"] | None = None
    """`V`: this seed's fixed layer (None until `for_seed`)."""

    @property
    def name(self) -> str:
        return "two_layer"

    def init(self, key: PRNGKeyArray) -> Float[Array, "k d"]:
        return jax.random.normal(key, (self.k, self.d))

    def apply(self, parameters: Float[Array, "k d"], input: Float[Array, " d"]) -> Float[Array, " n"]:
        if self.layer is None:
            raise ValueError("TwoLayer.apply needs the fixed layer V of a seed: use network.for_seed(problem, key)")
        return network(parameters, input, self.layer, self.activation)

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[TwoLayer, Array]:
        """`V` and `W(0) = z(0) uᵀ + G (I − u uᵀ)` as drawn with the problem (`initial_weights`)."""
        seed_network = TwoLayer(self.n, self.d, self.k, self.activation, problem.layer)
        return seed_network, initial_weights(key, problem)

    def features(self, parameters: Array, input: Array) -> Array:
        return parameters @ input

    def parameters_from_features(self, features, initial_features, initial_parameters, input):
        """`W = W(0) + (z − z(0)) uᵀ` (docs/theory.md §4)."""
        return initial_parameters + jnp.outer(features - initial_features, input)

    def reduced(self, problem: Problem) -> tuple[ReducedDynamics, Array]:
        return ReducedDynamics.from_problem(problem, self.activation), problem.features

    def kernel_probe(self, problem: Problem) -> KernelProbe:
        return KernelProbe(
            problem.layer, ReducedDynamics.from_problem(problem, self.activation).mixing, self.activation
        )

    def kernel_checkpoints(self, requested: int, implementation: str) -> int | None:
        """The closed form needs only `z(t)` (k numbers): every checkpoint."""
        return None if implementation == NtkImplementation.CLOSED_FORM else requested

    def observation_eigenvalues(self, problem: Problem, parameters: PyTree) -> Array:
        """The eigenvalues of `B diag(φ'(z(0))²) Bᵀ`, ascending (§3, §4)."""
        mixing = ReducedDynamics.from_problem(problem, self.activation).mixing
        return jnp.linalg.eigvalsh(observation_ntk(mixing, problem.features, self.activation))

    def theory_inputs(self, problem: Problem, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
        """One seed's quantities that Theorem 2.1 needs, at `W(0)` (docs/theory.md §5), with its
        operator's realised `‖A‖` and `σ_A`."""
        residual = ReducedDynamics.from_problem(problem, self.activation).residual(problem.features)
        signal = signal_from_features(problem.features, problem.layer, self.activation)
        kernels = self.kernel_probe(problem).extremes(problem.features, problem.features)
        return {
            **problem.theory_inputs(signal, residual, norm_A, sigma_A),
            "max_entry": jnp.max(jnp.abs(problem.layer)),
            **{name: kernels[name] for name in ("min_lambda_K", "min_lambda_H", "max_lambda_H")},
        }


class FullDynamics(GenericDynamics):
    """The generic path on the paper's network: the loss (2) of the whole `W`, gradients by `jax.grad`."""

    @classmethod
    def from_problem(cls, problem: Problem, activation_name: str) -> FullDynamics:
        (n, k), (d,) = problem.layer.shape, problem.input.shape
        two_layer = TwoLayer(n, d, k, activation_name, problem.layer)
        return cls(two_layer, problem.operator, problem.input, problem.observation)
