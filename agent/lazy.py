"""Names a package loads on first use (PEP 562), so importing the package does not import
every module under it (GS1's parser alone brings ~15 MB of tables).

A package lists where each name lives and hands that to `names_on_first_use`:

    _HOME = {"Checked": "result", "check_plate": "plate"}
    __all__ = list(_HOME)
    __getattr__ = names_on_first_use(__name__, _HOME)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def names_on_first_use(package: str, home: Mapping[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` for `package`: name -> the module under it that holds it."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # the next lookup finds it without coming here
        return value

    return __getattr__
