import math
import re

import pytest

import wideDIP
from wideDIP import Config
from wideDIP._config import descent_of, switched


def test_defaults_are_the_papers_protocol():
    config = Config()
    assert (config.activation, config.v_law, config.operator_scale) == ("sigmoid", "gaussian", "none")
    assert (config.seeds, config.steps, config.step_size, config.threshold) == (50, 25000, 1.0, 1e-7)
    assert config.noise == 0.0 and config.dtype == "float32"


def test_frozen_hashable_and_replace():
    config = Config(k=20)
    assert hash(config) == hash(Config(k=20))
    assert config.replace(k=30) == Config(k=30)
    assert config.k == 20
    with pytest.raises(AttributeError):
        config.k = 3
    assert Config.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("m", 0, ">= 1"),
        ("n", -3, ">= 1"),
        ("d", 0, ">= 1"),
        ("k", 0, ">= 1"),
        ("k", 2.5, "integer"),
        ("k", True, "integer"),
        ("seeds", 0, ">= 1"),
        ("steps", 0, ">= 1"),
        ("seed", -1, ">= 0"),
        ("step_size", 0.0, "> 0"),
        ("step_size", -1.0, "> 0"),
        ("threshold", 0.0, "> 0"),
        ("noise", -0.1, ">= 0"),
        ("noise", math.nan, "finite"),
        ("step_size", math.nan, "finite"),
        ("threshold", math.inf, "finite"),
        ("activation", "swish", "sigmoid"),
        ("v_law", "cauchy", "rademacher"),
        ("operator_scale", "sqrt_k", "sqrt_n"),
        ("signal", "sparse", "sphere"),
        ("parametrization", "half", "reduced"),
        ("dtype", "float16", "float64"),
        ("step_size", "1", "real number"),
        ("rtol", 0.0, "> 0"),
        ("atol", -1e-9, "> 0"),
        ("t_max", 0.0, "> 0"),
        ("t_max", math.nan, "finite"),
        ("solver", "rk4", "'auto', 'tsit5'"),
        ("method", "adam", "flow"),
        ("max_solver_steps", 0, ">= 1"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(field, value, allowed):
    with pytest.raises(ValueError, match=rf"Config\.{field} must .*") as info:
        Config(**{field: value})
    assert allowed in str(info.value)
    with pytest.raises(ValueError, match=rf"Config\.{field}"):
        Config(method="flow").replace(**{field: value})


def test_t_max_is_for_the_flow_only():
    assert Config(method="flow", t_max=3.0).horizon == 3.0
    assert Config(method="flow").horizon == Config().steps * Config().step_size
    with pytest.raises(ValueError, match=r"Config\.t_max applies to method='flow' or method='inertial_flow' only"):
        Config(t_max=3.0)


@pytest.mark.parametrize(
    "changes, field, why",
    [
        (dict(solver="kvaerno5"), "solver", "applies to method='flow' or method='inertial_flow' only"),
        (dict(rtol=1e-3), "rtol", "applies to method='flow' or method='inertial_flow' only"),
        (dict(atol=1e-3), "atol", "applies to method='flow' or method='inertial_flow' only"),
        (dict(max_solver_steps=10), "max_solver_steps", "applies to method='flow' or method='inertial_flow' only"),
        (dict(method="flow", rtol=5.0), "rtol", "must be < 1"),
        (dict(method="flow", rtol=1.0), "rtol", "must be < 1"),
        (dict(method="flow", solver="euler", rtol=1e-3), "rtol", "applies to the adaptive solvers only"),
        (dict(method="flow", solver="euler", atol=1e-3), "atol", "applies to the adaptive solvers only"),
        (dict(network="mlp", v_law="rademacher"), "v_law", "network='mlp' draws every weight"),
        (dict(ntk_checkpoints=5), "ntk_checkpoints", "applies only when Config.track_ntk is set"),
    ],
)
def test_options_that_would_change_nothing_are_refused(changes, field, why):
    """An option that the run would not use is a one-line error naming it and why."""
    with pytest.raises(ValueError, match=rf"^Config\.{field} .*{re.escape(why)}") as info:
        Config(**changes)
    assert "\n" not in str(info.value)


def test_the_refused_options_apply_where_they_are_used():
    flow = Config(method="flow", solver="kvaerno5", rtol=1e-3, atol=1e-5, max_solver_steps=10, t_max=3.0)
    assert (flow.solver, flow.rtol, flow.atol, flow.max_solver_steps) == ("kvaerno5", 1e-3, 1e-5, 10)
    assert Config(method="flow", solver="euler", max_solver_steps=10).max_solver_steps == 10
    assert Config(network="two_layer_both", v_law="rademacher").v_law == "rademacher"
    assert Config(track_ntk=True, ntk_checkpoints=5).ntk_checkpoints == 5
    descent = descent_of(flow, step_size=0.5)
    assert descent == Config(step_size=0.5)  # the flow's fields back at their defaults


def test_unknown_field_in_replace():
    with pytest.raises(ValueError, match="no field 'width'"):
        Config().replace(width=3)


def test_simulate_rejects_non_config():
    with pytest.raises(ValueError, match="wideDIP.Config"):
        wideDIP.simulate({"k": 3})


def test_auto_resolves_to_reduced():
    assert Config().resolved_parametrization == "reduced"
    assert Config(parametrization="full").resolved_parametrization == "full"


def test_a_saved_config_is_read_with_the_fields_that_applied_to_nothing_at_their_defaults():
    """Files written before such fields were refused still load: under descent the flow's solver and
    tolerances did nothing, so they are read at their defaults; under the flow they are kept."""
    saved = {**Config().to_dict(), "solver": "kvaerno5", "rtol": 1e-3, "ntk_checkpoints": 7}
    with pytest.raises(ValueError, match="solver"):
        Config(**{**saved, "hidden": ()})
    assert Config.from_dict(saved) == Config()
    flow = Config.from_dict({**saved, "method": "flow", "track_ntk": True})
    assert (flow.solver, flow.rtol, flow.ntk_checkpoints) == ("kvaerno5", 1e-3, 7)


def test_switching_the_signal_resets_the_fields_only_the_old_one_read():
    image = Config(signal="image", side=16, crop=0.5, signal_range="unit", operator="identity")
    noise = switched(image, signal="gaussian", signal_norm=2.0)
    assert (noise.crop, noise.signal_range, noise.side, noise.n, noise.m) == (1.0, "native", 16, 256, 256)
    assert switched(image, signal="image", image="coins").crop == 0.5  # still read: kept
    assert switched(Config(signal="piecewise_constant", pieces=3), signal="blocks").pieces == Config.pieces
