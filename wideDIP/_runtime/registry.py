"""Registries of components by name (docs/extending.md)."""

from __future__ import annotations

import inspect


class Registry(dict):
    """`{name: component class}`: registering anything but a concrete subclass of `base` under its own
    name (its class attribute `key`), or over a built-in name, is a `ValueError` naming the registry,
    the name and the fault."""

    def __init__(self, title: str, base: type, members: dict[str, type], key: str = "name"):
        super().__init__()
        self.title, self.base, self.key, self.builtin = title, base, key, ()
        for name, member in members.items():
            self[name] = member
        self.builtin = tuple(members)

    def __setitem__(self, name: str, member: type) -> None:
        where = f"wideDIP.{self.title}[{name!r}]"
        if name in self.builtin:
            raise ValueError(f"{where} is built in: register a component of your own under another name")
        if not (isinstance(member, type) and issubclass(member, self.base)):
            raise ValueError(f"{where} must be a subclass of wideDIP.{self.base.__name__} (the class), got {member!r}")
        own = getattr(member, self.key, None)
        if isinstance(own, str) and own != name:
            raise ValueError(f"{where}: {member.__name__}.{self.key} is {own!r}: register it under its {self.key}")
        if inspect.isabstract(member):
            missing = ", ".join(sorted(member.__abstractmethods__))
            raise ValueError(f"{where}: {member.__name__} does not define {missing}")
        super().__setitem__(name, member)
