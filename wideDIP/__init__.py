"""wideDIP: simulate the training of overparametrized Deep Inverse Prior networks (the paper's
two-layer network, and any generator network written in JAX).

The formulas are those of `docs/theory.md`; each module names the section it implements.

Every public name below is re-exported from the private module that defines it, imported on
first use (PEP 562): `import wideDIP` and the `widedip` command start without loading JAX, so
that `--help`, a mistyped option or an early Ctrl-C answer at once. The first public name used
imports `_parallel` first: before JAX starts, it gives JAX one CPU device per core and, when
`WIDEDIP_COORDINATOR` is set, joins the other processes.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "._networks.activations": ("Activation", "activation"),
    "._runtime.cache": ("enable_compilation_cache",),
    "._experiments.compare": ("compare",),
    "._experiments.compare_dynamics": ("compare_dynamics",),
    "._experiments.fitting": ("Fits", "fit_signal_and_noise"),
    "._results.dynamics_comparison": ("DynamicsComparison",),
    "._results.comparison": ("ComparisonResult",),
    "._config": ("Config",),
    "._dynamics.base": ("AbstractDynamics", "ContinuousDynamics", "DiscreteDynamics", "LinearInGradients"),
    "._dynamics.descent": ("GradientDescent",),
    "._dynamics.heavy_ball": ("HeavyBall",),
    "._dynamics.nesterov": ("Nesterov",),
    "._dynamics.adam": ("Adam",),
    "._dynamics.flow": ("GradientFlow",),
    "._dynamics.inertial_flow": ("InertialFlow",),
    "._dynamics.registry": ("DYNAMICS", "OPTIMIZERS"),
    "._networks.losses": ("GenericDynamics", "ReducedBothDynamics", "ReducedDynamics", "network"),
    "._networks.base": ("HasClosedFormKernels", "HasLipschitzBound", "HasReducedDynamics", "Network", "network_key"),
    "._networks.two_layer": ("FullDynamics", "TwoLayer"),
    "._networks.two_layer_both": ("TwoLayerBoth",),
    "._networks.mlp": ("MLP",),
    "._networks.conv_decoder": ("ConvDecoder",),
    "._networks.conv_decoder_1d": ("ConvDecoder1D",),
    "._networks.function": ("FunctionNetwork",),
    "._networks.registry": ("NETWORKS",),
    "._networks.kernel_spectra": ("KernelSpectrum", "kernel_spectrum"),
    "._networks.kernels": ("jacobian", "jacobian_ntk", "network_jacobian", "ntk", "observation_ntk", "signal_ntk"),
    "._operators.base": ("Operator", "matrix_sha256"),
    "._operators.registry": ("OPERATORS", "operator"),
    "._signals.base": ("Signal",),
    "._signals.registry": ("SIGNALS",),
    "._problems.problem": ("Problem",),
    "._resolve": ("draw_problem", "initial_weights", "seed_keys"),
    "._results.load": ("load",),
    "._results.simulation": ("SimulationResult",),
    "._figures.images": ("plot_alignment",),
    "._presets": ("PRESETS", "preset"),
    "._integrate.integrate": ("checkpoint_steps",),
    "._experiments.simulate": ("simulate",),
    "._experiments.sweep": ("sweep",),
    "._results.sweep": ("SweepResult", "load_sweep"),
    "._analysis.theory": ("TheoryReport", "activation_constants", "lemma2_probability", "width_bound"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'wideDIP' has no attribute {name!r}")
    importlib.import_module("._runtime.parallel", __name__)
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value  # later look-ups do not come back here
    return value


def __dir__() -> list[str]:
    """The public names (not this module's own imports)."""
    return sorted(name for name in set(globals()) | set(__all__) if name in __all__ or name.startswith("__"))
