"""The node config loader: key paths, environment overrides and the broker URL rules."""

from __future__ import annotations

import pytest

from agent.config import parse
from agent.config.load import apply_env, key_path
from agent.errors import ConfigError

BASE = '[node]\nid = "lane-1"\nsite = "yantian"\nrole = "gate"\n'


def _problems(text: str, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse(text, "lane.toml", environ or {})
    assert str(caught.value).startswith("lane.toml: ")
    return caught.value.problems


def test_key_path_drops_the_union_tag():
    assert key_path(("devices", 1, "gate_io", "port")) == "devices[1].port"
    assert key_path(("broker", "url")) == "broker.url"
    assert key_path(()) == "(top)"


def test_apply_env_builds_nested_keys_and_ignores_others():
    data = apply_env({"node": {"id": "a"}}, {"PORTEDGE_NODE__ID": "b", "PORTEDGE_BROKER__URL": "mqtt://x",
                                             "PORTEDGE_PLAIN": "ignored", "HOME": "/root"})
    assert data == {"node": {"id": "b"}, "broker": {"url": "mqtt://x"}}


def test_env_override_reaches_the_model():
    config = parse(BASE, "lane.toml", {"PORTEDGE_BROKER__KEEPALIVE_S": "45", "PORTEDGE_BROKER__URL": "mqtt://127.0.0.1:1999"})
    assert config.broker.keepalive_s == 45
    assert (config.broker.host, config.broker.port, config.broker.tls) == ("127.0.0.1", 1999, False)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://127.0.0.1:0", "1-65535"),
        ("mqtt://127.0.0.1:70000", "1-65535"),
        ("mqtt://127.0.0.1:port", "1-65535"),
    ],
)
def test_bad_broker_urls(url, says):
    problems = _problems(BASE + f'[broker]\nurl = "{url}"\n')
    assert problems[0][0] == "broker.url" and says in problems[0][1]


def test_default_ports():
    assert parse(BASE + '[broker]\nurl = "mqtts://127.0.0.1"\n', "f", {}).broker.port == 8883
    assert parse(BASE, "f", {}).broker.port == 1883


def test_all_problems_at_once():
    text = ('[node]\nsite = "yantian"\nrole = "crane"\n[broker]\nkeepalive_s = 1\n'
            '[[devices]]\nname = "s"\nkind = "scanner"\nport = "COM3"\nline = { baudrate = 9601 }\n'
            '[[devices]]\nname = "s"\nkind = "wedge"\n')
    keys = [key for key, _ in _problems(text)]
    assert keys == ["node.id", "node.role", "broker.keepalive_s", "devices[0].line.baudrate"]


def test_duplicate_device_names():
    text = BASE + '[[devices]]\nname = "s"\nkind = "wedge"\n[[devices]]\nname = "s"\nkind = "wedge"\n'
    assert "used twice" in _problems(text)[0][1]


def test_bad_port_url_scheme():
    text = BASE + '[[devices]]\nname = "s"\nkind = "scanner"\nport = "ftp://127.0.0.1:1"\n'
    assert _problems(text) == [("devices[0].port", "unknown port URL scheme 'ftp' (loop, socket, rfc2217, spy, alt, hwgrep)")]


def test_cert_without_key():
    assert _problems(BASE + '[broker]\ncert_file = "/c.pem"\n') == [("broker", "cert_file and key_file go together")]
