"""Several dynamics from the same draws on one axis: time where every one discretises an ODE
(descent `t = τη`, heavy ball and Nesterov `t = τ√η`, the flows' own time), iterations where one
does not (Adam) (docs/theory.md §1, §11)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._config import Config, refuse_repeats, switched, value_list
from .._dynamics.base import DiscreteDynamics
from .._dynamics.registry import dynamics_class, dynamics_names, dynamics_settings, every_dynamics
from .._networks.base import Network
from .._resolve import from_config
from .._results.dynamics_comparison import DynamicsComparison
from .compare import checked_step_sizes
from .simulate import simulate


def checked_dynamics(dynamics: Sequence[str], what: str = "compare_dynamics: dynamics") -> list[str]:
    """The names in `dynamics`, each once, each of `dynamics_names()`; else a `ValueError` naming `what`."""
    listed = value_list(dynamics, what, "('sgd', 'heavy_ball', 'flow')")
    allowed = dynamics_names()
    for name in listed:
        if name not in allowed:
            raise ValueError(f"{what} must be names from {allowed}, got {name!r}")
    if len(listed) < 2:
        raise ValueError(f"{what} needs at least two dynamics to compare, got {listed!r}")
    refuse_repeats(listed, what)
    return listed


HYPERPARAMETERS = tuple(
    dict.fromkeys(f for cls in every_dynamics() for f in cls.config_fields if f not in ("steps", "step_size", "t_max"))
)
"""The `Config` fields of the dynamics that `compare_dynamics` passes to those that read them."""


def _variant(config: Config, name: str, hyperparameters: dict, **changes) -> Config:
    """`config` run by the dynamics `name`: its selecting fields, the `hyperparameters` it reads and
    `changes` set, the fields it does not read at their defaults (`switched`)."""
    settings = dynamics_settings(name)
    reads = dynamics_class(**{"optimizer": Config.optimizer, **settings}).config_fields
    own = {field: value for field, value in hyperparameters.items() if field in reads}
    return switched(config, **settings, **own, **changes)


def compare_dynamics(
    config: Config,
    dynamics: Sequence[str],
    step_sizes: Sequence[float] | None = None,
    *,
    network: Network | None = None,
    operator: np.ndarray | None = None,
    progress: bool = True,
    **hyperparameters,
) -> DynamicsComparison:
    """Run each of `dynamics` (names of `dynamics_names()`: "sgd", "heavy_ball", "nesterov", "adam",
    "flow", ...) on the draws of `config`, each discrete one once per step size of `step_sizes` (default 1; refused when only ODEs are compared), with
    the hyperparameters `hyperparameters` (`momentum=0.5`, `b1=0.8`, ...: each given to the dynamics that
    read it; the others at their defaults). Where every dynamics has a time axis they
    share the horizon `config.horizon` (`t_max`, else `steps × step_size` of `config`'s method): a
    discrete one runs `round(T / h)` iterations of its time step `h`. Otherwise (Adam) the axis is the
    iteration, every one runs `config.steps` iterations, and an ODE, which has no iterations, is refused."""
    if not isinstance(config, Config):
        raise ValueError(f"compare_dynamics expects a wideDIP.Config, got {type(config).__name__}")
    names = checked_dynamics(dynamics)
    unknown = [field for field in hyperparameters if field not in HYPERPARAMETERS]
    if unknown:
        raise ValueError(
            f"compare_dynamics: {unknown[0]!r} is not a hyperparameter of a dynamics; they are {HYPERPARAMETERS}"
        )
    classes = {name: dynamics_class(**{"optimizer": Config.optimizer, **dynamics_settings(name)}) for name in names}
    for field in hyperparameters:
        if not any(field in cls.config_fields for cls in classes.values()):
            raise ValueError(f"compare_dynamics: {field} applies to none of the dynamics compared ({', '.join(names)})")
    timeless = [name for name, cls in classes.items() if issubclass(cls, DiscreteDynamics) and not cls.has_time_axis]
    continuous = [name for name, cls in classes.items() if not issubclass(cls, DiscreteDynamics)]
    if timeless and continuous:
        raise ValueError(
            f"compare_dynamics: {', '.join(timeless)} has no time axis (its results are per iteration) and "
            f"{', '.join(continuous)} has no iterations: compare them separately"
        )
    discrete = [name for name in names if name not in continuous]
    if step_sizes is not None and not discrete:
        raise ValueError(f"compare_dynamics: step_sizes apply to none of the dynamics compared ({', '.join(names)})")
    step_sizes = checked_step_sizes((1.0,) if step_sizes is None else step_sizes, "compare_dynamics: step_sizes")
    horizon = config.horizon
    runs = []
    for name in names:
        if name in continuous:
            runs.append(_variant(config, name, hyperparameters, t_max=horizon))
            continue
        for eta in step_sizes:
            chosen = _variant(config, name, hyperparameters, step_size=float(eta), t_max=None)
            if not timeless:
                step = float(from_config(classes[name], chosen).time_step)
                chosen = chosen.replace(steps=max(1, int(round(horizon / step))))
            runs.append(chosen)
    results = tuple(simulate(c, network=network, operator=operator, progress=progress) for c in runs)
    return DynamicsComparison(config=config, axis="iteration" if timeless else "time", results=results)
