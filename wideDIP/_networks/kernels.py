"""Neural tangent kernels (docs/theory.md §3, §9): through any network's Jacobian, in closed form for
the two-layer networks, and their extreme eigenvalues along a run."""

from __future__ import annotations

import enum
from collections.abc import Callable

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._problems.problem import Problem
from .activations import activation
from .losses import network


class NtkImplementation(enum.StrEnum):
    """How the kernels are computed (`Config.ntk_implementation`): "auto" is the closed form where
    the network has one (`HasClosedFormKernels`), else its Jacobian (docs/theory.md §3, §9)."""

    AUTO = "auto"
    JACOBIAN = "jacobian"
    CLOSED_FORM = "closed_form"


NTK_IMPLEMENTATIONS = tuple(implementation.value for implementation in NtkImplementation)
"""The names of `NtkImplementation`, in order: the values `Config.ntk_implementation` allows."""

KERNEL_STATISTICS = ("min_lambda_K", "min_lambda_H", "max_lambda_H", "jacobian_lipschitz_ratio")
"""The kernels' statistics along a run (`Config.track_ntk`): `λ_min(K)`, `λ_min(H)` on Im(A),
`λ_max(H)`, and the Jacobian's Lipschitz ratio `‖J − J(θ_0)‖₂ / ‖θ − θ_0‖`."""


def kernel_statistics(
    min_signal: Array, observation: Array, n: int, change_norm: Array, distance: Array
) -> dict[str, Array]:
    """`KERNEL_STATISTICS` from `λ_min(K)`, the ascending eigenvalues of `H` (the smallest on Im(A)
    at index `m − n` when `m > n`), `‖J − J(θ_0)‖₂` and `‖θ − θ_0‖` (the ratio NaN at `θ_0`)."""
    smallest = jnp.maximum(observation[max(0, observation.shape[0] - n)], 0.0)
    ratio = jnp.where(distance > 0, change_norm / jnp.where(distance > 0, distance, 1), jnp.nan)
    return dict(zip(KERNEL_STATISTICS, (min_signal, smallest, observation[-1], ratio)))


KERNEL_DRIFTS = ("kernel_drift_K", "kernel_drift_H")
"""The kernels' drift along a run (`Config.track_ntk`): `‖K(θ) − K(θ_0)‖_F / ‖K(θ_0)‖_F` and the
same for `H` (docs/theory.md §3, §11): `O(1/√k)` in lazy training, as the Jacobian's change; for the
two-layer network (4) under descent it falls like `1/k` (`tests/test_observers.py`)."""

TRACKED_STATISTICS = (*KERNEL_STATISTICS, *KERNEL_DRIFTS)
"""Everything the kernels' routes measure at a checkpoint (`along`): a result's `ntk` curves."""


def kernel_drifts(
    signal_change: Float[Array, "n n"], initial_signal: Float[Array, "n n"], operator: Float[Array, "m n"]
) -> dict[str, Array]:
    """`KERNEL_DRIFTS` from `K − K(θ_0)` and `K(θ_0)` (`H − H(θ_0) = A (K − K(θ_0)) Aᵀ`)."""
    observed = (operator @ signal_change @ operator.T, operator @ initial_signal @ operator.T)
    pairs = ((signal_change, initial_signal), observed)
    return dict(zip(KERNEL_DRIFTS, (jnp.linalg.norm(change) / jnp.linalg.norm(initial) for change, initial in pairs)))


def _weighted_gram_norm(factor: Float[Array, "a b"], weights: Float[Array, " b"]) -> Array:
    """`‖F diag(w) Fᵀ‖_F` through the smaller side: the `a × a` matrix, or `wᵀ (G ∘ G) w` with the
    `b × b` Gram matrix `G = Fᵀ F` (independent of `w`: computed once along a run)."""
    if factor.shape[0] <= factor.shape[1]:
        return jnp.linalg.norm((factor * weights) @ factor.T)
    gram = factor.T @ factor
    return jnp.sqrt(jnp.maximum(weights @ (gram * gram) @ weights, 0.0))


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def jacobian(function: Callable[[PyTree], Array], parameters: PyTree, mode: str = "auto") -> Float[Array, "outputs p"]:
    """`∂ function / ∂ parameters` as an `outputs × p` matrix, by `jax.jacfwd` (one JVP per
    parameter) or `jax.jacrev` (one VJP per output); "auto" takes the cheaper for the shape."""
    _choice("mode", mode, ("auto", "forward", "reverse"))
    flat, unflatten = jax.flatten_util.ravel_pytree(parameters)
    outputs = jax.eval_shape(function, parameters).size
    if mode == "auto":
        mode = "reverse" if outputs < flat.size else "forward"
    transform = jax.jacrev if mode == "reverse" else jax.jacfwd
    return transform(lambda p: function(unflatten(p)).ravel())(flat)


def signal_ntk(layer: Float[Array, "n k"], features: Float[Array, " k"], activation_name: str) -> Float[Array, "n n"]:
    """`K = J_g J_gᵀ = V diag(φ'(z)²) Vᵀ / k` with `z = W u`, `‖u‖ = 1` (§3)."""
    scaled = layer * activation(activation_name).derivative(features) / jnp.sqrt(layer.shape[1])
    return scaled @ scaled.T


def observation_ntk(
    mixing: Float[Array, "m k"], features: Float[Array, " k"], activation_name: str
) -> Float[Array, "m m"]:
    """`H = A K Aᵀ = B diag(φ'(z)²) Bᵀ` with `B = A V/√k`, `z = W u` (§3, §4)."""
    scaled = mixing * activation(activation_name).derivative(features)
    return scaled @ scaled.T


def ntk(
    problem: Problem,
    weights: Float[Array, "k d"],
    activation_name: str,
    *,
    space: str = "signal",
    implementation: str = "auto",
) -> Array:
    """The NTK of the two-layer network (4) at `W`: `K` (n×n, "signal") or `H = A K Aᵀ` (m×m); by
    "jacobian" (any network's route, and the oracle) or "closed_form" (§3, also "auto")."""
    _choice("space", space, ("signal", "observation"))
    _choice("implementation", implementation, NTK_IMPLEMENTATIONS)
    if implementation == NtkImplementation.JACOBIAN:
        j = jacobian(lambda w: network(w, problem.input, problem.layer, activation_name), weights)
        if space == "observation":
            j = problem.operator @ j
        return j @ j.T
    features = weights @ problem.input
    if space == "signal":
        return signal_ntk(problem.layer, features, activation_name)
    mixing = problem.operator @ problem.layer / jnp.sqrt(problem.layer.shape[1])
    return observation_ntk(mixing, features, activation_name)


def _gram_eigenvalues(matrix: Float[Array, "a b"]) -> Float[Array, " r"]:
    """The eigenvalues of `M Mᵀ` that can be non-zero, from the smaller Gram matrix."""
    small = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    return jnp.linalg.eigvalsh(small)


def _smallest_signal_eigenvalue(factor: Float[Array, "n p"]) -> Array:
    """`λ_min(F Fᵀ)` of an `n × p` factor `F` of `K`: 0 by rank when `p < n`."""
    signal = _gram_eigenvalues(factor)
    return jnp.maximum(signal[0], 0.0) if factor.shape[0] <= factor.shape[1] else jnp.zeros((), signal.dtype)


def _largest_gram_eigenvalue(matrix: Array) -> Array:
    return jnp.maximum(_gram_eigenvalues(matrix)[-1], 0.0)


class KernelProbe(eqx.Module):
    """The closed-form kernels of the two-layer network (4) from `z(t) = W(t) u` alone (§3, §4)."""

    layer: Float[Array, "n k"]
    mixing: Float[Array, "m k"]
    activation_name: str = eqx.field(static=True)

    def extremes(self, features: Float[Array, " k"], initial_features: Float[Array, " k"]) -> dict[str, Array]:
        """`TRACKED_STATISTICS` at `z` against `z(0)` (§3, §5, §11)."""
        n, k = self.layer.shape
        derivative = activation(self.activation_name).derivative
        min_signal = _smallest_signal_eigenvalue(self.layer * derivative(features) / jnp.sqrt(k))
        observation = jnp.linalg.eigvalsh(observation_ntk(self.mixing, features, self.activation_name))
        change = self.layer * (derivative(features) - derivative(initial_features)) / jnp.sqrt(k)
        change_norm = jnp.sqrt(_largest_gram_eigenvalue(change))
        distance = jnp.linalg.norm(features - initial_features)
        statistics = kernel_statistics(min_signal, observation, n, change_norm, distance)
        # K − K(θ_0) = V diag(φ'(z)² − φ'(z_0)²) Vᵀ/k, H − H(θ_0) = B diag(…) Bᵀ: no difference of rounded kernels
        squared, initial_squared = derivative(features) ** 2, derivative(initial_features) ** 2
        drifts = [
            _weighted_gram_norm(factor, squared - initial_squared) / _weighted_gram_norm(factor, initial_squared)
            for factor in (self.layer / jnp.sqrt(k), self.mixing)
        ]
        return {**statistics, **dict(zip(KERNEL_DRIFTS, drifts))}

    def along(self, features: Float[Array, "checkpoints k"]) -> dict[str, Array]:
        return jax.vmap(lambda z: self.extremes(z, features[0]))(features)


class BothKernelProbe(eqx.Module):
    """Closed-form kernels of the two-layer network with both layers trained (docs/theory.md
    §9), from the recorded state `(z, V)` (flattened): `K = M Mᵀ + c I_n` with
    `M = V diag(φ'(z))/√k`, `c = ‖φ(z)‖²/k`; `H = (A M)(A M)ᵀ + c A Aᵀ`; and, as `J = [M ⊗ uᵀ, I_n ⊗ φ(z)ᵀ/√k]`,
    `‖J(θ) − J(θ_0)‖² = λ_max(ΔM ΔMᵀ) + ‖φ(z) − φ(z_0)‖²/k`, `‖θ − θ_0‖² = ‖z − z_0‖² + ‖V − V_0‖_F²`."""

    operator: Float[Array, "m n"]
    k: int = eqx.field(static=True)
    activation_name: str = eqx.field(static=True)

    def _split(self, features: Array) -> tuple[Array, Array]:
        n = self.operator.shape[1]
        return features[: self.k], features[self.k :].reshape(n, self.k)

    def _factors(self, features: Array) -> tuple[Array, Array]:
        """`M = V diag(φ'(z))/√k` and `c = ‖φ(z)‖²/k` at the state `(z, V)`."""
        phi = activation(self.activation_name)
        z, layer = self._split(features)
        scale = jnp.sqrt(jnp.asarray(self.k, features.dtype))
        return layer * phi.derivative(z) / scale, jnp.sum(phi.function(z) ** 2) / self.k

    def observation_kernel(self, features: Array) -> Float[Array, "m m"]:
        """`H = (A M)(A M)ᵀ + c A Aᵀ` at the state `(z, V)`."""
        mixed, shift = self._factors(features)
        observed = self.operator @ mixed
        return observed @ observed.T + shift * self.operator @ self.operator.T

    def extremes(self, features: Array, initial_features: Array) -> dict[str, Array]:
        """`TRACKED_STATISTICS` at `(z, V)` against `(z_0, V_0)`."""
        phi = activation(self.activation_name)
        (mixed, shift), (initial_mixed, initial_shift) = self._factors(features), self._factors(initial_features)
        observation = jnp.linalg.eigvalsh(self.observation_kernel(features))
        change = mixed - initial_mixed
        outputs_change = phi.function(self._split(features)[0]) - phi.function(self._split(initial_features)[0])
        change_norm = jnp.sqrt(_largest_gram_eigenvalue(change) + jnp.sum(outputs_change**2) / self.k)
        distance = jnp.linalg.norm(features - initial_features)
        n = self.operator.shape[1]
        statistics = kernel_statistics(
            _smallest_signal_eigenvalue(mixed) + shift, observation, n, change_norm, distance
        )
        identity = jnp.eye(n, dtype=features.dtype)
        signal_change = change @ mixed.T + initial_mixed @ change.T + (shift - initial_shift) * identity
        initial_signal = initial_mixed @ initial_mixed.T + initial_shift * identity
        return {**statistics, **kernel_drifts(signal_change, initial_signal, self.operator)}

    def along(self, features: Array) -> dict[str, Array]:
        return jax.vmap(lambda f: self.extremes(f, features[0]))(features)


def network_jacobian(network: eqx.Module, parameters: PyTree, input: Float[Array, " d"]) -> Float[Array, "n p"]:
    """`J = ∂g(u, θ)/∂θ` (`n × p`, `θ` flattened) of a `wideDIP.Network` (docs/theory.md §3, §9)."""
    return jacobian(lambda p: network.apply(p, input), parameters)


def jacobian_ntk(
    network: eqx.Module, parameters: PyTree, input: Float[Array, " d"], operator: Float[Array, "m n"] | None = None
) -> Array:
    """The NTK of any `wideDIP.Network` at `θ` through its Jacobian: `K = J Jᵀ` (n×n), or, with
    `operator`, `H = (A J)(A J)ᵀ` (m×m) (docs/theory.md §3, §9)."""
    j = network_jacobian(network, parameters, input)
    if operator is not None:
        j = operator @ j
    return j @ j.T


def jacobian_extremes(
    j: Float[Array, "n p"],
    initial_j: Float[Array, "n p"],
    operator: Float[Array, "m n"],
    distance: Array,
    initial_kernel: Float[Array, "n n"] | None = None,
) -> dict[str, Array]:
    """`TRACKED_STATISTICS` from the Jacobians `J`, `J(θ_0)` (docs/theory.md §3, §9); `initial_kernel`:
    `K(θ_0) = J(θ_0) J(θ_0)ᵀ` where already known (computed once along a run)."""
    observed = operator @ j
    observation = jnp.linalg.eigvalsh(observed @ observed.T)
    change = j - initial_j
    change_norm = jnp.sqrt(_largest_gram_eigenvalue(change))
    statistics = kernel_statistics(
        _smallest_signal_eigenvalue(j), observation, operator.shape[1], change_norm, distance
    )
    # K − K(θ_0) = C + Cᵀ + ΔJ ΔJᵀ with C = J(θ_0) ΔJᵀ: no difference of rounded kernels
    cross = initial_j @ change.T
    initial_kernel = initial_j @ initial_j.T if initial_kernel is None else initial_kernel
    drifts = kernel_drifts(cross + cross.T + change @ change.T, initial_kernel, operator)
    return {**statistics, **drifts}


class JacobianProbe(eqx.Module):
    """Any network's kernels along a run through the Jacobian at its recorded states (docs/theory.md
    §3, §9), one checkpoint after another (`lax.map`: one `n × p` Jacobian at a time)."""

    network: eqx.Module
    """This seed's network (`Network.for_seed`)."""
    initial_parameters: PyTree
    operator: Float[Array, "m n"]
    input: Float[Array, " d"]

    def along(self, features: Float[Array, "checkpoints s"]) -> dict[str, Array]:
        initial = features[0]

        def parameters(f):
            return self.network.parameters_from_features(f, initial, self.initial_parameters, self.input)

        initial_j = network_jacobian(self.network, parameters(initial), self.input)
        initial_kernel = initial_j @ initial_j.T

        def one(f):
            j = network_jacobian(self.network, parameters(f), self.input)
            return jacobian_extremes(j, initial_j, self.operator, jnp.linalg.norm(f - initial), initial_kernel)

        return jax.lax.map(one, features)
