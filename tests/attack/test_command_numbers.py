"""Finding (bounds): `permits_sync` with version 10^400 was answered `internal` (the number
passed the schema and overflowed SQLite). Every integer in a command now has both bounds in
the contract, so an absurd number is refused as `invalid_schema` before any handler runs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest

from agent.contract.catalog import COMMANDS
from agent.link.commands import CommandDesk
from agent.outbox import Outbox
from tests.gate.fakes import Rig


def _integers(schema: dict, defs: dict, where: str = "") -> list[tuple[str, dict]]:
    """Every integer property in a JSON schema (following $ref), with its path."""
    if "$ref" in schema:
        return _integers(defs[schema["$ref"].rsplit("/", 1)[1]], defs, where)
    found = []
    if schema.get("type") == "integer":
        found.append((where, schema))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _integers(sub, defs, where)
    for name, sub in schema.get("properties", {}).items():
        found += _integers(sub, defs, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _integers(schema["items"], defs, f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _integers(schema["additionalProperties"], defs, f"{where}{{}}")
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_integer_in_a_command_has_both_bounds(name):
    schema = COMMANDS[name].wrapper.model_json_schema()
    for where, field in _integers(schema, schema.get("$defs", {})):
        assert "minimum" in field and "maximum" in field, f"{name}{where} is unbounded: {field}"


def test_permits_sync_with_version_ten_to_the_400_is_invalid_not_internal(tmp_path):
    rig = Rig(tmp_path)
    outbox = Outbox(tmp_path / "o.db", "lane-1")
    counts: Counter[str] = Counter()
    desk = CommandDesk("yt", "lane-1", outbox, rig.clock, lambda what: counts.update([what]))
    desk.register("permits_sync", rig.station.command_handlers()["permits_sync"])
    now = rig.clock.now()
    payload = json.dumps({
        "id": "01JDCMD00000000000000000AB", "node": "lane-1", "ts": now.isoformat(), "type": "permits_sync",
        "v": 1, "body": {"version": 7, "permits": []}, "reply_to": "portedge/v1/yt/lane-1/res/permits_sync",
        "correlation_id": "c-1", "expires_at": (now + timedelta(seconds=30)).isoformat(),
    }).replace('"version": 7', '"version": 1' + "0" * 400)  # 10^400: valid JSON, Python reads it whole

    async def main():
        await rig.station.start()
        try:
            await desk.handle("permits_sync", payload.encode(), {})
        finally:
            await rig.close()

    try:
        asyncio.run(main())
        (row,) = outbox.next_batch(10)
        answer = json.loads(row.payload)
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_schema", answer
        assert "version" in answer["error"]["reason"]
        assert counts["command_invalid_schema"] == 1 and counts["command_internal"] == 0
    finally:
        outbox.close()
