"""The import direction holds: agent/ never imports the app, the simulators or the firmware
stubs (at import time: the `demo` and `sim` command modules load simulators lazily)."""

import ast
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
