"""The configuration of one simulated experiment (docs/theory.md §1, §2, §6): a frozen,
hashable, validated record."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._dynamics.base import LinearInGradients
from ._dynamics.flow import SOLVERS
from ._dynamics.registry import DYNAMICS, OPTIMIZERS, dynamics_class, every_dynamics
from ._networks.activations import ACTIVATION_TABLE
from ._networks.base import Network
from ._networks.kernels import NTK_IMPLEMENTATIONS
from ._networks.registry import NETWORKS, ntk_implementation_for, parametrization_for
from ._operators.base import OPERATOR_SCALES
from ._operators.registry import OPERATORS
from ._problems.problem import V_LAWS
from ._runtime.registry import Registry
from ._signals.base import RANGE_INTERVALS
from ._signals.registry import SIGNALS

PARAMETRIZATIONS = ("auto", "full", "reduced")
SIGNAL_RANGES = ("native", *RANGE_INTERVALS)
"""`Config.signal_range`: as drawn, or rescaled onto one of `RANGE_INTERVALS` (docs/theory.md §12)."""
UPSAMPLINGS = ("nearest", "bilinear")
DTYPES = ("float32", "float64")

_CHOICES = {
    "activation": ACTIVATION_TABLE,
    "v_law": V_LAWS,
    "operator_scale": OPERATOR_SCALES,
    "operator": OPERATORS,
    "signal": SIGNALS,
    "parametrization": PARAMETRIZATIONS,
    "dtype": DTYPES,
    "method": DYNAMICS,
    "optimizer": OPTIMIZERS,
    "solver": SOLVERS,
    "ntk_implementation": NTK_IMPLEMENTATIONS,
    "network": NETWORKS,
    "signal_range": SIGNAL_RANGES,
    "upsampling": UPSAMPLINGS,
}
_AT_LEAST_ONE = ((lambda value: value >= 1, "an integer >= 1, got {}"),)
_POSITIVE = ((lambda value: value > 0, "> 0, got {}"),)
_BOUNDS = {
    **dict.fromkeys(
        ("m", "n", "d", "k", "seeds", "steps", "max_solver_steps", "pieces", "decoder_layers"), _AT_LEAST_ONE
    ),
    "side": ((lambda value: 16 <= value <= 64, "from 16 to 64 (an image of side × side pixels, n = side²), got {}"),),
    "crop": ((lambda value: 0 < value <= 1, "in (0, 1] (the fraction of the image's side kept), got {}"),),
    "kernel_size": ((lambda value: value >= 1 and value % 2 == 1, "an odd integer >= 1, got {}"),),
    "ntk_checkpoints": ((lambda value: value >= 2, "an integer >= 2, got {}"),),
    "seed": ((lambda value: value >= 0, "an integer >= 0, got {}"),),
    **dict.fromkeys(("step_size", "threshold", "atol", "t_max", "blur_width"), _POSITIVE),
    "rtol": (*_POSITIVE, (lambda value: value < 1, "< 1 (a tolerance relative to the state's size), got {:g}")),
    "condition_number": ((lambda value: value >= 1, ">= 1, got {}"),),
    "noise": ((lambda value: value >= 0, ">= 0, got {}"),),
    "signal_norm": _POSITIVE,
    "alignment_rank": ((lambda value: value >= 0, "an integer >= 0 (0: no alignment), got {}"),),
    **dict.fromkeys(("momentum", "b1", "b2"), ((lambda value: 0 <= value < 1, "in [0, 1), got {}"),)),
    "eps": _POSITIVE,
    **dict.fromkeys(("damping", "hessian_damping"), ((lambda value: value >= 0, ">= 0, got {}"),)),
}
"""Each numeric field's bounds: (test, what `Config.<field> must be`, formatted with the value)."""
_ADAPTIVE_ONLY = ("rtol", "atol")
_COMPONENTS = {"signal": SIGNALS, "operator": OPERATORS, "network": NETWORKS}
"""The `Config` fields that choose a component, with the registry each chooses from."""
COMPONENT_FIELDS = (
    "side",
    "image",
    "crop",
    "signal_range",
    "pieces",
    "d",
    "decoder_layers",
    "upsampling",
    "kernel_size",
)
"""Fields read by some signals, operators or networks only (`config_fields`): refused unless the
chosen ones read them or they are at their defaults."""
"""The adaptive solvers' tolerances: solver="euler" (a constant step) refuses them unless at their defaults."""


def _unknown_fields_raise_value_error(cls: type) -> type:
    """Make the dataclass constructor refuse unknown or surplus arguments with a `ValueError`
    naming them and the fields (instead of Python's `TypeError`)."""
    generated = cls.__init__
    names = [f.name for f in dataclasses.fields(cls)]

    @functools.wraps(generated)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no field {', '.join(map(repr, unknown))}; fields are {', '.join(names)}"
            )
        if len(args) > len(names):
            raise ValueError(
                f"{cls.__name__} takes at most {len(names)} positional values ({', '.join(names)}), got {len(args)}"
            )
        repeated = sorted(set(names[: len(args)]) & set(kwargs))
        if repeated:
            raise ValueError(f"{cls.__name__}: {', '.join(map(repr, repeated))} given both by position and by name")
        generated(self, *args, **kwargs)

    cls.__init__ = __init__
    return cls


@_unknown_fields_raise_value_error
@dataclasses.dataclass(frozen=True)
class Config:
    """One experiment of docs/theory.md §6: a random problem `y = A x̄ + ε` (§1), the network of
    width `k` with input size `d`, trained on all `seeds` random draws at once. An invalid field, or
    one set where it would change nothing, raises a `ValueError` naming it."""

    m: int = 10
    """Number of observations (rows of `A`)."""
    n: int = 100
    """Signal size (columns of `A`, rows of `V`)."""
    d: int = 500
    """Input size (`u ∈ S^{d-1}`, `W ∈ R^{k×d}`)."""
    k: int = 500
    """Width of the hidden layer."""
    activation: str = "sigmoid"
    """`φ`: sigmoid, tanh, softplus satisfy A-4; relu and identity are allowed but break A-4."""
    v_law: str = "gaussian"
    """Law of the entries of the layer `V` of the two-layer networks, each of unit variance (A-3);
    the networks without such a layer (mlp, the convolutional decoders) refuse any other than the default."""
    operator_scale: str = "none"
    """Entries of `A`: N(0,1) ("none", the paper), N(0,1/n) ("sqrt_n") or N(0,1/m) ("sqrt_m");
    for "conditioned", `‖A‖ = s(√n + √m)` with `s` that standard deviation."""
    operator: str = "gaussian"
    """The forward operator `A` (docs/theory.md §8, §12): "gaussian" (the paper), "conditioned", "identity"
    (denoising), "inpainting" (random samples), "block_inpainting" (an image's centred block missing), "blur",
    "dct" (the last two 2-D when `side` is set), or "custom" (the user's matrix: `simulate(config, operator=A)`)."""
    condition_number: float = 10.0
    """`κ(A)` of the "conditioned" operator (≥ 1)."""
    blur_width: float = 2.0
    """Width `w` in samples of the "blur" operator's Gaussian kernel (> 0)."""
    signal: str = "gaussian"
    """Law of `x̄` (docs/theory.md §1, §12): N(0, I_n), Rademacher entries, uniform on the sphere of
    radius √n; the Donoho–Johnstone test signals "blocks", "bumps", "heavisine", "doppler"; random
    piecewise-constant signals ("piecewise_constant", `pieces`); or an "image" (`image`, `side`)."""
    side: int | None = None
    """The signal is a `side × side` image (16 to 64), `n = side²` (`n` follows when left at its
    default): read by signal="image", the 2-D operators and the 2-D convolutional decoder; None: 1-D."""
    image: str = "camera"
    """signal="image": a shipped image's name (docs/images.md) or the path of a 2-D `.npy` array."""
    crop: float = 1.0
    """signal="image": the centred fraction of the image's side kept before resizing to `side` (0 < crop ≤ 1)."""
    signal_range: str = "native"
    """The deterministic signals (images, Donoho–Johnstone): "native" (as shipped; images in [0, 1]),
    "unit" (rescaled to [0, 1]) or "symmetric" (rescaled to [−1, 1])."""
    pieces: int = 8
    """signal="piecewise_constant": the number of constant pieces, their jumps drawn per seed."""
    signal_norm: float | None = None
    """`x̄` rescaled to this Euclidean norm (None: as drawn); e.g. noise of an image's norm (docs/theory.md §12)."""
    noise: float = 0.0
    """Standard deviation of the entries of `ε` (projected onto Im(A) when m > n, §1)."""
    seeds: int = 50
    """Number of independent random runs, all simulated at once."""
    seed: int = 0
    """Root random seed; run `i` uses `fold_in(PRNGKey(seed), i)`."""
    steps: int = 25000
    """Budget of gradient-descent steps."""
    step_size: float = 1.0
    """The step `η` (the learning rate of `optimizer`); time is `t = step × η` for gradient descent,
    `step × √η` for the heavy ball and Nesterov (docs/theory.md §11); Adam's results are per step."""
    threshold: float = 1e-7
    """A run has converged once its loss `½‖A g − y‖²` (2) is at most this."""
    stop_at_threshold: bool = True
    """Stop each seed when its loss first reaches `threshold` (the paper's protocol); with False every
    seed runs the whole budget (docs/theory.md §7), the first crossing still recorded."""
    parametrization: str = "auto"
    """"full" trains the network's literal parameters by `jax.grad` (any network); "reduced" the
    network's exact fast path (docs/theory.md §4, §9); "auto" picks "reduced" where there is one."""
    dtype: str = "float32"
    """Floating-point precision of the simulation."""
    method: str = "descent"
    """"descent" (discrete training by `optimizer`: what the paper's experiments run), "flow": the
    gradient flow (3), or "inertial_flow": `θ'' + α θ' + β (d/dt)∇L(θ) + ∇L(θ) = 0` with `θ'(0) = 0`
    (`damping` α, `hessian_damping` β; docs/theory.md §11), the two integrated by diffrax."""
    optimizer: str = "sgd"
    """method="descent": the update rule (docs/theory.md §11): "sgd" (gradient descent, the paper's),
    "heavy_ball" (Polyak, `momentum`), "nesterov" (`momentum`), "adam" (`b1`, `b2`, `eps`)."""
    momentum: float = 0.9
    """`μ` of optimizer="heavy_ball" or "nesterov", in [0, 1)."""
    b1: float = 0.9
    """Adam's decay of the first moment, in [0, 1)."""
    b2: float = 0.999
    """Adam's decay of the second moment, in [0, 1)."""
    eps: float = 1e-8
    """Adam's `ε` (> 0)."""
    solver: str = "auto"
    """The solver of the flow or the inertial flow: "auto" (tsit5, a seed it cannot carry to the
    horizon continued by kvaerno5 in float64: docs/theory.md §10), tsit5, dopri5, dopri8 (explicit,
    adaptive), kvaerno5 (implicit, for stiff problems), or euler (constant step `step_size`: for the
    flow, gradient descent)."""
    rtol: float = 1e-6
    """Relative tolerance of the adaptive flow solver (0 < rtol < 1)."""
    atol: float = 1e-8
    """Absolute tolerance of the adaptive flow solver."""
    t_max: float | None = None
    """The horizon of the flow or the inertial flow; None means `steps × step_size`, the time budget
    of descent."""
    max_solver_steps: int = 100_000
    """Flow: at most this many solver steps per seed (then the seed is `solver_failed`); with
    solver="auto", per solver: tsit5's budget, then the stiff continuation's."""
    damping: float = 2.0
    """method="inertial_flow": the viscous damping `α ≥ 0` (2: the critical damping of a mode of `H`
    of eigenvalue 1, docs/theory.md §11)."""
    hessian_damping: float = 0.0
    """method="inertial_flow": the Hessian-driven damping `β ≥ 0` (0: the heavy-ball ODE; it adds
    `βλ` to the damping of the mode of eigenvalue `λ`, docs/theory.md §11)."""
    track_ntk: bool = False
    """Record `λ_min(K)`, `λ_min(H)`, `λ_max(H)` and the Jacobian's Lipschitz ratio at the
    checkpoints (docs/theory.md §3), and evaluate Theorem 2.1 for every seed (§5)."""
    network: str = "two_layer"
    """The generator (docs/theory.md §2, §9): "two_layer", the paper's network (4) (`W` trained);
    "two_layer_both" (`W` and `V` trained); "mlp", an NTK-parametrised perceptron with hidden widths
    `hidden + (k,)`. A network of one's own is passed as `simulate(config, network=...)`."""
    hidden: tuple[int, ...] = ()
    """network="mlp": the widths of the hidden layers before the last one (whose width is `k`)."""
    decoder_layers: int = 3
    """The convolutional decoders: how many times the input tensor is upsampled by 2 (its side is
    `side / 2^decoder_layers`, or its length `n / 2^decoder_layers`)."""
    upsampling: str = "bilinear"
    """The convolutional decoders' fixed upsampling: "nearest" or "bilinear" (docs/theory.md §12)."""
    kernel_size: int = 3
    """The convolutional decoders' (odd) kernel size."""
    ntk_implementation: str = "auto"
    """How `track_ntk` computes the kernels: "closed_form" (the two-layer networks, §3, §9),
    "jacobian" (`jax.jacfwd`/`jax.jacrev` of the network: any network), "auto" = the closed form
    where one exists."""
    alignment_rank: int = 0
    """The alignment of `x̄` with the top-`alignment_rank` eigenvectors of `K(θ(0))`, per seed
    (docs/theory.md §12, by a Krylov method: `K` is never formed); 0: not computed."""
    ntk_checkpoints: int = 20
    """With `track_ntk`: at how many of the checkpoints (evenly spaced, the first and last included)
    the kernels are evaluated when they need the parameters (`p × ntk_checkpoints × seeds` numbers in
    memory): the Jacobian route and the closed form of "two_layer_both"."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            object.__setattr__(self, field.name, _validated(field.name, field.type, value))
        names = {field.name for field in dataclasses.fields(self)}
        for name, registry in _CHOICES.items():
            component = registry[getattr(self, name)] if isinstance(registry, Registry) else None
            unknown = [f for f in getattr(component, "config_fields", ()) if f not in names]
            if unknown:
                raise ValueError(
                    f"Config.{name}={getattr(self, name)!r}: {component.__name__}.config_fields names "
                    f"{', '.join(map(repr, unknown))}, not a Config field"
                )
        self._derive_sizes()
        if self.alignment_rank > self.n:
            raise ValueError(
                f"Config.alignment_rank must be at most n = {self.n} (eigenvectors of the n × n kernel K), "
                f"got {self.alignment_rank}"
            )
        for component in self._components():
            component.validate(**{name: getattr(self, name) for name in component.config_fields})
        self._refuse_unused_fields()
        network = NETWORKS[self.network]  # its class: nothing is built; names the field when it lacks a path
        parametrization_of(self, network)
        ntk_implementation_for(self.ntk_implementation, network, self.network)

    def _components(self) -> tuple[type, ...]:
        """The classes of the chosen signal, operator and network (nothing is built)."""
        return tuple(registry[getattr(self, field)] for field, registry in _COMPONENTS.items())

    def _derive_sizes(self) -> None:
        """`n = side²` for an image left at the default `n`, and `m` where the operator fixes it
        (`Operator.observations`, e.g. the identity's `m = n`) left at the default `m`; a
        `ValueError` naming the field when a size given contradicts them."""
        if self.side is not None:
            if self.n == Config.n:
                object.__setattr__(self, "n", self.side**2)
            elif self.n != self.side**2:
                raise ValueError(
                    f"Config.n must be side² = {self.side**2} for a {self.side} × {self.side} image (Config.side), "
                    f"got n={self.n}: leave n at its default to have it follow side"
                )
        operator = OPERATORS[self.operator]
        fixed = operator.observations(**{name: getattr(self, name) for name in operator.config_fields if name != "m"})
        if fixed is not None:
            if self.m == Config.m:
                object.__setattr__(self, "m", fixed)
            elif self.m != fixed:
                raise ValueError(
                    f"Config.m must be {fixed} for operator={self.operator!r} (it observes every sample: m = n), "
                    f"got m={self.m}: leave m at its default to have it follow n"
                )

    def _refuse_unused_fields(self) -> None:
        """A `ValueError` naming `hidden` set for a network other than the MLP, a field of
        `COMPONENT_FIELDS` that the chosen signal, operator and network do not read, or the first
        field set away from its default where it would change nothing (`_not_applying`)."""
        if self.hidden and self.network != "mlp":
            raise ValueError(f"Config.hidden applies to network='mlp' only (got network={self.network!r})")
        read = {name for component in self._components() for name in component.config_fields}
        for name in COMPONENT_FIELDS:
            if name not in read and _set(self, name):
                readers = [
                    f"{field}={member!r}"
                    for field, registry in _COMPONENTS.items()
                    for member, component in registry.items()
                    if name in component.config_fields
                ]
                raise ValueError(
                    f"Config.{name} applies to {' or '.join(readers) or 'no component'} only: signal={self.signal!r}, "
                    f"operator={self.operator!r} and network={self.network!r} do not read it (got {name}={getattr(self, name)!r})"
                )
        settings = (self.method, self.optimizer, self.solver, self.network, self.track_ntk)
        for name, reason in _not_applying(*settings).items():
            if _set(self, name):
                raise ValueError(f"Config.{name} {reason} (got {name}={getattr(self, name)!r})")

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON values (`hidden` as a list; `from_dict` turns it back into a tuple)."""
        return {**dataclasses.asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """The config saved as `to_dict()`; fields that applied to nothing in its run (`_not_applying`,
        in older files) are read at their defaults."""
        if not isinstance(data, dict):
            raise ValueError(f"Config.from_dict expects a dict of fields, got {type(data).__name__}")
        data = dict(data)
        names = ("method", "optimizer", "solver", "network", "track_ntk")
        settings = [data.get(name, getattr(cls, name)) for name in names]
        for name in _not_applying(*settings):
            data.pop(name, None)
        return cls().replace(**data)

    @property
    def horizon(self) -> float:
        """The time budget: `t_max` for the flow, else `steps` iterations in the dynamics' time
        (`steps × step_size` for gradient descent, `steps × √step_size` for the heavy ball)."""
        if self.t_max is not None:
            return self.t_max
        chosen = dynamics_class(self.method, self.optimizer)
        return float(chosen.from_fields(**{name: getattr(self, name) for name in chosen.config_fields}).horizon)

    @property
    def resolved_parametrization(self) -> str:
        """The parametrization actually simulated with the built-in network ("auto" resolved:
        "reduced" where the network has an exact fast path, else "full")."""
        return parametrization_of(self, NETWORKS[self.network])


def parametrization_of(config: Config, network: Network | type[Network]) -> str:
    """ "full" or "reduced" for `network` (instance or class): its exact fast path where it has one and
    the dynamics keeps it exact (`LinearInGradients`); a `ValueError` when "reduced" is not exact."""
    name = network.name if isinstance(network, Network) else config.network
    dynamics = dynamics_class(config.method, config.optimizer)
    if issubclass(dynamics, LinearInGradients):
        return parametrization_for(config.parametrization, network, name)
    if config.parametrization == "reduced":
        raise reduced_refused(_naming(config))
    return "full"


def reduced_refused(dynamics: str) -> ValueError:
    """The error for `parametrization="reduced"` under `dynamics` (its name in words), whose steps are
    not linear combinations of the gradients: the reduction of docs/theory.md §4 is not exact for it."""
    return ValueError(
        "Config.parametrization='reduced' is exact only for a dynamics whose steps are linear combinations "
        f"of the gradients (wideDIP.LinearInGradients, docs/theory.md §4, §11); {dynamics} is not: "
        "use 'full' or 'auto'"
    )


def _set(config: Config, name: str) -> bool:
    """Whether the field `name` of `config` differs from its default."""
    return getattr(config, name) != getattr(Config, name)


def _naming(config: Config) -> str:
    """The setting that chose `config`'s dynamics: `method=...`, with `optimizer=...` under descent."""
    chosen = dynamics_class(config.method, config.optimizer)
    return f"method={config.method!r}" + (
        f", optimizer={config.optimizer!r}" if getattr(chosen, "optimizer", None) else ""
    )


def _not_applying(method: str, optimizer: str, solver: str, network: str, track_ntk: bool) -> dict[str, str]:
    """The fields that change nothing under these settings, each with why: the other dynamics'
    (`unread_dynamics_fields`), `optimizer` away from method="descent", the tolerances under the
    constant-step Euler solver, `V`'s law for a network that does not read it (the MLP, the
    convolutional decoders: no fixed layer `V`),
    `ntk_checkpoints` without `track_ntk`."""
    reasons = {}
    if method in DYNAMICS and optimizer in OPTIMIZERS:  # `from_dict`'s data is not validated yet
        chosen = dynamics_class(method, optimizer)
        read = chosen.config_fields
        for name in unread_dynamics_fields(method, optimizer):
            readers = [
                f"optimizer={cls.optimizer!r}" if getattr(cls, "optimizer", None) else f"method={cls.name!r}"
                for cls in every_dynamics()
                if name in cls.config_fields
            ]
            reader = f"optimizer={optimizer!r}" if getattr(chosen, "optimizer", None) else f"method={method!r}"
            reasons[name] = f"applies to {' or '.join(readers)} only: {reader} reads {', '.join(read)}"
        if DYNAMICS[method] is not OPTIMIZERS["sgd"]:
            reasons["optimizer"] = f"applies to method='descent' only: method={method!r} is not a choice of optimizer"
        if "solver" in read and solver == "euler":
            adaptive = "applies to the adaptive solvers only: solver='euler' takes constant steps of size `step_size`"
            reasons.update(dict.fromkeys(_ADAPTIVE_ONLY, adaptive))
    if network in NETWORKS and "v_law" not in NETWORKS[network].config_fields:
        reasons["v_law"] = (
            f"applies to the two-layer networks' layer V only: network={network!r} draws every weight itself"
        )
    if not track_ntk:
        reasons["ntk_checkpoints"] = "applies only when Config.track_ntk is set, which tracks the kernels along the run"
    return reasons


def unread_dynamics_fields(method: str, optimizer: str = "sgd") -> tuple[str, ...]:
    """The fields of the other dynamics (`DYNAMICS`, `OPTIMIZERS`) that `method` (under "descent",
    `optimizer`) does not read: it refuses them unless at their defaults (docs/theory.md §10, §11)."""
    read = dynamics_class(method, optimizer).config_fields
    names = {field.name for field in dataclasses.fields(Config)}
    others = (f for other in every_dynamics() for f in other.config_fields if f not in read and f in names)
    return tuple(dict.fromkeys(others))


def switched(config: Config, **changes: Any) -> Config:
    """`config` with `changes`; where they choose another dynamics (`method`, `optimizer`), the fields
    that dynamics does not read (`unread_dynamics_fields`, and `optimizer` away from descent) go back
    to their defaults unless `changes` sets them: a sweep over the update rules gives `momentum` to
    the cells that read it. Sizes that followed others (`n` from `side`, `m` from the operator:
    `Config._derive_sizes`) follow the changed ones: a sweep over `side` changes `n`. Where they choose
    another signal, operator or network, the `COMPONENT_FIELDS` the new ones do not read go back to
    their defaults unless `changes` sets them (an image's `crop` is not carried to a Gaussian signal)."""
    changes = {**_followed_sizes(config, changes), **_unread_component_fields(config, changes), **changes}
    if not {"method", "optimizer"} & changes.keys():
        return config.replace(**changes)
    method, optimizer = changes.get("method", config.method), changes.get("optimizer", config.optimizer)
    if method not in DYNAMICS or optimizer not in OPTIMIZERS:
        return config.replace(**changes)  # refused there, naming the field
    unread = list(unread_dynamics_fields(method, optimizer))
    if DYNAMICS[method] is not OPTIMIZERS["sgd"]:
        unread.append("optimizer")
    return config.replace(**{**{name: getattr(Config, name) for name in unread}, **changes})


def _unread_component_fields(config: Config, changes: dict[str, Any]) -> dict[str, Any]:
    """The `COMPONENT_FIELDS` at their defaults that the signal, operator and network `changes` chooses
    do not read (none when `changes` chooses none of them, or an unknown one: refused by `replace`)."""
    chosen = [(registry, changes[field]) for field, registry in _COMPONENTS.items() if field in changes]
    if not chosen or any(name not in registry for registry, name in chosen):
        return {}
    read = {
        name
        for field, registry in _COMPONENTS.items()
        for name in registry[changes.get(field, getattr(config, field))].config_fields
    }
    return {name: getattr(Config, name) for name in COMPONENT_FIELDS if name not in read}


def _followed_sizes(config: Config, changes: dict[str, Any]) -> dict[str, Any]:
    """`n` and `m` back at their defaults where `config` derived them and `changes` moves what they
    followed without setting them (they are derived anew)."""
    reset = {}
    if "n" not in changes and "side" in changes and config.side is not None and config.n == config.side**2:
        reset["n"] = Config.n
    operator = OPERATORS[config.operator]
    fixed = operator.observations(**{name: getattr(config, name) for name in operator.config_fields if name != "m"})
    if "m" not in changes and fixed == config.m and {"n", "side", "operator"} & (changes.keys() | reset.keys()):
        reset["m"] = Config.m
    return reset


def descent_of(config: Config, **changes: Any) -> Config:
    """`config` as gradient descent (with `changes`): `method="descent"`, `optimizer="sgd"`, the fields
    it does not read at their defaults (`switched`)."""
    return switched(config, **{"method": "descent", "optimizer": "sgd", **changes})


def allowed_values(name: str) -> tuple[str, ...] | None:
    """The values the field `name` may take, read from its registry when asked (an operator added to
    `OPERATORS` is allowed from then on); None for a field without a list of values."""
    return tuple(_CHOICES[name]) if name in _CHOICES else None


def value_list(values: Any, what: str, example: str) -> list[Any]:
    """`values` as a list (from a sequence or 1-D array); else a `ValueError` naming `what`, with `example`."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{what} takes a list of values (e.g. {example}), got {values!r}")
    return list(values)


def refuse_repeats(values: Sequence[Any], what: str) -> None:
    """A `ValueError` naming `what` and the first value that `values` holds twice (a grid would
    compute and draw it twice)."""
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"{what} repeats the value {value!r}: give each value once")


def _validated(name: str, kind: str, value: Any) -> Any:
    if kind == "tuple[int, ...]":
        if (
            isinstance(value, (str, bytes))
            or not isinstance(value, Sequence)
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value)
        ):
            raise ValueError(f"Config.{name} must be a list of integers >= 1 (layer widths), got {value!r}")
        return tuple(int(v) for v in value)
    if name in _CHOICES:
        if not isinstance(value, str) or value not in _CHOICES[name]:
            own = " (or pass a wideDIP.Network to simulate(config, network=...))" if name == "network" else ""
            raise ValueError(f"Config.{name} must be one of {allowed_values(name)}{own}, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise ValueError(f"Config.{name} must be a non-empty string, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"Config.{name} must be True or False, got {value!r}")
        return value
    if kind in ("float | None", "int | None") and value is None:
        return None
    if kind in ("int", "int | None"):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"Config.{name} must be an integer, got {value!r}")
        value = int(value)
    elif kind in ("float", "float | None"):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"Config.{name} must be a real number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"Config.{name} must be finite, got {value}")
    else:
        raise AssertionError(f"unhandled field type {kind!r} for {name}")
    for holds, requirement in _BOUNDS.get(name, ()):
        if not holds(value):
            raise ValueError(f"Config.{name} must be " + requirement.format(value))
    return value
