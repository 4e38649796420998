"""Theorem 2.1 as a calculator and a per-run certificate (docs/theory.md §2, §5), and its
realised quantities for any network (§9)."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._networks.activations import ACTIVATION_TABLE, activation
from .._operators.base import OPERATOR_SCALES, entry_scale
from .._problems.problem import V_LAWS, Problem

CHERNOFF_CONSTANT = (1 - math.log(2)) / 2
"""`c` of Lemma 2 (matrix Chernoff with δ = 1/2)."""


@functools.cache
def activation_constants(name: str, order: int = 200) -> tuple[float, float]:
    """`C_φ = (E φ(X)²)^{1/2}` and `C_φ' = (E φ'(X)²)^{1/2}`, `X ~ N(0,1)`, by Gauss–Hermite
    quadrature with `order` nodes (§2)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / weights.sum()
    phi = activation(name)
    with jax.enable_x64(True):
        x = jnp.asarray(nodes, jnp.float64)
        values = np.asarray(phi.function(x)), np.asarray(phi.derivative(x))
    return tuple(float(np.sqrt(weights @ v**2)) for v in values)


def lemma2_probability(n: int, k: int, activation_name: str, max_entry: float) -> float:
    """Lower bound `1 − n exp(−c k C_φ'² / (n B² D²))` on `P(λ_min(K(W(0))) ≥ C_φ'²/2)` (Lemma 2)."""
    for name, value in (("n", n), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"lemma2_probability: {name} must be an integer >= 1, got {value!r}")
    if isinstance(max_entry, bool) or not isinstance(max_entry, numbers.Real) or not max_entry > 0:
        raise ValueError(f"lemma2_probability: max_entry (D = max |V_ij|) must be a number > 0, got {max_entry!r}")
    bound = activation(activation_name).bound
    if bound is None:
        return math.nan
    _, c_derivative = activation_constants(activation_name)
    return 1 - n * math.exp(-CHERNOFF_CONSTANT * k * c_derivative**2 / (n * bound**2 * max_entry**2))


def _typical_max_entry(v_law: str, n: int, k: int) -> float:
    """`D`: 1 (Rademacher), √3 (uniform), `√(2 ln(2 n k))` (the typical max of `n k` Gaussians)."""
    return {"rademacher": 1.0, "uniform": math.sqrt(3)}.get(v_law) or math.sqrt(2 * math.log(2 * n * k))


def _checked_bound_arguments(n, m, activation_name, operator_scale, v_law, norm_A, sigma_A) -> None:
    """`width_bound`'s arguments, or a ValueError naming the one that is wrong and what is allowed."""
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"width_bound: {name} must be an integer >= 1, got {value!r}")
    for name, value, allowed in (
        ("activation_name", activation_name, tuple(ACTIVATION_TABLE)),
        ("operator_scale", operator_scale, OPERATOR_SCALES),
        ("v_law", v_law, V_LAWS),
    ):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"width_bound: {name} must be one of {allowed}, got {value!r}")
    if (norm_A is None) != (sigma_A is None):
        raise ValueError(
            "width_bound: give both norm_A and sigma_A (the realised ‖A‖ and σ_A), or neither "
            "(the Gaussian ensemble's typical values)"
        )
    for name, value in (("norm_A", norm_A), ("sigma_A", sigma_A)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0
        ):
            raise ValueError(f"width_bound: {name} must be a finite real number > 0, got {value!r}")
    if norm_A is not None and sigma_A > norm_A * (1 + 1e-12):
        raise ValueError(
            f"width_bound: sigma_A must be <= norm_A (σ_A is the smallest non-zero singular value, "
            f"‖A‖ the largest), got sigma_A={sigma_A!r} > norm_A={norm_A!r}"
        )


def width_bound(
    n: int,
    m: int,
    activation_name: str = "sigmoid",
    operator_scale: str = "none",
    v_law: str = "gaussian",
    *,
    norm_A: float | None = None,
    sigma_A: float | None = None,
) -> float:
    """Theorem 2.1(ii): the width above which (5) holds, `k > 64 B² D² n (‖A‖‖g‖ + ‖y‖)² /
    (σ_A² C_φ'⁴)`, with `‖g(u, W(0))‖ ≈ C_φ √n` and, for Gaussian `V`, `D` depending on `k`
    (solved for).

    Without `norm_A`, `sigma_A`: the Gaussian ensemble's typical values, `‖A‖ ≈ s(√n + √m)`,
    `σ_A ≈ s max(|√n − √m|, 1/√max(n, m))` (`s` the entries' std), `‖y‖ ≈ s √(m n)`
    (x̄ ~ N(0, I_n)). With both (any operator, docs/theory.md §8): those values of `‖A‖` and
    `σ_A`, and `‖y‖ ≤ ‖A‖ ‖x̄‖ ≈ ‖A‖ √n`. Invalid arguments raise `ValueError` naming them."""
    _checked_bound_arguments(n, m, activation_name, operator_scale, v_law, norm_A, sigma_A)
    bound = activation(activation_name).bound
    if bound is None:
        return math.inf
    c_phi, c_derivative = activation_constants(activation_name)
    if norm_A is None:
        s = entry_scale(m, n, operator_scale)
        norm_a = s * (math.sqrt(n) + math.sqrt(m))
        sigma_a = s * max(abs(math.sqrt(n) - math.sqrt(m)), 1 / math.sqrt(max(n, m)))
        observation = s * math.sqrt(m * n)
    else:
        norm_a, sigma_a = float(norm_A), float(sigma_A)
        observation = norm_a * math.sqrt(n)
    error = norm_a * c_phi * math.sqrt(n) + observation
    k = 1.0
    for _ in range(50):  # fixed point in k through D(k); converges in a few iterations
        d = _typical_max_entry(v_law, n, max(int(k), 1))
        k = 64 * bound**2 * d**2 * n * error**2 / (sigma_a**2 * c_derivative**4)
    return k


def generic_theory_inputs(problem: Problem, initial_signal: Array, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
    """The realised quantities of one seed that need no kernel, for any network (docs/theory.md
    §9); `D` is not defined (NaN). The kernels at `θ(0)` come from the tracked curves."""
    residual = problem.operator @ initial_signal - problem.observation
    inputs = problem.theory_inputs(initial_signal, residual, norm_A, sigma_A)
    return {**inputs, "max_entry": jnp.full((), jnp.nan, initial_signal.dtype)}


@dataclasses.dataclass(frozen=True, eq=False)
class TheoryReport:
    """Theorem 2.1 evaluated for every seed (arrays over seeds; NaN / False where A-4 fails).

    For a network without a known bound on `Lip(J)` (any but the paper's, docs/theory.md §9) the
    realised `σ_0`, `μ_0`, `‖y(0) − y‖` and rates are reported, `lipschitz_bound`,
    `required_width` and `lemma2_probability` are NaN, and `certified` is None: no certificate is
    evaluated; `measured_lipschitz_ratio` (a lower bound on the local constant) is what there is.
    """

    norm_A: np.ndarray
    sigma_A: np.ndarray
    max_entry: np.ndarray
    """`D = max |V_ij|`, realised."""
    min_lambda_K: np.ndarray
    """`λ_min(K(W(0))) = σ_0²`; 0 when k < n."""
    min_lambda_H: np.ndarray
    """`μ_0 = λ_min(H(W(0)))` on Im(A)."""
    max_lambda_H: np.ndarray
    initial_error: np.ndarray
    """`‖y(0) − y‖`."""
    network_norm: np.ndarray
    observation_norm: np.ndarray
    noise_norm: np.ndarray
    lipschitz_bound: np.ndarray
    """Lemma 3: `Lip(J_g) ≤ B D √(n/k)`."""
    required_width: np.ndarray
    """Theorem 2.1(ii) with this seed's realised `‖A‖, σ_A, D, ‖g(u, W(0))‖, ‖y‖`."""
    lemma2_probability: np.ndarray
    measured_lipschitz_ratio: np.ndarray | None = None
    """Largest `‖J(θ(t)) − J(θ(0))‖ / ‖θ(t) − θ(0)‖` recorded along the run: a lower bound on the
    local Lipschitz constant, never a certificate (docs/theory.md §9)."""
    lipschitz_bound_known: bool = True
    """Whether `lipschitz_bound` is a proven bound (Lemma 3), so that `certified` is evaluated."""

    @property
    def condition_number(self) -> np.ndarray:
        return self.norm_A / self.sigma_A

    @property
    def sigma_0(self) -> np.ndarray:
        return np.sqrt(self.min_lambda_K)

    @property
    def certified(self) -> np.ndarray | None:
        """Hypothesis (5): `‖y(0) − y‖ < σ_A σ_0² / (4 L_J)`; None when no bound `L_J` is known."""
        if not self.lipschitz_bound_known:
            return None
        return self.initial_error < self.sigma_A * self.min_lambda_K / (4 * self.lipschitz_bound)

    @property
    def certified_observation(self) -> np.ndarray | None:
        """§5 observation-space certificate: `‖r(0)‖ < μ_0 / (4 ‖A‖ L_J)`; None when no bound `L_J` is known."""
        if not self.lipschitz_bound_known:
            return None
        return self.initial_error < self.min_lambda_H / (4 * self.norm_A * self.lipschitz_bound)

    @property
    def rate_bound(self) -> np.ndarray:
        """`σ_A² σ_0² / 4`: `‖y(t) − y‖ ≤ exp(−rate t) ‖y(0) − y‖` when (5) holds."""
        return self.sigma_A**2 * self.min_lambda_K / 4

    @property
    def observation_rate_bound(self) -> np.ndarray:
        """`μ_0 / 4`, the rate of the observation-space certificate."""
        return self.min_lambda_H / 4

    @property
    def radius(self) -> np.ndarray:
        """`R = σ_0 / (2 L_J)`."""
        return self.sigma_0 / (2 * self.lipschitz_bound)

    @property
    def travel_bound(self) -> np.ndarray:
        """`R' = 2‖y(0) − y‖ / (σ_A σ_0)`: `‖W(t) − W(0)‖_F ≤ R'` when (5) holds."""
        with np.errstate(divide="ignore"):
            return 2 * self.initial_error / (self.sigma_A * self.sigma_0)

    def _time_to_noise_level(self, rate: np.ndarray) -> np.ndarray:
        """`ln(‖y(0) − y‖/‖ε‖) / rate`, 0 when the start is already within `‖ε‖`, inf where
        there is no noise or the rate is 0 (docs/theory.md §7)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            time = np.maximum(np.log(self.initial_error / self.noise_norm), 0.0) / rate
        return np.where((self.noise_norm > 0) & (rate > 0), time, np.inf)

    @property
    def early_stopping_time(self) -> np.ndarray:
        """(6): `T = 4 ln(‖y(0) − y‖/‖ε‖) / (σ_A² σ_0²)`, after which `‖y(t) − ȳ‖ ≤ 2‖ε‖` when (5)
        holds; inf without noise or when `σ_0 = 0` (k < n), see `early_stopping_reason`."""
        return self._time_to_noise_level(self.rate_bound)

    @property
    def observation_early_stopping_time(self) -> np.ndarray:
        """`T_H = 4 ln(‖y(0) − y‖/‖ε‖) / μ_0`, the same from the observation-space certificate (§5)."""
        return self._time_to_noise_level(self.observation_rate_bound)

    @property
    def early_stopping_reason(self) -> np.ndarray:
        """Per seed, why `T` is infinite ("" where it is finite)."""
        reasons = np.full(self.noise_norm.shape, "", dtype=object)
        reasons[~(self.min_lambda_K > 0)] = "sigma_0 = 0: lambda_min(K(theta(0))) = 0 (k < n, or a singular kernel)"
        reasons[np.isnan(self.min_lambda_K)] = "the kernels at theta(0) are not finite (nor is the network's output)"
        reasons[~(self.noise_norm > 0)] = "no noise: ||epsilon|| = 0"
        return reasons.astype(str)

    def envelope(self, times: np.ndarray) -> np.ndarray:
        """Predicted `‖y(t) − y‖ ≤ exp(−σ_A² σ_0² t / 4) ‖y(0) − y‖`, `[seeds, times]`."""
        return self.initial_error[:, None] * np.exp(-self.rate_bound[:, None] * np.asarray(times)[None, :])

    def to_json(self) -> dict[str, Any]:
        """The fields and the derived quantities (certificates, rates, times) as arrays."""
        derived = (
            "certified",
            "certified_observation",
            "rate_bound",
            "observation_rate_bound",
            "travel_bound",
            "early_stopping_time",
            "observation_early_stopping_time",
            "early_stopping_reason",
        )
        return {**self.to_arrays(), **{name: getattr(self, name) for name in derived}}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            f.name: np.asarray(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TheoryReport:
        """Inverse of `to_arrays` (a result file written before the last two fields existed reads as
        the paper's network)."""
        arrays = dict(arrays)
        if "lipschitz_bound_known" in arrays:
            arrays["lipschitz_bound_known"] = bool(arrays["lipschitz_bound_known"])
        return cls(**arrays)

    @classmethod
    def from_inputs(
        cls,
        inputs: dict[str, np.ndarray],
        n: int,
        k: int,
        activation_name: str,
        *,
        lipschitz_bound_known: bool = True,
        measured_lipschitz_ratio: np.ndarray | None = None,
    ) -> TheoryReport:
        """The report of a network with `n` outputs, width `k` and `φ = activation_name` (the paper's
        Lemma 3 and Theorem 2.1 where `lipschitz_bound_known`) from its seeds' `inputs`."""
        if lipschitz_bound_known:
            bound = activation(activation_name).bound
            bound = math.nan if bound is None else bound
            _, c_derivative = activation_constants(activation_name)
            d = inputs["max_entry"]
            lipschitz = bound * d * math.sqrt(n / k)
            error = inputs["norm_A"] * inputs["network_norm"] + inputs["observation_norm"]
            with np.errstate(divide="ignore"):
                required = 64 * bound**2 * d**2 * n * error**2 / (inputs["sigma_A"] ** 2 * c_derivative**4)
            probability = np.array([lemma2_probability(n, k, activation_name, x) for x in d])
        else:  # no Lemma 3, no Theorem 2.1 (ii), no Lemma 2 for this network
            lipschitz = required = probability = np.full(np.shape(inputs["initial_error"]), np.nan)
        return cls(
            **inputs,
            lipschitz_bound=lipschitz,
            required_width=required,
            lemma2_probability=probability,
            lipschitz_bound_known=lipschitz_bound_known,
            measured_lipschitz_ratio=measured_lipschitz_ratio,
        )
