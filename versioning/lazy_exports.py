"""Public names of a package imported when first used (PEP 562).

A command line that needs one submodule, or only ``--help``, then does not pay for the whole library at
start-up, while ``from package import Name`` keeps working for every exported name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` for ``package``: ``exports`` maps each public name to the module defining it;
    a name is imported on first access and kept in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
