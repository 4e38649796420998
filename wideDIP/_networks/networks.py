"""Generator networks `g(u, θ)` (docs/theory.md §2, §9): the interface the engine trains, the
built-ins selected by `Config.network`, and a user's own network from two plain functions.

A network is an `eqx.Module` with `init(key) -> θ` (any pytree) and `apply(θ, u) -> x ∈ R^n`.
Everything else is an optional hook with a generic default: the engine trains any network by
`jax.grad` of the pure loss (2) on its literal parameters (the "full" path), computes its NTK
through its Jacobian (§3, §9), and uses a network's exact fast path or closed-form kernel only
where the network supplies one (the two-layer networks, §4, §9).
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._problems.problem import Problem, initial_weights
from .activations import activation
from .kernels import BothKernelProbe, KernelProbe, NtkImplementation, jacobian, observation_ntk
from .losses import GenericDynamics, ReducedBothDynamics, ReducedDynamics, signal_from_features
from .losses import network as two_layer_network

NETWORK_STREAM = 100
"""`fold_in(seed key, NETWORK_STREAM)` is the key a network's own `init` receives. The problem's
draws (`_problem`) use the streams 0, 1, 2, ... of the same key; keep this one clear of them."""


NETWORK_FIELDS = ("k", "activation", "v_law", "hidden")
"""The `Config` fields that shape a network and that not every network reads (every network
reads `n`, the size of its output, and `d`, that of its input `u`): summaries and figures name
those the network that ran reads (`Network.config_fields`), and the others as unused."""


def network_key(key: PRNGKeyArray) -> PRNGKeyArray:
    """The key of one seed's network parameters: its own stream of the seed's key, so that the
    problem's draws (A, x̄, ε, V, z(0), u) are those of every other network."""
    return jax.random.fold_in(key, NETWORK_STREAM)


def _flat(parameters: PyTree) -> Array:
    return jax.flatten_util.ravel_pytree(parameters)[0]


class Network(eqx.Module):
    """A generator `g(u, θ) ∈ R^n` with parameters `θ` (any pytree of arrays).

    Subclass it and define `init` and `apply` (and a `name`); or wrap two plain functions with
    `FunctionNetwork`. The other methods are hooks with generic defaults, which the built-in
    two-layer networks override with exact shortcuts (docs/theory.md §4, §9):

    - `for_seed`: this seed's network and `θ(0)` (default: `self`, `init(network_key(key))` in the
      precision of the problem's arrays);
    - `features` / `parameters_from_features`: the state recorded at checkpoints, a flat vector
      whose distances are parameter distances (default: `θ` flattened);
    - `largest_observation_eigenvalue`: `λ_max(H(θ(0)))` (default: `m` VJPs of `θ ↦ A g(u, θ)`).

    What a network can do beyond that it declares by also deriving from a capability class, which
    the engine checks with `isinstance`: `HasReducedDynamics` (an exact fast path, `reduced`),
    `HasClosedFormKernels` (`kernel_probe`), `HasLipschitzBound` (`theory_inputs`, for the
    certificate (5)).
    """

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d")
    """The `Config` fields this network reads: `n` (its output size) and `d` (its input `u ∈ R^d`)
    for any network; a subclass built from more of them (a width `k`, an `activation`) declares
    them here, so that summaries and figures name them (the others of `NETWORK_FIELDS` are named
    as unused)."""

    @classmethod
    def from_fields(cls, **fields: Any) -> Network:
        """This network from the values of its `config_fields` (resolution: `wideDIP._resolve`)."""
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

    # ----- hooks the engine can exploit (generic defaults) -----

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[Network, PyTree]:
        """This seed's network (it may carry the seed's fixed draws, like `V`) and its `θ(0)`,
        in the precision of the `problem`'s arrays."""
        dtype = problem.input.dtype
        parameters = self.init(network_key(key))
        cast = lambda leaf: leaf.astype(dtype) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) else leaf  # noqa: E731
        return self, jax.tree.map(cast, parameters)

    def features(self, parameters: PyTree, input: Float[Array, " d"]) -> Float[Array, " s"]:
        """The state recorded at checkpoints: a vector whose distances are distances between the
        parameters. Default: all parameters, flattened (`p` numbers)."""
        return _flat(parameters)

    def parameters_from_features(
        self, features: Array, initial_features: Array, initial_parameters: PyTree, input: Float[Array, " d"]
    ) -> PyTree:
        """The literal parameters `θ` whose recorded state is `features` (inverse of `features` on
        the set the dynamics move in)."""
        return jax.flatten_util.ravel_pytree(initial_parameters)[1](features)

    def kernel_checkpoints(self, requested: int, implementation: str) -> int | None:
        """At how many checkpoints the state is recorded for the kernels computed by
        `implementation`, `requested` (`Config.ntk_checkpoints`) asked for; None means every one."""
        return requested

    def largest_observation_eigenvalue(self, problem: Problem, parameters: PyTree) -> Array:
        """`λ_max(H(θ))`, `H = (A J)(A J)ᵀ`: `m` VJPs of `θ ↦ A g(u, θ)` (docs/theory.md §9)."""
        observation_jacobian = jacobian(lambda p: problem.operator @ self.apply(p, problem.input), parameters)
        return jnp.linalg.eigvalsh(observation_jacobian @ observation_jacobian.T)[-1]


class HasReducedDynamics(Network):
    """A network with an exact reduction of its dynamics (docs/theory.md §4, §9): the fast path of
    `parametrization="reduced"` (and of "auto")."""

    @abc.abstractmethod
    def reduced(self, problem: Problem) -> tuple[eqx.Module, PyTree]:
        """The reduced dynamics and its initial state."""


class HasClosedFormKernels(Network):
    """A network whose kernels `K`, `H` have a closed form at a recorded state (docs/theory.md §3,
    §9): `ntk_implementation="closed_form"` (and "auto")."""

    @abc.abstractmethod
    def kernel_probe(self, problem: Problem) -> eqx.Module:
        """The closed form of the kernels at a recorded state (`along(features)`)."""


class HasLipschitzBound(Network):
    """A network with a known bound on the Lipschitz constant of its Jacobian (Lemma 3): Theorem
    2.1's certificate (5) can be evaluated for it (docs/theory.md §5, §9)."""

    @abc.abstractmethod
    def theory_inputs(self, problem: Problem, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
        """The inputs of Theorem 2.1, the Lipschitz bound of the Jacobian included."""


class _TwoLayerShape(Network):
    """What both two-layer networks (4) are made of: sizes `n`, `d`, width `k`, activation `φ`
    (docs/theory.md §2)."""

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d", "k", "activation", "v_law")
    n: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    k: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    @classmethod
    def from_fields(cls, *, n: int, d: int, k: int, activation: str, v_law: str) -> _TwoLayerShape:
        """`v_law` shapes the problem's draw of `V` (`wideDIP._problems.problem`), not the network."""
        return cls(n, d, k, activation)


class TwoLayer(_TwoLayerShape, HasReducedDynamics, HasClosedFormKernels, HasLipschitzBound):
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
        return two_layer_network(parameters, input, self.layer, self.activation)

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

    def largest_observation_eigenvalue(self, problem: Problem, parameters: PyTree) -> Array:
        """`λ_max(B diag(φ'(z(0))²) Bᵀ)` (§3, §4)."""
        mixing = ReducedDynamics.from_problem(problem, self.activation).mixing
        return jnp.linalg.eigvalsh(observation_ntk(mixing, problem.features, self.activation))[-1]

    def theory_inputs(self, problem: Problem, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
        """The realised quantities of one seed that the theorem needs, at `W(0)` (docs/theory.md §5);
        `norm_A` and `sigma_A` are its operator's realised `‖A‖` and `σ_A` (`realised_spectrum`)."""
        dynamics = ReducedDynamics.from_problem(problem, self.activation)
        kernels = KernelProbe(problem.layer, dynamics.mixing, self.activation).extremes(
            problem.features, problem.features
        )
        return {
            "norm_A": norm_A,
            "sigma_A": sigma_A,
            "max_entry": jnp.max(jnp.abs(problem.layer)),
            "min_lambda_K": kernels["min_lambda_K"],
            "min_lambda_H": kernels["min_lambda_H"],
            "max_lambda_H": kernels["max_lambda_H"],
            "initial_error": jnp.linalg.norm(dynamics.residual(problem.features)),
            "network_norm": jnp.linalg.norm(signal_from_features(problem.features, problem.layer, self.activation)),
            "observation_norm": jnp.linalg.norm(problem.observation),
            "noise_norm": jnp.linalg.norm(problem.observation - problem.clean_observation),
        }


class FullDynamics(GenericDynamics):
    """The generic path on the paper's network: the loss (2) as a function of the whole
    `W ∈ R^{k×d}`, gradients by `jax.grad`, exactly as the paper writes the model."""

    @classmethod
    def from_problem(cls, problem: Problem, activation_name: str) -> FullDynamics:
        """`TwoLayer` with `φ = activation_name` on one seed's `problem` (its sizes and its `V`)."""
        (n, k), (d,) = problem.layer.shape, problem.input.shape
        two_layer = TwoLayer(n, d, k, activation_name, problem.layer)
        return cls(two_layer, problem.operator, problem.input, problem.observation)

    @staticmethod
    def initial_parameters(key: PRNGKeyArray, problem: Problem) -> Float[Array, "k d"]:
        return initial_weights(key, problem)


class TwoLayerBoth(_TwoLayerShape, HasReducedDynamics, HasClosedFormKernels):
    """`g(u, (W, V)) = V φ(W u)/√k` with both layers trained, `θ = (W, V)` (docs/theory.md §9).
    `W(0)`, `V(0)` are the paper's draws. Fast path: the exact reduction to `(z, V)`, `O(m n + n k)`
    per step, no `d`; closed-form kernels `K = V diag(φ'²) Vᵀ/k + (‖φ(z)‖²/k) I_n`. No bound on
    `Lip(J)` is known (the `W`-block multiplies the trained `V`), so no certificate (5)."""

    @property
    def name(self) -> str:
        return "two_layer_both"

    def init(self, key: PRNGKeyArray) -> tuple[Array, Array]:
        """Fresh iid N(0,1) `W`, `V` (the engine takes them from the problem's draws instead)."""
        flat = jax.random.normal(key, (self.k * self.d + self.n * self.k,))
        return flat[: self.k * self.d].reshape(self.k, self.d), flat[self.k * self.d :].reshape(self.n, self.k)

    def apply(self, parameters: tuple[Array, Array], input: Array) -> Array:
        weights, layer = parameters
        return two_layer_network(weights, input, layer, self.activation)

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[TwoLayerBoth, tuple]:
        return self, (initial_weights(key, problem), problem.layer)

    def features(self, parameters: tuple[Array, Array], input: Array) -> Array:
        """`(z, V)` with `z = W u`, flattened: `k + n k` numbers."""
        weights, layer = parameters
        return jnp.concatenate([weights @ input, layer.ravel()])

    def parameters_from_features(self, features, initial_features, initial_parameters, input):
        z, z0 = features[: self.k], initial_features[: self.k]
        return initial_parameters[0] + jnp.outer(z - z0, input), features[self.k :].reshape(self.n, self.k)

    def reduced(self, problem: Problem) -> tuple[ReducedBothDynamics, tuple[Array, Array]]:
        return (
            ReducedBothDynamics(problem.operator, problem.observation, self.activation),
            (problem.features, problem.layer),
        )

    def kernel_probe(self, problem: Problem) -> BothKernelProbe:
        return BothKernelProbe(problem.operator, self.k, self.activation)

    def largest_observation_eigenvalue(self, problem: Problem, parameters: PyTree) -> Array:
        features = jnp.concatenate([problem.features, problem.layer.ravel()])
        return self.kernel_probe(problem).extremes(features, features)["max_lambda_H"]


class MLP(Network):
    """NTK-parametrised multilayer perceptron (docs/theory.md §9), every layer trained:
    `h_1 = W_1 u`, `h_{l+1} = W_{l+1} φ(h_l)/√k_l`, `g = W_L φ(h_{L−1})/√k_{L−1}`, hidden widths
    `hidden + (k,)`, all weights iid N(0,1) at initialisation (from the seed's network stream).
    `θ` is the tuple `(W_1, …, W_L)`."""

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d", "k", "hidden", "activation")
    n: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    widths: tuple[int, ...] = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    @classmethod
    def from_fields(cls, *, n: int, d: int, k: int, hidden: tuple[int, ...], activation: str) -> MLP:
        """Hidden widths `hidden + (k,)`."""
        return cls(n, d, tuple(hidden) + (k,), activation)

    @property
    def name(self) -> str:
        return "mlp"

    @property
    def description(self) -> str:
        return f"mlp {' x '.join(map(str, (self.d,) + self.widths + (self.n,)))} {self.activation}"

    @property
    def shapes(self) -> list[tuple[int, int]]:
        sizes = (self.d,) + self.widths + (self.n,)
        return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]

    def init(self, key: PRNGKeyArray) -> tuple[Array, ...]:
        """All weights from one `jax.random.normal` call, layer after layer in row-major order
        (one threefry kernel to compile, not one per layer)."""
        sizes = [rows * columns for rows, columns in self.shapes]
        flat = jax.random.normal(key, (sum(sizes),))
        blocks = jnp.split(flat, list(itertools.accumulate(sizes))[:-1])
        return tuple(block.reshape(shape) for block, shape in zip(blocks, self.shapes))

    def apply(self, parameters: tuple[Array, ...], input: Array) -> Array:
        phi = activation(self.activation).function
        hidden = parameters[0] @ input
        for weights in parameters[1:]:
            hidden = weights @ phi(hidden) / jnp.sqrt(weights.shape[1])
        return hidden


class FunctionNetwork(Network):
    """A network from two plain functions: `init(key) -> θ` (any pytree of arrays) and
    `apply(θ, u) -> x ∈ R^n`, with `u ∈ R^d` the fixed input. Trained on its literal parameters
    (`jax.grad`), its NTK from its Jacobian (docs/theory.md §9); `init` gets the seed's own network
    key (`network_key`), so the problem's draws are those of every other network."""

    init_function: Callable[[PRNGKeyArray], PyTree] = eqx.field(static=True)
    apply_function: Callable[[PyTree, Array], Array] = eqx.field(static=True)
    label: str = eqx.field(static=True)

    def __init__(
        self, init: Callable[[PRNGKeyArray], PyTree], apply: Callable[[PyTree, Array], Array], name: str | None = None
    ):
        for what, function in (("init", init), ("apply", apply)):
            if not callable(function):
                raise ValueError(f"FunctionNetwork: {what} must be a function, got {type(function).__name__}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"FunctionNetwork: name must be a non-empty string, got {name!r}")
        self.init_function = init
        self.apply_function = apply
        self.label = name or getattr(apply, "__qualname__", None) or "network"

    @property
    def name(self) -> str:
        return self.label

    @property
    def recorded_repr(self) -> str:
        def spelled(function):
            return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"

        return f"FunctionNetwork(init={spelled(self.init_function)}, apply={spelled(self.apply_function)}, name={self.label!r})"

    def init(self, key: PRNGKeyArray) -> PyTree:
        return self.init_function(key)

    def apply(self, parameters: PyTree, input: Array) -> Array:
        return self.apply_function(parameters, input)


NETWORKS: dict[str, type[Network]] = {
    "two_layer": TwoLayer,
    "two_layer_both": TwoLayerBoth,
    "mlp": MLP,
}
"""The network classes by `Config.network` name, each built from its `config_fields` by `from_fields`:
adding a network is adding an entry here."""


def _capable(network: Network | type[Network], capability: type[Network]) -> bool:
    """Whether `network` (an instance or a class: no array is built) declares `capability`."""
    return issubclass(network if isinstance(network, type) else type(network), capability)


def parametrization_for(requested: str, network: Network | type[Network], name: str) -> str:
    """ "full" (the generic path) or "reduced" (the network's exact fast path) for `requested`
    (`Config.parametrization`) and `network` (an instance or a class) called `name`; "auto" is the
    fast path where one exists. A `ValueError` naming the field when "reduced" has none."""
    reducible = _capable(network, HasReducedDynamics)
    if requested == "reduced" and not reducible:
        raise ValueError(
            f"Config.parametrization='reduced' needs a network with an exact reduced dynamics "
            f"(docs/theory.md §4, §9); network {name!r} has none: use 'full' or 'auto'"
        )
    if requested == "auto":
        return "reduced" if reducible else "full"
    return requested


def ntk_implementation_for(requested: str, network: Network | type[Network], name: str) -> str:
    """ "closed_form" or "jacobian" for `requested` (`Config.ntk_implementation`) and `network`
    (an instance or a class) called `name`; "auto" is the closed form where one exists."""
    closed_form = _capable(network, HasClosedFormKernels)
    if requested == NtkImplementation.CLOSED_FORM and not closed_form:
        raise ValueError(
            f"Config.ntk_implementation='closed_form' needs a network with closed-form kernels; "
            f"network {name!r} has none: use 'jacobian' or 'auto'"
        )
    if requested == NtkImplementation.AUTO:
        return (NtkImplementation.CLOSED_FORM if closed_form else NtkImplementation.JACOBIAN).value
    return NtkImplementation(requested).value


def describe(network: Network, problem: Problem) -> dict[str, Any]:
    """Name, description and parameter count of `network`, checking abstractly (no computation)
    that it maps the input `u ∈ R^d` of `problem` (real arrays or their shapes: `jax.eval_shape`)
    to `x ∈ R^n`; a `ValueError` otherwise."""
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


def recorded_config_fields(record: Mapping[str, Any] | None, network_name: str) -> tuple[str, ...]:
    """The `Config` fields read by the network a result records (`describe`'s dict; None: the
    network of `NETWORKS` called `network_name`, `Config.network`): as recorded, else (a record
    saved before they were) those of the registered network of its name, else those of any
    network (`n`, `d`)."""
    if record is None:
        return NETWORKS[network_name].config_fields
    if "config_fields" in record:
        return tuple(record["config_fields"])
    return NETWORKS.get(record["name"], Network).config_fields
