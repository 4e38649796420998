"""wideDIP: simulate the training of overparametrized Deep Inverse Prior networks (the paper's
two-layer network, and any generator network written in JAX).

The formulas are those of `docs/theory.md`; each module names the section it implements.
"""

__version__ = "0.1.0"

from ._activations import Activation, activation
from ._cache import enable_compilation_cache
from ._compare import ComparisonResult, compare
from ._config import Config
from ._model import FullDynamics, GenericDynamics, ReducedBothDynamics, ReducedDynamics, network
from ._networks import MLP, NETWORKS, FunctionNetwork, Network, TwoLayer, TwoLayerBoth, network_key
from ._ntk import jacobian, jacobian_ntk, network_jacobian, ntk, observation_ntk, signal_ntk
from ._problem import Problem, draw_problem, initial_weights, seed_keys
from ._result import SimulationResult, load
from ._presets import PRESETS, preset
from ._simulate import checkpoint_steps, simulate
from ._sweep import SweepResult, load_sweep, sweep
from ._theory import TheoryReport, activation_constants, lemma2_probability, width_bound

__all__ = [
    "Activation",
    "PRESETS",
    "ComparisonResult",
    "Config",
    "FullDynamics",
    "FunctionNetwork",
    "GenericDynamics",
    "MLP",
    "NETWORKS",
    "Network",
    "Problem",
    "ReducedBothDynamics",
    "ReducedDynamics",
    "SimulationResult",
    "SweepResult",
    "TheoryReport",
    "TwoLayer",
    "TwoLayerBoth",
    "activation",
    "activation_constants",
    "checkpoint_steps",
    "compare",
    "enable_compilation_cache",
    "draw_problem",
    "initial_weights",
    "jacobian",
    "jacobian_ntk",
    "lemma2_probability",
    "load",
    "load_sweep",
    "network",
    "network_jacobian",
    "network_key",
    "ntk",
    "observation_ntk",
    "preset",
    "seed_keys",
    "signal_ntk",
    "simulate",
    "sweep",
    "width_bound",
]
