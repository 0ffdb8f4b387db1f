"""One exception tree (agent/errors.py): every exception class agent/ defines derives from
PortEdgeError and sits under one of the four faults (our bug, the operator, a device, the
platform); public ones are defined in agent/errors.py (the storage faults in agent/storage.py)."""

import importlib
import inspect
import pkgutil

import agent
from agent import errors
from agent.errors import BugError, DeviceError, OperatorError, PlatformError, PortEdgeError

FAULTS = (BugError, OperatorError, DeviceError, PlatformError)
#: where a public exception may be defined besides agent/errors.py
ELSEWHERE = {"agent.storage": {"StorageError", "CorruptDatabase"}}


def _exception_classes():
    for info in pkgutil.walk_packages(agent.__path__, "agent."):
        if info.name.endswith("__main__"):
            continue  # runs a command when imported
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == info.name:
                yield info.name, name, cls


def test_every_exception_in_agent_is_a_port_edge_error_defined_in_errors():
    outside, astray = [], []
    for module, name, cls in _exception_classes():
        if not issubclass(cls, PortEdgeError):
            astray.append(f"{module}.{name}")
        elif module != "agent.errors" and not name.startswith("_") and name not in ELSEWHERE.get(module, ()):
            outside.append(f"{module}.{name}")
    assert astray == [] and outside == []


def test_every_concrete_error_says_who_is_at_fault():
    bases = {PortEdgeError, errors.LocalError, errors.RemoteError, *FAULTS}
    vague = [name for name, cls in vars(errors).items()
             if inspect.isclass(cls) and issubclass(cls, PortEdgeError) and cls not in bases
             and not issubclass(cls, FAULTS)]
    assert vague == []


def test_the_errors_the_issue_named_are_in_the_tree_by_fault():
    from agent.storage import CorruptDatabase

    assert issubclass(errors.IllegalTransition, BugError)
    assert issubclass(errors.TopicError, OperatorError) and issubclass(errors.TopicError, ValueError)
    assert issubclass(CorruptDatabase, OperatorError)
    assert issubclass(errors.PushRejected, DeviceError)
    assert issubclass(errors.CommandExpired, PlatformError)
    # an invalid answer is not a timeout: callers that treat both as "no answer" name both
    assert not issubclass(errors.InvalidAnswerError, TimeoutError)
    assert issubclass(errors.RequestTimeoutError, TimeoutError)
