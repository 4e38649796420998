"""wideDIP: simulate the training of overparametrized two-layer Deep Inverse Prior networks.

The formulas are those of `shared/paper/MATH.md`; each module names the section it implements.
"""

__version__ = "0.1.0"

from ._activations import Activation, activation
from ._cache import enable_compilation_cache
from ._compare import ComparisonResult, compare
from ._config import Config
from ._model import FullDynamics, ReducedDynamics, network
from ._ntk import jacobian, ntk, observation_ntk, signal_ntk
from ._operators import OPERATORS, Operator, matrix_sha256, operator
from ._problem import Problem, draw_problem, initial_weights, seed_keys
from ._result import SimulationResult, load
from ._presets import PRESETS, preset
from ._simulate import checkpoint_steps, simulate
from ._sweep import SweepResult, load_sweep, sweep
from ._theory import TheoryReport, activation_constants, lemma2_probability, width_bound

__all__ = [
    "Activation",
    "OPERATORS",
    "Operator",
    "PRESETS",
    "ComparisonResult",
    "Config",
    "FullDynamics",
    "Problem",
    "ReducedDynamics",
    "SimulationResult",
    "SweepResult",
    "TheoryReport",
    "activation",
    "activation_constants",
    "checkpoint_steps",
    "compare",
    "enable_compilation_cache",
    "draw_problem",
    "initial_weights",
    "jacobian",
    "lemma2_probability",
    "load",
    "load_sweep",
    "matrix_sha256",
    "network",
    "ntk",
    "observation_ntk",
    "operator",
    "preset",
    "seed_keys",
    "signal_ntk",
    "simulate",
    "sweep",
    "width_bound",
]
