"""Registries of components by name (docs/extending.md): each name maps to a concrete subclass of
the registry's base class, checked when it is registered."""

from __future__ import annotations

import inspect


class Registry(dict):
    """`{name: component class}`; registering anything but a concrete subclass of `base` is a
    `ValueError` naming the registry, the name and what is missing."""

    def __init__(self, title: str, base: type, members: dict[str, type]):
        super().__init__()
        self.title, self.base = title, base
        for name, member in members.items():
            self[name] = member

    def __setitem__(self, name: str, member: type) -> None:
        where = f"wideDIP.{self.title}[{name!r}]"
        if not (isinstance(member, type) and issubclass(member, self.base)):
            raise ValueError(f"{where} must be a subclass of wideDIP.{self.base.__name__} (the class), got {member!r}")
        missing = sorted(getattr(member, "__abstractmethods__", ())) + sorted(getattr(member, "__abstractvars__", ()))
        if inspect.isabstract(member) or missing:
            raise ValueError(f"{where}: {member.__name__} does not define {', '.join(missing)}")
        super().__setitem__(name, member)
