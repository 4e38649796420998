"""A user's network from two plain functions (docs/theory.md §9)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray, PyTree

from .base import Network


class FunctionNetwork(Network):
    """A network from `init(key) -> θ` (any pytree of arrays, `key` from `network_key`) and
    `apply(θ, u) -> x ∈ R^n`: the generic path and Jacobian kernels (docs/theory.md §9)."""

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
