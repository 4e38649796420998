"""The built-in networks by `Config.network` name, and the choices their capabilities decide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._runtime.registry import Registry
from .base import HasClosedFormKernels, HasReducedDynamics, Network
from .conv_decoder import ConvDecoder
from .conv_decoder_1d import ConvDecoder1D
from .kernels import NtkImplementation
from .mlp import MLP
from .two_layer import TwoLayer
from .two_layer_both import TwoLayerBoth

NETWORKS = Registry(
    "NETWORKS",
    Network,
    {
        "two_layer": TwoLayer,
        "two_layer_both": TwoLayerBoth,
        "mlp": MLP,
        "conv_decoder": ConvDecoder,
        "conv_decoder_1d": ConvDecoder1D,
    },
)
"""Adding a network is adding an entry here."""


def _capable(network: Network | type[Network], capability: type[Network]) -> bool:
    """Whether `network` (an instance or a class: no array is built) declares `capability`."""
    return issubclass(network if isinstance(network, type) else type(network), capability)


def parametrization_for(requested: str, network: Network | type[Network], name: str) -> str:
    """ "full" or "reduced" (the exact fast path, docs/theory.md §4) for `Config.parametrization`
    `requested` and `network` (instance or class) called `name`: "auto" is the fast path if any."""
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
    """ "closed_form" or "jacobian" for `Config.ntk_implementation` `requested`: "auto" is the closed form if any."""
    closed_form = _capable(network, HasClosedFormKernels)
    if requested == NtkImplementation.CLOSED_FORM and not closed_form:
        raise ValueError(
            f"Config.ntk_implementation='closed_form' needs a network with closed-form kernels; "
            f"network {name!r} has none: use 'jacobian' or 'auto'"
        )
    if requested == NtkImplementation.AUTO:
        return (NtkImplementation.CLOSED_FORM if closed_form else NtkImplementation.JACOBIAN).value
    return NtkImplementation(requested).value


def recorded_config_fields(record: Mapping[str, Any] | None, network_name: str) -> tuple[str, ...]:
    """The `Config` fields read by the network a result records (`describe`'s dict), else by the
    registered network `network_name` (`record` None), else (a record saved before they were
    recorded) by the registered network of its name, else by any network (`n`, `d`)."""
    if record is None:
        return NETWORKS[network_name].config_fields
    if "config_fields" in record:
        return tuple(record["config_fields"])
    return NETWORKS.get(record["name"], Network).config_fields
