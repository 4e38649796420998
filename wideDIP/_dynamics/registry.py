"""The dynamics by `Config.method` name."""

from __future__ import annotations

from .._runtime.registry import Registry
from .base import AbstractDynamics
from .descent import GradientDescent
from .flow import GradientFlow

DYNAMICS = Registry("DYNAMICS", AbstractDynamics, {"descent": GradientDescent, "flow": GradientFlow})
"""The dynamics by `Config.method` name: adding one is adding a class here."""
