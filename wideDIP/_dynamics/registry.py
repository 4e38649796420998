"""The dynamics by `Config.method` name, and the discrete ones that method="descent" runs by
`Config.optimizer` name."""

from __future__ import annotations

from .._runtime.registry import Registry
from .adam import Adam
from .base import AbstractDynamics, DiscreteDynamics
from .descent import GradientDescent
from .flow import GradientFlow
from .heavy_ball import HeavyBall
from .inertial_flow import InertialFlow
from .nesterov import Nesterov

DYNAMICS = Registry(
    "DYNAMICS",
    AbstractDynamics,
    {"descent": GradientDescent, "flow": GradientFlow, "inertial_flow": InertialFlow},
)
"""The dynamics by `Config.method` name: adding one is adding a class here."""

OPTIMIZERS = Registry(
    "OPTIMIZERS",
    DiscreteDynamics,
    {"sgd": GradientDescent, "heavy_ball": HeavyBall, "nesterov": Nesterov, "adam": Adam},
    key="optimizer",
)
"""The update rules of method="descent" by `Config.optimizer` name (docs/theory.md §11)."""


def dynamics_class(method: str, optimizer: str) -> type[AbstractDynamics]:
    """The class that runs `method`: for "descent" (`GradientDescent`'s entry), the rule `optimizer`
    names in `OPTIMIZERS`; else `DYNAMICS[method]`."""
    chosen = DYNAMICS[method]
    return OPTIMIZERS[optimizer] if chosen is GradientDescent else chosen


def dynamics_names() -> tuple[str, ...]:
    """The names `compare_dynamics` takes: every optimizer of method="descent" and every other method."""
    return (*OPTIMIZERS, *(name for name, cls in DYNAMICS.items() if cls is not GradientDescent))


def dynamics_settings(name: str) -> dict[str, str]:
    """The `Config` fields that select the dynamics `name` (of `dynamics_names`)."""
    return {"method": "descent", "optimizer": name} if name in OPTIMIZERS else {"method": name}


def every_dynamics() -> tuple[type[AbstractDynamics], ...]:
    """Every class a method or an optimizer names."""
    return tuple(dict.fromkeys((*DYNAMICS.values(), *OPTIMIZERS.values())))
