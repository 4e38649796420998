"""The words of a sweep's figures and printed tables (docs/theory.md §6): each axis named in
words with its symbol, and every setting that a grid holds fixed, in words."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._config import Config
from .._dynamics.registry import dynamics_class, every_dynamics
from .._networks.base import NETWORK_FIELDS
from .._networks.registry import recorded_config_fields
from .._operators.registry import OPERATORS, operator
from .._resolve import is_discrete, operator_of

AXIS_LABELS = {
    "k": "width k",
    "n": "signal size n",
    "m": "observations m",
    "d": "input size d",
    "condition_number": "condition number κ(A)",
    "blur_width": "blur width w (samples)",
    "noise": "noise σ (std of ε)",
    "step_size": "step size η",
    "steps": "descent steps",
    "t_max": "horizon t_max",
    "threshold": "loss threshold",
    "seeds": "seeds per cell",
    "seed": "root seed",
    "activation": "activation φ",
    "v_law": "law of V's entries",
    "operator": "operator A",
    "operator_scale": "std of A's entries",
    "signal": "law of x̄",
    "method": "method",
    "optimizer": "optimizer",
    "momentum": "momentum μ",
    "b1": "Adam's β₁",
    "b2": "Adam's β₂",
    "eps": "Adam's ε",
    "solver": "flow solver",
    "network": "network",
    "dtype": "precision",
    "rtol": "solver rtol",
    "atol": "solver atol",
}
"""An axis in words, with its symbol (`axis_label` falls back to the field's name)."""

STATISTIC_LABELS = {
    "frequency": "frequency of reaching the threshold",
    "median_final_loss": "median final loss ½‖A g − y‖²",
    "total_steps": "steps run, summed over the seeds",
    "median_stability": "median η·λmax(H(W(0)))  (> 2: beyond descent's stability limit)",
    "median_kappa_A": "median condition number κ(A)",
    "unstable_fraction": "fraction of seeds with η·λmax(H(W(0))) > 2",
    "certified_fraction": "fraction of seeds certified by (5) (Theorem 2.1)",
    "certified_observation_fraction": "fraction of seeds with the observation-space certificate",
    "median_best_signal_error": "median best ‖x(t) − x̄‖/‖x̄‖ along the path",
    "median_final_signal_error": "median final ‖x − x̄‖/‖x̄‖",
    "median_signal_error_at_early_stop": "median ‖x(t) − x̄‖/‖x̄‖ at the early-stopping time T",
    "bound_holds_fraction": "fraction of checked seeds with ‖y(t) − ȳ‖ ≤ 2‖ε‖ after T",
    "bound_checked": "seeds on which ‖y(t) − ȳ‖ ≤ 2‖ε‖ after T was checked",
    "median_final_error_over_noise": "median final ‖A x − ȳ‖ / ‖ε‖",
    "steps_to_threshold": "median steps to the threshold (seeds that reach it)",
    "time_to_threshold": "median time to the threshold (seeds that reach it)",
}
"""Each statistic a sweep figure can draw (docs/theory.md §6, §7), in words: its colour bar's or
y axis' label (the quartile statistics are drawn as their median)."""

_DEFAULTS = Config()
_NTK_ONLY = ("ntk_implementation", "ntk_checkpoints")
_OPERATOR_PARAMETERS = {name for op in OPERATORS.values() for name in op.parameters}
_NETWORKS = {
    "two_layer": "two-layer network (W trained)",
    "two_layer_both": "two-layer network (W and V trained)",
    "mlp": "MLP",
}
_PHRASES: dict[str, Callable[[Config], str]] = {
    "hidden": lambda c: f"hidden widths {', '.join(map(str, c.hidden))} before k",
    "activation": lambda c: f"φ = {c.activation}",
    "v_law": lambda c: f"V: {c.v_law} entries",
    "signal": lambda c: f"x̄: {c.signal}",
    "noise": lambda c: f"noise σ = {c.noise:g}",
    "method": lambda c: dynamics_class(c.method, c.optimizer).title or f"method {c.method}",
    "momentum": lambda c: f"μ = {c.momentum:g}",
    "b1": lambda c: f"β₁ = {c.b1:g}",
    "b2": lambda c: f"β₂ = {c.b2:g}",
    "eps": lambda c: f"ε = {c.eps:g}",
    "step_size": lambda c: f"η = {c.step_size:g}" if is_discrete(c) else f"Euler step {c.step_size:g}",
    "steps": lambda c: f"{c.steps} steps" if is_discrete(c) else f"horizon t = {c.horizon:g}",
    "t_max": lambda c: f"horizon t = {c.t_max:g}",
    "solver": lambda c: f"solver {c.solver}",
    "rtol": lambda c: f"rtol {c.rtol:g}",
    "atol": lambda c: f"atol {c.atol:g}",
    "max_solver_steps": lambda c: f"at most {c.max_solver_steps} solver steps",
    "threshold": lambda c: f"threshold {c.threshold:g}",
    "stop_at_threshold": lambda c: "stops at the threshold" if c.stop_at_threshold else "every seed runs its budget",
    "seeds": lambda c: f"{c.seeds} seeds",
    "seed": lambda c: f"root seed {c.seed}",
    "parametrization": lambda c: f"{c.parametrization} parametrization",
    "dtype": lambda c: c.dtype,
    "track_ntk": lambda c: "NTK tracked" if c.track_ntk else "NTK not tracked",
    "ntk_implementation": lambda c: f"NTK by {c.ntk_implementation}",
    "ntk_checkpoints": lambda c: f"NTK at {c.ntk_checkpoints} checkpoints",
}
"""A field's setting in words (the network's: `network_phrase`); a field without an entry is
written `name = value`."""
_ORDER = {
    "network": True,
    "hidden": False,
    "activation": True,
    "v_law": False,
    "operator": True,
    "signal": False,
    "noise": False,
    "m": True,
    "n": True,
    "d": True,
    "k": True,
    "method": True,
    "optimizer": False,
    "step_size": True,
    "momentum": True,
    "b1": True,
    "b2": True,
    "eps": True,
    "solver": True,
    "rtol": False,
    "atol": False,
    "steps": True,
    "t_max": True,
    "max_solver_steps": False,
    "threshold": True,
    "stop_at_threshold": False,
    "seeds": True,
    "seed": False,
    "parametrization": False,
    "dtype": True,
    "track_ntk": False,
    "ntk_implementation": False,
    "ntk_checkpoints": False,
}
"""The order of the phrases (what is trained, on which problem, how, and how it is counted), and
whether each field is always named when fixed (and relevant: True) or only where it differs from
`Config()` (False)."""


def axis_label(name: str) -> str:
    return AXIS_LABELS.get(name, name)


def described_network(config: Config, network: Mapping[str, Any] | None = None) -> str:
    """The network as summaries and a run's title name it ("network mlp 4 x 8 x 5 x 6 sigmoid (110
    parameters)"); `network` is the result's record (None: the built-in of `config.network`)."""
    if network is None:
        return f"network {config.network}"
    count = f" ({network['parameters']} parameters)" if "parameters" in network else ""
    return f"network {network.get('description', network['name'])}{count}"


def network_phrase(config: Config, network: Mapping[str, Any] | None = None) -> str:
    """The network that ran in words, for captions: a built-in's phrase ("two-layer network (W
    trained)"; its shape is in the other settings), one's own as `described_network` names it."""
    name = config.network if network is None else network["name"]
    return _NETWORKS[name] if name in _NETWORKS else described_network(config, network)


def unused_fields(config: Config, network: Mapping[str, Any] | None = None) -> list[str]:
    """The fields of `NETWORK_FIELDS` that the network `network` (as in `described_network`) does not
    read (`hidden` only where set): left out of labels, named as unused in summaries."""
    read = recorded_config_fields(network, config.network)
    return [name for name in NETWORK_FIELDS if name not in read and (name != "hidden" or config.hidden)]


def unused_note(config: Config, network: Mapping[str, Any] | None = None) -> list[str]:
    """ "unused by this network: k, activation, v_law" for a summary (nothing where every field is read)."""
    unused = unused_fields(config, network)
    if not unused:
        return []
    layout = " (k still changes which input u each seed draws)" if "k" in unused else ""
    return [f"unused by this network: {', '.join(unused)}{layout}"]


def signal_label(config: Config) -> str:
    """`x̄` in words where it is not the default law: the family, the image by name (a user's file by
    its name) with its crop and range, the pieces ("" for the default Gaussian vector)."""
    if config.signal == Config.signal and config.signal_norm is None:
        return ""
    words = [config.signal]
    if config.signal == "image":
        words.append(Path(config.image).name)
    if config.signal == "piecewise_constant":
        words.append(f"{config.pieces} pieces")
    if config.crop != Config.crop:
        words.append(f"crop {config.crop:g}")
    if config.signal_range != Config.signal_range:
        words.append(f"range {config.signal_range}")
    if config.signal_norm is not None:
        words.append(f"‖x̄‖ = {config.signal_norm:g}")
    return "x̄: " + " ".join(words)


def compact_shape(config: Config, network: Mapping[str, Any] | None = None) -> list[str]:
    """`m=… n=…` (with `side × side` for an image) with `d=…` and `k=…`, and the activation, where the
    network reads them (summaries and a run's title)."""
    read = recorded_config_fields(network, config.network)
    image = f" ({config.side}×{config.side})" if config.side is not None else ""
    sizes = f"m={config.m} n={config.n}{image}" + "".join(
        f" {name}={getattr(config, name)}" for name in ("d", "k") if name in read
    )
    return [sizes] + ([config.activation] if "activation" in read else [])


def _relevant(config: Config, name: str, hidden: Collection[str], read: Collection[str]) -> bool:
    """Whether the field `name` changes what `config` simulates (e.g. `rtol` only for the flow, `k`
    only for a network that reads it: `read`)."""
    if name not in ("steps", "step_size") and any(name in cls.config_fields for cls in every_dynamics()):
        return (
            name in dynamics_class(config.method, config.optimizer).config_fields
            and (name != "t_max" or config.t_max is not None)
            and not (name in ("rtol", "atol") and config.solver == "euler")
        )
    if name == "optimizer":  # the method's phrase names it (its title: "heavy ball")
        return False
    if name == "step_size":
        return is_discrete(config) or config.solver == "euler"
    if name == "steps":  # the flow's horizon when t_max is None, which then also depends on η
        return is_discrete(config) or (config.t_max is None and "step_size" not in hidden)
    if name in _NTK_ONLY:
        return config.track_ntk
    if name in _OPERATOR_PARAMETERS:
        return name in operator(config.operator).parameters
    if name in NETWORK_FIELDS:
        return name in read
    return True


def settings(
    config: Config,
    hidden: Collection[str] = (),
    shown: Collection[str] = (),
    operator_sha256: str | None = None,
    network: Mapping[str, Any] | None = None,
) -> list[str]:
    """The settings of `config` in words, in the order `_ORDER`, but those of the fields `hidden` (a
    figure's or table's axes): the key fields, the fields `shown` (a panel's own values) and every
    other field that differs from `Config()`, each where it matters (`_relevant`). The network is the
    one that ran (`network` is the result's record); the operator is one phrase with its parameters
    and the custom matrix's SHA-256."""
    words = []
    read = recorded_config_fields(network, config.network)
    for name in [*_ORDER, *(f.name for f in dataclasses.fields(Config) if f.name not in _ORDER)]:
        value = getattr(config, name)
        if name in hidden or not _relevant(config, name, hidden, read):
            continue
        if name == "network":
            words.append(network_phrase(config, network))
        elif name == "operator":
            parameters = not set(operator(config.operator).parameters) & set(hidden)
            label = config.operator if "operator_scale" in hidden else operator_of(config).describe(parameters)
            words.append(f"A: {label}" + (f" sha256:{operator_sha256[:8]}" if operator_sha256 else ""))
        elif name in ("operator_scale", *_OPERATOR_PARAMETERS) and "operator" not in hidden:
            continue  # in the operator's phrase
        elif name == "method" and "optimizer" in hidden:
            words.append(f"method {config.method}")  # its update rule is an axis
        elif _ORDER.get(name, False) or name in shown or value != getattr(_DEFAULTS, name):
            words.append(_PHRASES[name](config) if name in _PHRASES else f"{name} = {value}")
    return words


def grid_settings(result, hidden: Collection[str], configs: np.ndarray) -> list[str]:
    """The `settings` shared by every one of a sweep `result`'s cells `configs` (in the order of the
    first), but those of the axes `hidden` that take more than one value (an axis with one value is a
    fixed setting, named)."""
    varying = [name for name in hidden if name in result.varying_axes]
    shown = [name for name in result.axes if name not in varying]
    lists = [settings(config, varying, shown, result.operator_sha256, result.network) for config in configs.flat]
    return [words for words in lists[0] if all(words in other for other in lists[1:])]


def wrapped(phrases: list[str], width: int, separator: str = ", ") -> str:
    """`phrases` joined by `separator`, broken into lines of about `width` characters, never
    inside a phrase unless it is longer than a line."""
    lines = [""]
    for phrase in phrases:
        if lines[-1] and len(lines[-1]) + len(separator) + len(phrase) > width:
            lines[-1] += separator.rstrip()
            lines.append("")
        lines[-1] += (separator if lines[-1] else "") + phrase
    # a phrase longer than a line alone is broken at its spaces (it would run off the figure)
    return "\n".join(textwrap.fill(line, width, break_long_words=False) for line in lines)
