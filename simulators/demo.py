"""`portedge demo`: a whole simulated port on one machine, zero configuration.

An embedded broker (amqtt) unless `--broker URL` is given, the platform simulator, two gate
lanes on simulated hardware (firmware stubs over ptys; each lane node its own process) and
three forklift PDAs (headless; `--gui` adds a Kivy PDA window). A live view while it runs; at
the end of `--duration` a summary and a report folder (summary.json, throughput.png,
latency.png). Exits 0 when the audit found nothing wrong.

Ctrl-C or SIGTERM stops it at once (exit 130 / 143, no audit): every lane node process and
the PDA window are stopped and reaped, the PDAs, platform and broker closed, and the
temporary work folder removed. A bad argument is a usage error (exit 2) found before
anything starts; an unreachable `--broker` is one line and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from simulators.args import broker_url, positive_float, reachable
from simulators.live_view import render
from simulators.port import PortSim
from simulators.report import write_report
from simulators.scenario import SCENARIO_DIR, load_scenario


def add_arguments(parser) -> None:
    parser.add_argument("--duration", type=positive_float, default=None, help="seconds to run (default: the scenario's)")
    parser.add_argument("--broker", type=broker_url, default=None, help="use this broker (mqtt://127.0.0.1:PORT) instead of the embedded one")
    parser.add_argument("--scenario", default=None, help=f"scenario TOML (default: {SCENARIO_DIR / 'demo.toml'})")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report", default="reports", help="folder for the report (a dated subfolder is made)")
    parser.add_argument("--gui", action="store_true", help="also open one Kivy PDA window (needs a display)")
    parser.add_argument("--quiet", action="store_true", help="no live view (for CI logs)")
    parser.add_argument("--console", action="store_true",
                        help=f"serve the first lane's booth console on loopback (staff badge {DEMO_BADGE}, PIN {DEMO_PIN})")


DEMO_BADGE, DEMO_PIN = "G0001", "1234"


def console_toml(port: int) -> str:
    """The first lane's [console]: loopback, one demo clerk (the PIN hashed as always)."""
    from agent.console.sessions import make_pin_hash

    return (f'[console]\nlisten = "127.0.0.1:{port}"\n[[console.staff]]\nbadge = "{DEMO_BADGE}"\n'
            f'name = "demo clerk"\npin_hash = "{make_pin_hash(DEMO_BADGE, DEMO_PIN)}"\n')


def run(args) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.broker:
        reachable(args.broker)
    else:
        import importlib.util

        if importlib.util.find_spec("amqtt") is None:  # the embedded broker: "install portedge[sim]"
            raise ModuleNotFoundError("No module named 'amqtt'", name="amqtt")
    scenario = load_scenario(args.scenario or SCENARIO_DIR / "demo.toml")
    updates = {k: v for k, v in (("duration_s", args.duration), ("seed", args.seed)) if v is not None}
    if updates:
        scenario = scenario.model_validate({**scenario.model_dump(), **updates,
                                            "faults": [f.model_dump() for f in scenario.faults
                                                       if f.at_s < updates.get("duration_s", scenario.duration_s)]})
    console = Console(stderr=False)
    workdir = Path(tempfile.mkdtemp(prefix="portedge-demo-"))
    report_dir = Path(args.report) / time.strftime("demo-%Y%m%d-%H%M%S")
    console.print(f"[bold]Port Edge demo[/]: scenario {scenario.name}, {scenario.lanes} lanes, {scenario.pdas} PDAs, "
                  f"{scenario.turnstiles} turnstile(s), "
                  f"{scenario.duration_s:.0f}s, broker {args.broker or 'embedded (amqtt, MQTT 3.1.1)'}; work files in {workdir}")
    stopped_by: list[str] = []
    try:
        summary, ledger = asyncio.run(_run(scenario, workdir, args, console, stopped_by))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if stopped_by:
        console.print(f"demo stopped by {stopped_by[0]} before its end: nodes stopped, work files removed, no audit")
        return 130 if stopped_by[0] == "SIGINT" else 143
    if summary is None:
        return 1
    written = write_report(summary, report_dir, ledger)
    _print_summary(console, summary)
    console.print(f"report: {', '.join(str(p) for p in written)}")
    return 0 if summary["ok"] else 1


async def _run(scenario, workdir: Path, args, console: Console, stopped_by: list[str]):
    live = None if args.quiet or not console.is_terminal else Live(console=console, refresh_per_second=2)
    sim = PortSim(scenario, workdir, broker=args.broker,
                  on_tick=(lambda s: live.update(render(s))) if live else _plain_tick(console))
    if args.gui:
        sim.gui_pda = "pda-gui"
    if args.console:
        from simulators.mosquitto import free_port

        port = free_port()
        sim.first_lane_toml = console_toml(port)
        console.print(f"booth console of {scenario.lane_ids[0]}: [bold]http://127.0.0.1:{port}/[/] "
                      f"(log in with badge [bold]{DEMO_BADGE}[/], PIN [bold]{DEMO_PIN}[/])")
    task = asyncio.create_task(sim.run())
    loop = asyncio.get_running_loop()

    def stop_now(sig: signal.Signals) -> None:
        """Ctrl-C or SIGTERM: stop now. The run's teardown stops every lane node process,
        the PDAs, the platform and the broker; `run` then removes the work folder."""
        if not stopped_by:
            stopped_by.append(sig.name)
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_now, sig)
    gui = None
    if args.gui:
        while sim.state.phase == "starting" and not task.done():
            await asyncio.sleep(0.2)
        gui = _start_gui(sim, workdir, console) if not task.done() else None
    summary = None
    try:
        if live:
            with live:
                summary = await task
        else:
            summary = await task
    except asyncio.CancelledError:
        if not stopped_by:
            raise
    finally:
        if gui is not None and gui.poll() is None:
            gui.terminate()
            try:
                gui.wait(5)
            except subprocess.TimeoutExpired:
                gui.kill()
                gui.wait()
    return summary, getattr(sim, "platform", None) and sim.platform.ledger


def _plain_tick(console: Console):
    last = [0.0]

    def tick(sim: PortSim) -> None:
        if sim.state.phase == "running" and last[0] == 0.0:
            last[0] = 1e-9
            console.print("all nodes up, the scenario is running; Ctrl-C stops")
        if sim.state.elapsed - last[0] >= 10:
            last[0] = sim.state.elapsed
            console.print(f"{sim.state.elapsed:5.0f}s {sim.state.phase}: {sim.platform.ledger.count()} records, "
                          f"faults now: {', '.join(sorted(sim.state.faults_active)) or 'none'}")
    return tick


def _start_gui(sim: PortSim, workdir: Path, console: Console):
    """One Kivy PDA window on the same broker: log in with badge D0001, PIN 1234; the
    platform sends it every third inspection order."""
    import os

    sim.platform.add_driver("D0001", "1234", "演示 Demo")
    config = workdir / "pda-gui.toml"
    config.write_text(f'[node]\nid = "pda-gui"\nsite = "{sim.scenario.site}"\nrole = "pda"\n'
                      f'[broker]\nurl = "{sim.proxy.url}"\nmqtt_version = "{sim.mqtt_version}"\n'
                      f'[storage]\npath = "{workdir / "pda-gui" / "pda-gui.db"}"\n')
    command = [sys.executable, "-m", "agent", "pda", "--config", str(config)]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        console.print("[yellow]--gui: no display here; the PDA window runs offscreen[/]")
        command.append("--offscreen")
    console.print("PDA window: log in with badge [bold]D0001[/], PIN [bold]1234[/]")
    try:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as err:
        console.print(f"[yellow]--gui: could not start the PDA window: {err}[/]")
        return None


def _print_summary(console: Console, s: dict) -> None:
    table = Table(title=f"Summary — {'OK' if s['ok'] else 'PROBLEMS FOUND'}", show_header=False)
    table.add_row("records at the platform", f"{s['records_received']} ({s['records_per_s']}/s), "
                  f"{s['duplicates_dropped']} duplicate(s) dropped by id")
    for lane, d in s["lanes"].items():
        table.add_row(lane, f"{d['trucks']} trucks, {d['passed_at_barrier']} through the barrier, "
                      f"outcomes {json.dumps(d['outcomes'])}, {d['decided_offline']} decided offline, "
                      f"{d['reconciled']} reconciled, unsafe barrier moves {d['unsafe_movements']}")
    for node, d in s.get("turnstiles", {}).items():
        table.add_row(node, f"{sum(d['people'].values())} people, outcomes {json.dumps(d['outcomes'])}, "
                      f"alarms {json.dumps(d['alarms'])}, {d['decided_offline']} decided offline, "
                      f"{d['reconciled']} reconciled")
    for pda, d in s["pdas"].items():
        table.add_row(pda, f"{d['tasks']} tasks, {d['task_updates']} updates, states {json.dumps(d['states_reported'])}")
    for node, d in s["delivery"].items():
        table.add_row(f"delivery {node}", f"seq {d['first_seq']}..{d['last_seq']}, {d['records']} records, "
                      f"{d['gap_count']} gap(s)")
    lat = s["latency"]["all_records"]
    table.add_row("latency node -> platform", f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (outbox waits included)")
    table.add_row("faults", ", ".join(s["faults"]) or "none")
    for p in s["problems"]:
        table.add_row("[red]problem[/]", p)
    console.print(table)
