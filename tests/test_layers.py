"""The import direction holds: agent/ never imports the app, the simulators or the firmware
stubs, neither by an import statement nor by a module name in a string (importlib). The one
place agent/ names them is the command registry (agent/cli/main.py `COMMANDS`): `sim`, `demo`
and `pda` live above agent/ and are imported by name only when run."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"pda_app", "simulators", "firmware_stubs"}


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:  # module level only: lazy imports inside functions are allowed
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_agent_never_imports_a_layer_above_it():
    offenders = {str(p.relative_to(ROOT)): sorted(_top_level_imports(p) & FORBIDDEN)
                 for p in (ROOT / "agent").rglob("*.py") if _top_level_imports(p) & FORBIDDEN}
    assert offenders == {}


#: a string that names a module above agent/ ("pda_app.core", "simulators.cli:run", ...)
_NAMES_ABOVE = re.compile(r"^(pda_app|simulators|firmware_stubs)(\.\w+)*(:\w+)?$")


def _registry_strings(tree: ast.Module) -> set[int]:
    """ids of the string constants inside the `COMMANDS = {...}` assignment."""
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "COMMANDS" for t in targets) and node.value:
                return {id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant)}
    return set()


def test_agent_names_no_layer_above_it_in_a_string_except_the_command_registry():
    offenders = []
    for path in (ROOT / "agent").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = _registry_strings(tree) if path == ROOT / "agent/cli/main.py" else set()
        offenders += [f"{path.relative_to(ROOT)}:{n.lineno}: {n.value}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)
                      and _NAMES_ABOVE.match(n.value) and id(n) not in allowed]
    assert offenders == []


def test_the_string_check_sees_an_importlib_call():
    tree = ast.parse('import importlib\nimportlib.import_module("pda_app.core")\n')
    assert [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and _NAMES_ABOVE.match(n.value)] == ["pda_app.core"]


def test_the_command_registry_names_pda_and_the_simulators_above_agent():
    from agent.cli.main import COMMANDS

    assert {name: module for name, (module, _help) in COMMANDS.items() if _NAMES_ABOVE.match(module)} == {
        "pda": "pda_app.cli", "sim": "simulators.cli", "demo": "simulators.demo"}


def test_firmware_stubs_use_only_the_agents_codecs_contract_config_and_clock():
    allowed = {"agent.codecs", "agent.contract", "agent.config", "agent.clock", "agent.errors"}
    offenders = {}
    for path in (ROOT / "firmware_stubs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agent"):
                if not any(node.module == a or node.module.startswith(a + ".") for a in allowed):
                    offenders.setdefault(str(path.relative_to(ROOT)), []).append(node.module)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("simulators", "pda_app"):
                offenders.setdefault(str(path.relative_to(ROOT)), []).append(node.module)
    assert offenders == {}


def test_a_gate_station_imports_no_kivy_and_no_simulator():
    import subprocess
    import sys

    code = ("import sys, agent.runtime, agent.cli.main, agent.cli.run; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('kivy', 'simulators', 'pda_app', 'firmware_stubs', 'amqtt')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(name: str, source: str, modules: set[str], package: str) -> set[str]:
    """The modules of `modules` that module `name` imports anywhere in its source: at module
    level, under TYPE_CHECKING and inside functions (a lazy import hides a circle, it does not
    break it). `package` is the package a relative import starts from."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in modules else base)
    return (found & modules) - {name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import path back to its start for every module that is on a circle."""
    circles = []
    for start in sorted(graph):
        seen, paths = {start}, [[start]]
        while paths:
            path = paths.pop()
            for nxt in sorted(graph[path[-1]]):
                if nxt == start:
                    circles.append(path + [start])
                    paths = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    paths.append(path + [nxt])
    return circles


def test_no_module_in_agent_imports_one_that_imports_it_back():
    paths = {_module_name(p): p for p in (ROOT / "agent").rglob("*.py")}
    graph = {name: _imports_of(name, path.read_text(encoding="utf-8"), set(paths),
                               name if path.name == "__init__.py" else name.rpartition(".")[0])
             for name, path in paths.items()}
    assert [" -> ".join(c) for c in _circles(graph)] == []


def test_the_circle_check_sees_a_function_level_import_and_a_relative_one():
    modules = {"a.lane", "a.table", "a.events"}
    lane = "from a import events as ev\n\ndef handle():\n    from a.table import lookup\n"
    table = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .lane import Lane\n"
    graph = {"a.lane": _imports_of("a.lane", lane, modules, "a"), "a.table": _imports_of("a.table", table, modules, "a"),
             "a.events": set()}
    assert graph == {"a.lane": {"a.events", "a.table"}, "a.table": {"a.lane"}, "a.events": set()}
    assert _circles(graph) == [["a.lane", "a.table", "a.lane"], ["a.table", "a.lane", "a.table"]]
    graph["a.lane"].discard("a.table")  # the lane handed its table instead
    assert _circles(graph) == []
