"""Scenario files: validated with key paths, expanded into the same timeline for the same seed."""

import pytest

from agent.errors import ConfigError
from simulators.scenario import SCENARIO_DIR, load_scenario


def test_shipped_scenarios_load_and_replay():
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        scenario = load_scenario(path)
        first, second = scenario.timeline(), scenario.timeline()
        assert first == second, f"{path.name}: the same seed must give the same run"
        assert all(0 <= h.at_s < scenario.duration_s for h in first)
        assert [h.at_s for h in first] == sorted(h.at_s for h in first)


def test_timeline_has_trucks_orders_and_faults():
    scenario = load_scenario(SCENARIO_DIR / "storm.toml")
    kinds = {h.what for h in scenario.timeline()}
    assert {"truck", "order", "broker_restart", "platform_silence", "serial_unplug", "agent_kill"} <= kinds
    other_seed = scenario.model_copy(update={"seed": scenario.seed + 1})
    assert other_seed.timeline() != scenario.timeline()


def test_bad_scenario_names_key_and_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nduration_s = 10\nlanes = -1\n[[faults]]\nat_s = 20\nkind = "meteor"\n')
    with pytest.raises(ConfigError) as err:
        load_scenario(bad)
    text = str(err.value)
    assert f"{bad}: lanes:" in text
    assert f"{bad}: faults[0].kind:" in text
