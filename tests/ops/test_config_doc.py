"""docs/config.md is generated from the config models and must not drift from them."""

from __future__ import annotations

from pathlib import Path

from agent.cli.main import main
from agent.config.devices import DEVICE_KINDS
from agent.config.model import NodeConfig
from agent.config.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_committed_reference_is_current(capsys):
    assert main(["config-doc", "--check", str(DOC)]) == 0, (
        "docs/config.md drifted: regenerate with `portedge config-doc -o docs/config.md`")


def test_every_section_key_and_device_kind_is_documented():
    text = render()
    for name in NodeConfig.model_fields:
        if name != "devices":
            assert f"## [{name}]" in text
    for kind in DEVICE_KINDS:
        assert f'### kind = "{kind}"' in text
    assert "| `url` | string | `\"mqtt://127.0.0.1:1883\"` |" in text
    assert "PORTEDGE_BROKER__URL" in text


def test_a_drifted_copy_is_caught(tmp_path, capsys):
    stale = tmp_path / "config.md"
    stale.write_text(render().replace("heartbeat_s", "heartbeat_seconds"), encoding="utf-8")
    assert main(["config-doc", "--check", str(stale)]) == 1
    assert "regenerate with `portedge config-doc -o" in capsys.readouterr().err


def test_grafana_dashboard_uses_only_metrics_a_node_exposes():
    import json
    import re

    from agent import metrics

    dashboard = json.loads((DOC.parent / "grafana" / "portedge-node.json").read_text(encoding="utf-8"))
    exposed = {name for name, *_ in metrics.SAMPLES}
    exposed |= {m.name for m in metrics.REGISTRY.collect()}  # the counted ones (PUBLISHES, ...)
    counters = {n for n, kind, *_ in metrics.SAMPLES if kind == "counter"} | {
        m.name for m in metrics.REGISTRY.collect() if m.type == "counter"}
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"portedge_[a-z_]+", target["expr"]))
    assert used
    for name in used:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in exposed, f"the dashboard reads {name}, which no node exposes"
        if name.endswith("_total"):
            assert base in counters, f"{name}: {base} is not a counter"
