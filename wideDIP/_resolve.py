"""Resolution: the one step where a `Config` (the flat, saved, sweepable form of an experiment)
becomes components — the problem's law, the network, the dynamics and its stopping rule
(docs/layout.md). Nothing after this step reads a `Config`'s fields."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from ._config import Config, parametrization_of
from ._dynamics.base import AbstractDynamics, DiscreteDynamics
from ._dynamics.registry import dynamics_class
from ._integrate.discrete import StoppingRule
from ._integrate.outcomes import DIVERGENCE_FACTOR
from ._networks.base import Network, describe
from ._networks.registry import NETWORKS, ntk_implementation_for
from ._operators.base import Operator
from ._operators.registry import OPERATORS
from ._problems.problem import Problem, ProblemLaw
from ._problems.problem import initial_weights as _initial_weights
from ._problems.problem import seed_keys as _seed_keys
from ._signals.base import StructuredSignal
from ._signals.registry import SIGNALS

T = TypeVar("T", bound=Any)


def from_config(component: type[T], config: Config) -> T:
    """The registered `component` class built from the `Config` fields it names (`config_fields`)."""
    return component.from_fields(**{name: getattr(config, name) for name in component.config_fields})


def _require_config(config: object, caller: str) -> None:
    if not isinstance(config, Config):
        raise ValueError(f"{caller} expects a wideDIP.Config as config, got {type(config).__name__}")


def operator_of(config: Config) -> Operator:
    """The operator component of `config` (`OPERATORS`), its numbers as the config's floats: to
    describe it (`describe`, `spectrum`); a custom one without its matrix."""
    return from_config(OPERATORS[config.operator], config)


def checked_matrix(config: Config, matrix: Any) -> np.ndarray | None:
    """`matrix` as float64 (C order) after checking it suits `config`'s operator (a ValueError
    otherwise); None when there is none."""
    return OPERATORS[config.operator].checked_matrix(config.m, config.n, matrix)


def problem_law(config: Config, matrix: np.ndarray | None = None) -> ProblemLaw:
    """The law of `config`'s draws (docs/theory.md §1, §6, §8), its numbers (the operator's, the
    noise level) and the custom `matrix` (from `checked_matrix`) as arrays of `config.dtype`
    (call inside `precision(config)`)."""
    operator = operator_of(config)
    if matrix is not None:
        operator = dataclasses.replace(operator, matrix=matrix)
    law = ProblemLaw(
        d=config.d,
        k=config.k,
        dtype=config.dtype,
        v_law=config.v_law,
        operator=operator,
        signal=from_config(SIGNALS[config.signal], config),
        noise=config.noise,
        signal_norm=config.signal_norm,
    )
    law = jax.tree.map(lambda leaf: jnp.asarray(leaf, jnp.dtype(config.dtype)), law)
    for what, shape in (("operator", (config.m, config.n)), ("signal", (config.n,))):
        _check_draw(what, getattr(law, what), shape, config.dtype)
    return law


def _check_draw(what: str, component: Any, shape: tuple[int, ...], dtype: str) -> None:
    """A `ValueError` naming the `Config` field when `component.draw` fails on, or does not return,
    an array of `shape` (checked abstractly: nothing is computed)."""
    block = jax.ShapeDtypeStruct(shape, jnp.dtype(dtype))
    try:
        drawn = jax.eval_shape(component.draw, jax.random.PRNGKey(0), block)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(f"Config.{what}={component.name!r}: its draw fails: {type(error).__name__}: {error}") from None
    if getattr(drawn, "shape", None) != shape:
        got = getattr(drawn, "shape", type(drawn).__name__)
        raise ValueError(f"Config.{what}={component.name!r} must draw an array of shape {shape}, got {got}")


def is_structured(config: Config) -> bool:
    """Whether `config.signal` is a structured signal (`StructuredSignal`: its PSNR is reported, docs/theory.md §12)."""
    return issubclass(SIGNALS[config.signal], StructuredSignal)


def has_ssim(config: Config) -> bool:
    """Whether a run of `config` reports the SSIM: a structured image (`side` set)."""
    return config.side is not None and is_structured(config)


def seed_keys(config: Config) -> PRNGKeyArray:
    """Keys of the runs: run `i` gets `fold_in(PRNGKey(config.seed), i)`, whatever `config.seeds` is."""
    _require_config(config, "seed_keys")
    return _seed_keys(config.seed, config.seeds)


def draw_problem(config: Config, key: PRNGKeyArray, operator: Array | np.ndarray | None = None) -> Problem:
    """One run's draws (docs/theory.md §1, §2, §6): `A` (`config.operator`, docs/theory.md §8; for
    "custom", the matrix `operator`), `x̄`, `y = A x̄ + ε` with `ε` projected onto Im(A), `V`,
    `u` uniform on S^{d-1} (A-1), and `W(0) u ~ N(0, I_k)` (A-2)."""
    _require_config(config, "draw_problem")
    return problem_law(config, checked_matrix(config, operator)).draw(key)


def initial_weights(config: Config, key: PRNGKeyArray, problem: Problem) -> Float[Array, "k d"]:
    """`W(0) = z(0) uᵀ + G (I − u uᵀ)` with `G` iid N(0,1): iid N(0,1) entries (A-2) and
    `W(0) u = z(0)` exactly, so `full` and `reduced` start from the same point."""
    _require_config(config, "initial_weights")
    return _initial_weights(key, problem)


def builtin_network(config: Config) -> Network:
    """The network of `config.network` (`NETWORKS`), built from the fields it reads."""
    return from_config(NETWORKS[config.network], config)


def resolved_parametrization(config: Config, network: Network) -> str:
    """ "full" (the generic path) or "reduced" (the network's exact fast path) of `config` for
    `network`; "auto" is the fast path where one exists. A `ValueError` naming the field when
    "reduced" has none."""
    return parametrization_of(config, network)


def resolved_ntk_implementation(config: Config, network: Network) -> str:
    """ "closed_form" or "jacobian" of `config` for `network`; "auto" is the closed form where one exists."""
    return ntk_implementation_for(config.ntk_implementation, network, network.name)


def resolve_network(config: Config, network: Network | None, caller: str) -> Network:
    """The network `caller` trains: `network` if given (checked), else the built-in of
    `config.network`; a `ValueError` for anything that is not a `Network`, for a network given
    together with a non-default `Config.network`, and for incompatible settings."""
    if network is None:
        network = builtin_network(config)
    elif not isinstance(network, Network):
        hint = " (wrap plain functions as wideDIP.FunctionNetwork(init, apply))" if callable(network) else ""
        raise ValueError(f"{caller}: network must be a wideDIP.Network{hint}, got {type(network).__name__}")
    elif config.network != "two_layer" or config.hidden:
        raise ValueError(
            f"{caller}: network= replaces Config.network; leave Config.network and Config.hidden at "
            f"their defaults (got network={config.network!r}, hidden={config.hidden!r})"
        )
    resolved_parametrization(config, network)
    resolved_ntk_implementation(config, network)
    return network


def network_description(config: Config, network: Network) -> dict[str, Any]:
    """`describe` of `network` on the problem shapes of `config` (`jax.eval_shape`: nothing is
    drawn), whatever the operator (a custom one's matrix is not needed)."""
    shapes = config.replace(operator="gaussian")
    return describe(network, jax.eval_shape(functools.partial(draw_problem, shapes), jax.random.PRNGKey(0)))


def resolve_dynamics(config: Config) -> AbstractDynamics:
    """The dynamics of `config.method` (`DYNAMICS`; under "descent", of `config.optimizer`:
    `OPTIMIZERS`), built from the fields it reads."""
    method = from_config(dynamics_class(config.method, config.optimizer), config)
    if isinstance(method, DiscreteDynamics) and not isinstance(method.transformation(), optax.GradientTransformation):
        raise ValueError(
            f"Config.method={config.method!r}: {type(method).__name__}.transformation() must return an "
            f"optax.GradientTransformation, got {type(method.transformation()).__name__}"
        )
    return method


def is_discrete(config: Config) -> bool:
    """Whether `config.method` is a discrete dynamics (iterations of a step size), not an ODE."""
    return issubclass(dynamics_class(config.method, config.optimizer), DiscreteDynamics)


def stopping_rule(config: Config) -> StoppingRule:
    """When a seed stops (docs/theory.md §6): at `threshold` (unless `stop_at_threshold` is off) or
    at divergence (`DIVERGENCE_FACTOR`)."""
    return StoppingRule(
        np.asarray(config.threshold, np.float64),
        np.asarray(DIVERGENCE_FACTOR, np.float64),
        np.asarray(config.stop_at_threshold),
    )
