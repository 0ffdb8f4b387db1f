"""Birth and death, commands, requests, TLS and passwords, against a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta

import pytest
import trustme

from agent.contract.envelope import MAX_COMMAND_BYTES, utc_now
from agent.contract.gate import LaneMode
from agent.contract.topics import Kind, Topic, site_filter
from agent.errors import InvalidAnswerError, InvalidCommandError, RequestTimeoutError
from agent.link import Link
from agent.outbox import Outbox
from simulators.mosquitto import Tls
from tests.link.conftest import node_config


async def until(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run_node(config, scenario, *, handlers=None):
    async def main():
        outbox = Outbox(config.storage.path, config.node.id)
        link = Link(config, outbox, rng=random.Random(1))
        for name, handler in (handlers or {}).items():
            link.register_command(name, handler)
        await link.start()
        try:
            return await scenario(link, outbox)
        finally:
            await link.stop()
            outbox.close()
    return asyncio.run(main())


def test_birth_on_connect_and_clean_offline_on_stop(mosquitto, collector_factory, tmp_path):
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.STATE)])
    config = node_config(mosquitto.url, tmp_path / "o.db")

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await until(lambda: collector.payloads("/state"), what="birth")

    run_node(config, scenario)
    collector.wait(lambda: len(collector.payloads("/state")) >= 2, 5, "no offline state")
    states = collector.payloads("/state")
    assert [s["type"] for s in states] == ["state", "state"]  # the contract's envelope, not a bare body
    assert [s["body"]["status"] for s in states] == ["online", "offline"]
    assert states[0]["body"]["health"]["connected"] is True and states[0]["body"]["version"]
    assert states[0]["id"] != states[1]["id"] and states[0]["seq"] == 0  # not an outbox record


def test_last_will_says_lost_when_the_node_vanishes(mosquitto, collector_factory, tmp_path):
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.STATE)])
    config = node_config(mosquitto.url, tmp_path / "o.db")

    async def scenario(link, outbox):
        await until(lambda: collector.payloads("/state"), what="birth")
        link._net.submit(lambda: link._net._client._sock_close())  # the network dies, no DISCONNECT sent
        await until(lambda: any(s["body"]["status"] == "lost" for s in collector.payloads("/state")), what="last will")

    run_node(config, scenario)


def command(name: str, body: dict, *, node: str = "lane-1", cid: str = "01JDCMD00000000000000000AB",
            expires_in: float = 30.0) -> bytes:
    return json.dumps({"id": cid, "node": node, "ts": utc_now().isoformat(), "type": name, "v": 1, "body": body,
                       "reply_to": "portedge/v1/yt/lane-1/res/" + name, "correlation_id": "c-" + cid[-4:],
                       "expires_at": (utc_now() + timedelta(seconds=expires_in)).isoformat()}).encode()


def test_commands_are_answered_valid_invalid_expired_and_duplicate(mosquitto, collector_factory, tmp_path):
    collector = collector_factory(mosquitto.port, [site_filter("yt", Kind.RES)])
    config = node_config(mosquitto.url, tmp_path / "o.db")
    runs: list[str] = []

    async def lane_mode(cmd):
        runs.append(cmd.id)
        if cmd.body.mode == "closed":
            raise InvalidCommandError("refused", "lane busy")
        if cmd.body.lane == "boom":
            raise RuntimeError("handler bug")
        return LaneMode(lane=cmd.body.lane, mode=cmd.body.mode)

    topic = str(Topic("yt", "lane-1", Kind.CMD, "lane_mode"))
    sends = [
        command("lane_mode", {"lane": "lane-1", "mode": "manual"}, cid="01JDCMD0000000000000000001"),
        b"{not json",
        command("lane_mode", {"lane": "lane-1", "mode": "sideways"}, cid="01JDCMD0000000000000000002"),
        json.dumps({"id": "01JDCMD0000000000000000003", "reply_to": "portedge/v1/yt/lane-1/res/lane_mode",
                    "correlation_id": "c-big", "pad": "x" * (MAX_COMMAND_BYTES + 10)}).encode(),
        command("lane_mode", {"lane": "lane-1", "mode": "auto"}, cid="01JDCMD0000000000000000004", expires_in=-5),
        command("lane_mode", {"lane": "lane-1", "mode": "manual"}, cid="01JDCMD0000000000000000001"),  # duplicate
        command("lane_mode", {"lane": "lane-1", "mode": "auto"}, node="lane-9", cid="01JDCMD0000000000000000005"),
        command("lane_mode", {"lane": "lane-1", "mode": "closed"}, cid="01JDCMD0000000000000000006"),
        command("lane_mode", {"lane": "boom", "mode": "auto"}, cid="01JDCMD0000000000000000007"),
    ]

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await asyncio.sleep(0.2)  # SUBACK
        for payload in sends:
            await asyncio.to_thread(collector.publish, topic, payload)
            await asyncio.sleep(0.05)  # answers in a known order
        await until(lambda: len(collector.payloads("/res/")) >= len(sends), what="every answer")
        assert link.connected
        return link.health()

    health = run_node(config, scenario, handlers={"lane_mode": lane_mode})
    answers = collector.payloads("/res/")
    outcome = [(a["correlation_id"], a["ok"], (a["error"] or {}).get("code")) for a in answers]
    assert outcome == [
        ("c-0001", True, None),
        ("unknown", False, "invalid_json"),
        ("c-0002", False, "invalid_schema"),
        ("c-big", False, "oversize"),
        ("c-0004", False, "expired"),
        ("c-0001", True, None),
        ("c-0005", False, "wrong_node"),
        ("c-0006", False, "refused"),
        ("c-0007", False, "internal"),
    ]
    assert answers[5]["id"] == answers[0]["id"], "the duplicate was not answered with the stored answer"
    raw = [p for t, p in collector.messages if "/res/" in t]
    assert raw[5] == raw[0], "a re-sent answer must be the same bytes: same id, same seq, same body"
    seqs = [a["seq"] for i, a in enumerate(answers) if i != 5]
    assert seqs == list(range(1, len(seqs) + 1)), "the re-send took a seq of its own: a gap that never fills"
    assert runs == ["01JDCMD0000000000000000001", "01JDCMD0000000000000000006", "01JDCMD0000000000000000007"]
    for code in ("invalid_json", "invalid_schema", "oversize", "expired", "wrong_node", "duplicate", "internal"):
        assert health.errors.get(f"command_{code}", 0) >= 1, code


def test_request_gets_its_answer_and_times_out_otherwise(mosquitto, collector_factory, tmp_path):
    platform = collector_factory(mosquitto.port, [site_filter("yt", Kind.REQ)])
    config = node_config(mosquitto.url, tmp_path / "o.db")
    from agent.contract.gate import VerifyRequest

    body = VerifyRequest(transaction_id="01JDGATE0000000000000000AB", lane="lane-1", plate="A1", containers=[],
                         weight_kg=None, type="DI")

    async def answer_once():
        await until(lambda: platform.payloads("/req/"), what="request")
        req = platform.payloads("/req/")[0]
        rsp = {"id": "01JDRSP00000000000000000AB", "node": "platform", "seq": 0, "ts": utc_now().isoformat(),
               "type": "gate_verify", "v": 1, "correlation_id": req["correlation_id"], "ok": True,
               "body": {"transaction_id": "01JDGATE0000000000000000AB", "allow": True, "type": "DI"}, "error": None}
        await asyncio.to_thread(platform.publish, req["reply_to"], json.dumps(rsp).encode())

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="connect")
        await asyncio.sleep(0.2)
        answered, response = await asyncio.gather(answer_once(), link.request("gate_verify", body, 5.0))
        assert response.ok and response.body.allow is True
        with pytest.raises(RequestTimeoutError):
            await link.request("gate_verify", body, 0.3)

        async def answer_garbled():  # the right correlation id, a body the contract refuses
            await until(lambda: len(platform.payloads("/req/")) == 3, what="third request")
            req = platform.payloads("/req/")[2]
            rsp = {"correlation_id": req["correlation_id"], "ok": "perhaps"}
            await asyncio.to_thread(platform.publish, req["reply_to"], json.dumps(rsp).encode())

        with pytest.raises(InvalidAnswerError) as err:
            await asyncio.gather(answer_garbled(), link.request("gate_verify", body, 5.0))
        assert not isinstance(err.value, TimeoutError), "an invalid answer is not a timeout"
        assert outbox.stats().depth == 0, "requests must not sit in the outbox"

    run_node(config, scenario)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def tls_files(ca, folder):
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("lane-1")
    paths = {}
    for name, blob in (("ca", ca.cert_pem), ("srv_cert", server.cert_chain_pems[0]), ("srv_key", server.private_key_pem),
                       ("cli_cert", client.cert_chain_pems[0]), ("cli_key", client.private_key_pem)):
        paths[name] = folder / f"{name}.pem"
        blob.write_to_path(str(paths[name]))
    return paths


def test_tls_with_client_certificate_and_password(mosquitto_factory, collector_factory, tmp_path, ca):
    f = tls_files(ca, tmp_path)
    broker = mosquitto_factory(tls=Tls(f["ca"], f["srv_cert"], f["srv_key"], require_certificate=True),
                               passwords={"lane-1": "s3cret", "platform": "p"})
    config = node_config(broker.url, tmp_path / "o.db", ca_file=str(f["ca"]), cert_file=str(f["cli_cert"]),
                         key_file=str(f["cli_key"]), username="lane-1", password="s3cret")
    collector = collector_factory(broker.port, [site_filter("yt", Kind.EVT)], ca_certs=str(f["ca"]),
                                  certfile=str(f["cli_cert"]), keyfile=str(f["cli_key"]),
                                  username="platform", password="p")

    async def scenario(link, outbox):
        await until(lambda: link.connected, what="TLS connect")
        env = await outbox.aput("scan", {"data": "tls"})
        await until(lambda: any(p["id"] == env.id for p in collector.payloads()), what="event over TLS")

    run_node(config, scenario)


def test_wrong_ca_is_a_clear_error_never_plain_tcp(mosquitto_factory, tmp_path, ca):
    f = tls_files(ca, tmp_path)
    broker = mosquitto_factory(tls=Tls(f["ca"], f["srv_cert"], f["srv_key"]))
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    config = node_config(broker.url, tmp_path / "o.db", ca_file=str(tmp_path / "other.pem"))

    async def scenario(link, outbox):
        await until(lambda: link.health().errors.get("connect_failed", 0) >= 2, what="failed attempts")
        return link.health(), link.connects

    health, connects = run_node(config, scenario)
    assert not health.connected and connects == 0
    assert any("certificate verif" in r for r in health.degraded), health.degraded


def test_wrong_password_is_counted_and_explained(mosquitto_factory, tmp_path):
    broker = mosquitto_factory(passwords={"lane-1": "right"})
    config = node_config(broker.url, tmp_path / "o.db", username="lane-1", password="wrong")

    async def scenario(link, outbox):
        await until(lambda: link.health().errors.get("connect_failed", 0) >= 1, what="refusal")
        return link.health()

    health = run_node(config, scenario)
    assert not health.connected and any("refused" in r for r in health.degraded), health.degraded


def test_stop_always_ends_even_when_a_wake_up_lands_with_it(mosquitto, tmp_path):
    """A put's wake-up arriving together with stop()'s cancel once made the pump swallow the
    cancel (asyncio.wait_for on 3.11) and stop() wait forever. Stop right after putting, often."""
    config = node_config(mosquitto.url, tmp_path / "lane.db")

    async def scenario() -> None:
        outbox = Outbox(config.storage.path, config.node.id)
        try:
            for i in range(15):
                link = Link(config, outbox, rng=random.Random(i))
                await link.start()
                for _ in range(20):
                    await asyncio.sleep(0.01)
                    if link.connected:
                        break
                await outbox.aput("scan", {"device": "s", "data": str(i)}, "transactional")
                await asyncio.wait_for(link.stop(), 15)  # TimeoutError here is the hang
        finally:
            outbox.close()

    asyncio.run(scenario())
