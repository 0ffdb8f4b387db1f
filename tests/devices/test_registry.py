"""The device registry (agent.config.devices.KINDS): one row per kind, read by the config's
validation and by build_drivers alike."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest

from agent.config import parse
from agent.config.devices import KINDS
from agent.devices.base import Driver
from agent.devices.registry import driver_class
from agent.errors import ConfigError


def _config_model(cls: type) -> type | None:
    """The X of the first `Driver[X]`-style base in the class's ancestry."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            args = get_args(base)
            if args and isinstance(args[0], type):
                return args[0]
    return None


@pytest.mark.parametrize("kind", [k for k, row in KINDS.items() if row.driver is not None])
def test_each_driven_kind_names_a_driver_typed_by_its_config_model(kind):
    cls = driver_class(kind)
    assert issubclass(cls, Driver)
    assert _config_model(cls) is KINDS[kind].model


def test_a_kind_without_a_driver_says_why():
    with pytest.raises(KeyError, match="fed by the PDA app"):
        driver_class("wedge")
    with pytest.raises(KeyError, match="no device kind 'fax'"):
        driver_class("fax")


def test_the_config_knows_exactly_the_registry_kinds():
    for kind in KINDS:
        assert KINDS[kind].kind == kind
    with pytest.raises(ConfigError) as err:
        parse('[node]\nid = "n"\nsite = "s"\nrole = "gate"\n[[devices]]\nkind = "fax"\nname = "f"\n', "n.toml")
    assert f"known: {', '.join(KINDS)}" in str(err.value)


def test_loading_a_config_imports_no_driver():
    code = ("import sys, agent.config, agent.config.devices; "
            "print(sorted(m for m in sys.modules if m.startswith('agent.devices')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
