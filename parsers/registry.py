"""The one registry of parsers, chosen by path pattern and/or content signature.

Adding a format is adding one module, inside one of the ``_PACKAGES`` below, that
decorates its entry point with :func:`register` (plaso's pattern: parsers declare what
they match, the registry picks them).
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from parsers.base import Context, Item

ParseFunc = Callable[[Item, Context], Iterator[object]]

# Packages whose every module is a parser module, imported once by load().
_PACKAGES: tuple[str, ...] = ("parsers.voicemail",)


@dataclass(frozen=True)
class ParserSpec:
    name: str
    func: ParseFunc
    patterns: tuple[str, ...] = ()  # fnmatch over evidence paths (case-sensitive)
    signatures: tuple[bytes, ...] = ()  # prefixes of the content at offset 0
    regex: re.Pattern[str] | None = None

    def matches(self, path: str, head: bytes) -> bool:
        by_path = (not self.patterns) or any(fnmatch.fnmatchcase(path, p) for p in self.patterns)
        by_content = (not self.signatures) or any(head.startswith(s) for s in self.signatures)
        return by_path and by_content


_REGISTRY: dict[str, ParserSpec] = {}


def register(
    name: str, *, patterns: tuple[str, ...] = (), signatures: tuple[bytes, ...] = ()
) -> Callable[[ParseFunc], ParseFunc]:
    if not patterns and not signatures:
        raise ValueError(f"parser {name} must declare patterns or signatures")

    def deco(func: ParseFunc) -> ParseFunc:
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise ValueError(f"parser {name} registered twice")
        _REGISTRY[name] = ParserSpec(name, func, patterns, signatures)
        return func

    return deco


def load() -> list[ParserSpec]:
    for package in _PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda s: s.name)


def parsers_for(path: str, head: bytes) -> list[ParserSpec]:
    return [spec for spec in load() if spec.matches(path, head)]
