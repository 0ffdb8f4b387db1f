"""Port Edge against its peer, ThingsBoard IoT Gateway 3.8.5, in one run on one loopback broker.

    ./dev bench --peers [--rounds 3] [--events 20000] [--kill-events 20000] [--paced-rate 2000]
    (or .venv/bin/python bench/peers/thingsboard.py ...)

The peer is installed into its own venv, bench/peers/.venv (pip, thingsboard-gateway==3.8.5),
never into the project's; nothing here runs in CI or in ./dev test. Three producers, each a
fresh process per measurement, send the same events (tally.event_body, ~200 bytes) to one
mosquitto on 127.0.0.1:
- raw paho QoS 1, one message per event (the baseline; measured before and after the others
  in each round, the ratios use their mean);
- Port Edge's live durable pipeline (edge_producer.py: outbox aput -> commit -> Link ->
  PUBACK -> delete), and the same with producers putting bursts of 100 (aput_many);
- the peer (tb_producer.py: its SQLite event storage and MQTT client, its read-pack/ack loop),
  once with its client's default payload cap (8,196 bytes) and once with the cap its client
  takes from a platform granting 64 KiB (52,428 bytes: more events per message).
Throughput: events from the first put to the last delete, for 10 devices and for 1,000
devices (ThingsBoard packs one device's events into one message; 1,000 devices leave it
little to pack). The order of the contenders rotates from round to round.

Kill -9: each durable producer, with a counting subscriber on the broker (receiver.py), is
killed once it has accepted half its events (flat out, and paced), restarted on the same
storage to drain what survived, and then: accepted = what its storage acknowledged, lost =
accepted and never received (tally.py).

Figures only: min / median / max over the rounds, with the load average; nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tally import Marks, Tally, tally  # noqa: E402

from simulators.mosquitto import Mosquitto  # noqa: E402

PEER = "thingsboard-gateway"
PEER_VERSION = "3.8.5"
PEER_VENV = HERE / ".venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
TIMEOUT_S = 600


def ensure_peer() -> None:
    """The peer's own venv, made once (a stamp names the version installed)."""
    stamp = PEER_VENV / f".installed-{PEER}-{PEER_VERSION}"
    if stamp.exists():
        return
    print(f"installing {PEER}=={PEER_VERSION} into {PEER_VENV} (its own venv; a minute the first time)",
          file=sys.stderr)
    if not PEER_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    done = subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "-q", f"{PEER}=={PEER_VERSION}"],
                          capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"error: pip could not install {PEER}=={PEER_VERSION} into {PEER_VENV}")
    stamp.touch()


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


#: the peer's MQTT payload cap: its client's default (kept when the platform grants no session
#: limits, as mosquitto does not answer that request), and what the client would take from a
#: platform granting 64 KiB (80 % of the grant, as its client computes it)
PEER_CAPS = {"thingsboard": 8196, "thingsboard-64k": 52428}
#: Port Edge's producers putting bursts of this many events at once (aput_many, one commit)
BURST = 100
THROUGHPUT = ["edge", "edge-burst", *PEER_CAPS]
LABEL = {"raw": "raw paho QoS 1 (one message per event)", "edge": "Port Edge live durable",
         "edge-burst": f"Port Edge, bursts of {BURST} (aput_many)",
         "thingsboard": "ThingsBoard GW SQLite, 8,196 B cap", "thingsboard-64k": "ThingsBoard GW SQLite, 52,428 B cap"}


def producer_cmd(who: str, port: int, *args: str) -> list[str]:
    if who in PEER_CAPS:
        return [str(PEER_PYTHON), str(HERE / "tb_producer.py"), "--port", str(port),
                "--payload-bytes", str(PEER_CAPS[who]), *args]
    if who == "edge-burst":
        return [sys.executable, str(HERE / "edge_producer.py"), "edge", "--burst", str(BURST), "--port", str(port), *args]
    return [sys.executable, str(HERE / "edge_producer.py"), who, "--port", str(port), *args]


def run(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def throughput(port: int, tmp: Path, devices: int, events: int, order: list[str]) -> dict[str, dict]:
    common = ["--events", str(events), "--devices", str(devices)]
    out = {"raw_before": run(producer_cmd("raw", port, *common))}
    for who in order:
        data = Path(tempfile.mkdtemp(prefix=f"{who}-", dir=tmp))
        out[who] = run(producer_cmd(who, port, "--data", str(data), *common))
    out["raw_after"] = run(producer_cmd("raw", port, *common))
    return out


def wait_quiet(marks: Marks, quiet_s: float = 1.5, limit_s: float = 120.0) -> None:
    """Until the receiver has marked nothing new for quiet_s."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() < deadline:
        now = sum(marks.snapshot())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)


def kill_trial(port: int, tmp: Path, who: str, devices: int, events: int, rate: float,
               base: int) -> tuple[Tally, int, int]:
    """Kill -9 the producer once half its events are accepted; restart it to drain; tally.
    Returns the tally, how many events it had accepted when the kill landed, and how many
    the restarted producer left in its storage (0 unless its drain stalled)."""
    trial = Path(tempfile.mkdtemp(prefix=f"kill-{who}-", dir=tmp))
    accepted = Marks(trial / "accepted", events, create=True)
    received = Marks(trial / "received", events, create=True)
    receiver = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), "--port", str(port), "--marks",
                                 str(trial / "received"), "--events", str(events), "--base", str(base)],
                                stdout=subprocess.PIPE, text=True)
    producer: subprocess.Popen | None = None
    try:
        if receiver.stdout is None or receiver.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiver did not subscribe")
        args = ["--data", str(trial), "--events", str(events), "--devices", str(devices), "--base", str(base)]
        with open(trial / "producer.log", "wb") as log:  # a file, not a pipe nobody reads while it runs
            producer = subprocess.Popen(producer_cmd(who, port, *args, "--rate", str(rate),
                                                     "--accepted", str(trial / "accepted")),
                                        stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + TIMEOUT_S
        while accepted.seen() < events // 2:
            if producer.poll() is not None or time.monotonic() > deadline:
                producer.kill()
                err = (trial / "producer.log").read_text(errors="replace")
                raise RuntimeError(f"{who} ended before half its events were accepted: {err[-2000:]}")
            time.sleep(0.002)
        producer.send_signal(signal.SIGKILL)
        producer.wait()
        at_kill = accepted.seen()
        drained = run(producer_cmd(who, port, *args, "--drain"))
        wait_quiet(received)
        return tally(accepted.snapshot(), received.snapshot()), at_kill, drained.get("left", 0)
    finally:
        if producer is not None and producer.poll() is None:  # interrupted mid-trial
            producer.kill()
            producer.wait()
        receiver.terminate()
        receiver.wait(10)
        accepted.close()
        received.close()


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def report(rounds: list[dict], args) -> None:
    loads = [x for r in rounds for x in r["load"]]
    print(f"\n{len(rounds)} rounds, load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores;"
          " min / median / max over the rounds")
    for devices in (10, 1000):
        runs = [r["throughput"][devices] for r in rounds]
        raw = [(t["raw_before"]["rate"] + t["raw_after"]["rate"]) / 2 for t in runs]
        rate = {who: [t[who]["rate"] for t in runs] for who in THROUGHPUT}
        print(f"\n{devices} devices, {args.events:,} events: events/s, x raw paho, CPU us per event,"
              " cores busy (CPU us x rate), events per message")
        print(f"  {LABEL['raw']:38s} {spread(raw, '{:,.0f}')}")
        for who in THROUGHPUT:
            ratio = [a / b for a, b in zip(rate[who], raw, strict=True)]
            cpu = [t[who]["cpu_us_per_event"] for t in runs]
            busy = [c * r / 1e6 for c, r in zip(cpu, rate[who], strict=True)]
            packed = [t[who]["events"] / t[who]["messages"] for t in runs if t[who].get("messages")]
            print(f"  {LABEL[who]:38s} {spread(rate[who], '{:,.0f}')}   {spread(ratio)}x   {spread(cpu, '{:.0f}')} us"
                  f"   {spread(busy)}" + (f"   {spread(packed, '{:.1f}')}" if packed else ""))
        for edge in ("edge", "edge-burst"):
            for who in PEER_CAPS:
                ratio = [a / b for a, b in zip(rate[edge], rate[who], strict=True)]
                print(f"  {LABEL[edge]} / {LABEL[who]}: {spread(ratio)}x")
    for mode in ("flat out", f"paced {args.paced_rate:,.0f}/s"):
        print(f"\nkill -9 at half accepted, {args.kill_events:,} events, 10 devices, {mode}")
        for who in ("edge", "thingsboard"):
            trials = [r["kill"][mode][who] for r in rounds]
            print(f"  {who:12s} accepted {spread([t['accepted'] for t in trials], '{:,.0f}')}"
                  f"  lost {spread([t['lost'] for t in trials], '{:,.0f}')}"
                  f"  duplicates {spread([t['duplicates'] for t in trials], '{:,.0f}')}"
                  f"  delivered unacknowledged {spread([t['unacknowledged'] for t in trials], '{:,.0f}')}"
                  + (f"  LEFT IN STORAGE after the drain stalled: {[t['left'] for t in trials]}"
                     if any(t["left"] for t in trials) else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000, help="events per throughput run")
    parser.add_argument("--kill-events", type=int, default=20_000, help="events per kill -9 trial")
    parser.add_argument("--paced-rate", type=float, default=2_000, help="events/s of the paced kill trials")
    parser.add_argument("--json", help="also write every figure of every round to this file")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: the broker, the receivers and the producers are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_peer()
    rounds: list[dict] = []
    base = 0
    with tempfile.TemporaryDirectory(prefix="portedge-peers-") as tmp, Mosquitto(persistence=False) as broker:
        for n in range(args.rounds):
            order = THROUGHPUT[n % len(THROUGHPUT):] + THROUGHPUT[:n % len(THROUGHPUT)]
            kill_order = ["edge", "thingsboard"] if n % 2 == 0 else ["thingsboard", "edge"]
            this: dict = {"load": [loadavg()], "throughput": {}, "kill": {}}
            for devices in (10, 1000):
                this["throughput"][devices] = throughput(broker.port, Path(tmp), devices, args.events, order)
            for mode, rate in (("flat out", 0.0), (f"paced {args.paced_rate:,.0f}/s", args.paced_rate)):
                this["kill"][mode] = {}
                for who in kill_order:
                    base += 10_000_000
                    result, at_kill, left = kill_trial(broker.port, Path(tmp), who, 10, args.kill_events, rate, base)
                    this["kill"][mode][who] = {**result.__dict__, "at_kill": at_kill, "left": left}
            this["load"].append(loadavg())
            rounds.append(this)
            print(f"round {n + 1}: load {this['load'][0]:.1f} -> {this['load'][1]:.1f}; "
                  + json.dumps({d: {w: round(t[w]["rate"]) for w in t} for d, t in this["throughput"].items()})
                  + " " + json.dumps({m: {w: k[w]["lost"] for w in k} for m, k in this["kill"].items()}), flush=True)
    report(rounds, args)
    if args.json:
        Path(args.json).write_text(json.dumps(rounds, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
