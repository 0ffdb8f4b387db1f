"""[personnel] in a node config: references by kind, the site key file (exists, hex, private),
relative paths beside the config, a turnstile-only gate node; and what a bad key file says."""

from __future__ import annotations

import os

import pytest

from agent.config import load
from agent.errors import ConfigError
from agent.personnel.privacy import SiteKey

DEVICES = """
[node]
id = "apron-1"
site = "yt"
role = "gate"
[[devices]]
name = "id-1"
kind = "idcard_reader"
port = "/dev/ttyUSB0"
[[devices]]
name = "ts-1"
kind = "turnstile"
port = "socket://127.0.0.1:5020"
"""


def write(tmp_path, personnel: str, key: str | None = "ok"):
    if key == "ok":
        (tmp_path / "site.key").write_text(os.urandom(32).hex())
        (tmp_path / "site.key").chmod(0o600)
    path = tmp_path / "apron-1.toml"
    path.write_text(DEVICES + "[personnel]\n" + personnel)
    return path


GOOD = 'lane = "apron-1"\narea = "apron"\nreaders = ["id-1"]\nturnstile = "ts-1"\nsite_key_file = "site.key"\n'


def test_a_turnstile_only_node_loads_with_paths_beside_the_config(tmp_path):
    config = load(write(tmp_path, GOOD))
    assert config.gate is None and config.personnel.site_key_file == tmp_path / "site.key"
    assert SiteKey.load(config.personnel.site_key_file).person_key("id_card", "x") != SiteKey(os.urandom(32)).person_key("id_card", "x")


def test_references_must_name_devices_of_the_right_kind(tmp_path):
    bad = GOOD.replace('readers = ["id-1"]', 'readers = ["ts-1", "nope"]').replace('turnstile = "ts-1"', 'turnstile = "id-1"')
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, bad))
    keys = [k for k, _ in err.value.problems]
    assert keys == ["personnel.readers[0]", "personnel.readers[1]", "personnel.turnstile"]
    assert "is a turnstile, not a idcard_reader or badge_reader" in str(err.value)


def test_the_site_key_file_must_exist_and_be_private(tmp_path):
    with pytest.raises(ConfigError, match=r"personnel.site_key_file: .*site.key does not exist"):
        load(write(tmp_path, GOOD, key=None))
    path = write(tmp_path, GOOD)
    (tmp_path / "site.key").chmod(0o644)
    warnings: list = []
    load(path, warnings=warnings)
    assert warnings and warnings[0][0] == "personnel.site_key_file"


def test_a_key_file_without_enough_hex_is_refused_by_name(tmp_path):
    (tmp_path / "short.key").write_text("abcd")
    with pytest.raises(ConfigError, match="personnel.site_key_file: .* at least 64 hex digits"):
        SiteKey.load(tmp_path / "short.key", "apron-1.toml")
    assert "secret" in repr(SiteKey(os.urandom(32)))


def test_a_personnel_lane_needs_a_reader(tmp_path):
    with pytest.raises(ConfigError, match="personnel: .*at least one reader"):
        load(write(tmp_path, GOOD.replace('readers = ["id-1"]', "readers = []")))


def test_a_truck_lane_checking_drivers_needs_the_site_key_and_an_id_reader(tmp_path):
    path = tmp_path / "lane-1.toml"
    path.write_text(DEVICES + '[gate]\nlane = "lane-1"\ndriver_reader = "ts-1"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert [k for k, _ in err.value.problems] == ["gate.driver_reader", "gate.site_key_file"]
    (tmp_path / "site.key").write_text(os.urandom(32).hex())
    (tmp_path / "site.key").chmod(0o600)
    path.write_text(DEVICES + '[gate]\nlane = "lane-1"\ndriver_reader = "id-1"\nsite_key_file = "site.key"\n')
    assert load(path).gate.site_key_file == tmp_path / "site.key"
