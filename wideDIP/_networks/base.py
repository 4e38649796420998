"""Generator networks `g(u, θ)` (docs/theory.md §2, §9): the interface the engine trains, and the
capabilities (an exact fast path, closed-form kernels, a Lipschitz bound) a network may declare."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._problems.problem import Problem
from .kernels import jacobian

NETWORK_FIELDS = ("d", "k", "activation", "v_law", "hidden")
"""The `Config` fields that shape a network and that not every network reads (all read `n`; the
convolutional decoders not `d`): summaries name those of the network that ran (`config_fields`),
the others as unused."""


def network_key(key: PRNGKeyArray) -> PRNGKeyArray:
    """The key of one seed's network parameters: the seed key's stream 100, clear of the streams 0,
    1, 2, ... of the problem's draws (A, x̄, ε, V, z(0), u), so that these are every network's."""
    return jax.random.fold_in(key, 100)


class Network(eqx.Module):
    """A generator `g(u, θ) ∈ R^n` with parameters `θ` (any pytree of arrays): define `init` and
    `apply` (and a `name`). The other methods are hooks with generic defaults (trained by `jax.grad`,
    kernels through the Jacobian), which the two-layer networks override with exact shortcuts
    (docs/theory.md §4, §9); more a network declares by deriving from a capability class."""

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d")
    """The `Config` fields it is built from: `n`, those of `NETWORK_FIELDS` it reads (by default `d`),
    and any other it needs (the convolutional decoders: `side`, `decoder_layers`, ...)."""

    @classmethod
    def validate(cls, **fields: Any) -> None:
        """Raise `ValueError`, naming the `Config` field, unless the fields suit this network (nothing is built)."""

    @classmethod
    def from_fields(cls, **fields: Any) -> Network:
        return cls(**fields)

    def init(self, key: PRNGKeyArray) -> PyTree:
        """Random initial parameters `θ(0)`."""
        raise NotImplementedError(f"{type(self).__name__} must define init(key) -> parameters")

    def apply(self, parameters: PyTree, input: Float[Array, " d"]) -> Float[Array, " n"]:
        """`g(u, θ) ∈ R^n`."""
        raise NotImplementedError(f"{type(self).__name__} must define apply(parameters, u) -> x")

    @property
    def name(self) -> str:
        """Recorded with every result; a sweep refuses to resume with a network of another name."""
        return type(self).__name__

    @property
    def description(self) -> str:
        """One line for summaries (the name, with its shape where useful)."""
        return self.name

    @property
    def recorded_repr(self) -> str:
        """What is recorded as the network's `repr` with a result (no memory addresses)."""
        return repr(self)

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[Network, PyTree]:
        """This seed's network (it may carry the seed's draws, like `V`) and its `θ(0)` in the
        precision of the `problem`'s arrays."""
        dtype = problem.input.dtype
        parameters = self.init(network_key(key))
        cast = lambda leaf: leaf.astype(dtype) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) else leaf  # noqa: E731
        return self, jax.tree.map(cast, parameters)

    def features(self, parameters: PyTree, input: Float[Array, " d"]) -> Float[Array, " s"]:
        """The state recorded at checkpoints, whose distances are parameter distances: `θ` flattened."""
        return jax.flatten_util.ravel_pytree(parameters)[0]

    def parameters_from_features(
        self, features: Array, initial_features: Array, initial_parameters: PyTree, input: Float[Array, " d"]
    ) -> PyTree:
        """The `θ` whose recorded state is `features` (on the set the dynamics move in)."""
        return jax.flatten_util.ravel_pytree(initial_parameters)[1](features)

    def kernel_checkpoints(self, requested: int, implementation: str) -> int | None:
        """How many checkpoints record the state for kernels by `implementation` (None: every one)."""
        return requested

    def observation_eigenvalues(self, problem: Problem, parameters: PyTree) -> Float[Array, " m"]:
        """The eigenvalues of `H(θ) = (A J)(A J)ᵀ`, ascending: `m` VJPs of `θ ↦ A g(u, θ)` (docs/theory.md §9)."""
        observation_jacobian = jacobian(lambda p: problem.operator @ self.apply(p, problem.input), parameters)
        return jnp.linalg.eigvalsh(observation_jacobian @ observation_jacobian.T)


class HasReducedDynamics(Network):
    """An exact reduction of the dynamics (docs/theory.md §4, §9): `parametrization="reduced"`."""

    @abc.abstractmethod
    def reduced(self, problem: Problem) -> tuple[eqx.Module, PyTree]:
        """The reduced dynamics and its initial state."""


class HasClosedFormKernels(Network):
    """Closed-form kernels `K`, `H` (docs/theory.md §3, §9): `ntk_implementation="closed_form"`."""

    @abc.abstractmethod
    def kernel_probe(self, problem: Problem) -> eqx.Module:
        """The closed form of the kernels at a recorded state (`along(features)`)."""


class HasLipschitzBound(Network):
    """A bound on the Lipschitz constant of the Jacobian: the certificate (5) (docs/theory.md §5, §9)."""

    @abc.abstractmethod
    def theory_inputs(self, problem: Problem, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
        """The inputs of Theorem 2.1, the Lipschitz bound of the Jacobian included."""


def describe(network: Network, problem: Problem) -> dict[str, Any]:
    """Name, description and parameter count of `network`, after checking with `jax.eval_shape`
    that it maps the `u ∈ R^d` of `problem` to `x ∈ R^n` (a `ValueError` otherwise)."""
    key = jax.random.PRNGKey(0)
    (n,), (d,) = problem.signal.shape, problem.input.shape

    def initial(key, problem):
        seed_network, parameters = network.for_seed(problem, key)
        return parameters, seed_network.apply(parameters, problem.input)

    try:
        parameters, output = jax.eval_shape(initial, key, problem)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"network {network.name!r} fails on an input u of shape ({d},): {type(error).__name__}: {error}"
        ) from None
    if not hasattr(output, "shape") or tuple(output.shape) != (n,):
        raise ValueError(
            f"network {network.name!r} must map u ∈ R^{d} to x ∈ R^n with n = Config.n = {n}; "
            f"its apply returns shape {getattr(output, 'shape', type(output).__name__)}"
        )
    leaves = jax.tree.leaves(parameters)
    if not leaves or not all(jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves):
        raise ValueError(f"network {network.name!r}: init must return a pytree of floating-point arrays")
    return {
        "name": network.name,
        "description": network.description,
        "repr": network.recorded_repr,
        "parameters": int(sum(leaf.size for leaf in leaves)),
        "config_fields": list(network.config_fields),
    }
