"""`portedge sim ...`: the simulators, one subcommand each (lane, platform, scenario, fleet).

Each subcommand is registered in `SUBCOMMANDS` with its own `_add_<name>` / `_run_<name>`
pair. The heavy imports sit inside the `_run_*` functions so `portedge sim --help` is quick.
agent/cli/main.py names this module; agent/ never imports it (the layer rule).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from simulators import args as args_


def _add_fleet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL", type=args_.broker_url, help="mqtt://127.0.0.1:PORT; default: start a mosquitto here")
    p.add_argument("--lanes", type=args_.non_negative_int, default=500, help="simulated gate lanes (default 500)")
    p.add_argument("--pdas", type=args_.non_negative_int, default=500, help="simulated forklift PDAs (default 500)")
    p.add_argument("--duration", type=args_.positive_float, default=60.0, metavar="S", help="seconds to run (default 60)")
    p.add_argument("--processes", type=args_.non_negative_int, default=2,
                   help="worker processes sharing the nodes (default 2; 0 = one worker thread in this process)")
    p.add_argument("--restart-broker-at", type=args_.non_negative_float, metavar="T",
                   help="restart the broker T seconds into the run (only a broker this command started)")
    p.add_argument("--restart-down", type=args_.non_negative_float, default=1.0, metavar="S", help="how long the broker stays down")
    p.add_argument("--report", type=Path, metavar="DIR", help="write fleet-report.json into DIR")
    p.add_argument("--site", default="fleet", help="site segment of every topic (default fleet)")
    p.add_argument("--seed", type=int, default=1, help="seed for traffic, jitter and commands")
    p.add_argument("--commands-per-s", type=args_.non_negative_float, default=2.0, help="platform commands per second (default 2)")
    p.add_argument("--gate-every", type=args_.positive_float, default=30.0, metavar="S", help="mean seconds between trucks per lane")
    p.add_argument("--task-every", type=args_.positive_float, default=20.0, metavar="S", help="mean seconds between task steps per PDA")
    p.add_argument("--heartbeat-every", type=args_.positive_float, default=30.0, metavar="S", help="heartbeat period per node")
    p.add_argument("--shared-subscription", metavar="GROUP",
                   help="the platform probe subscribes through $share/GROUP/ (as a scaled-out platform would)")
    p.add_argument("--mqtt-version", choices=["5", "3.1.1"], default="5",
                   help="protocol of every node and the probe (3.1.1 for RabbitMQ 3.10's MQTT plugin; default 5)")
    p.add_argument("--no-live", action="store_true", help="no live panel (logs and CI)")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run_fleet(args: argparse.Namespace) -> int:
    import signal
    import sys

    from rich.console import Console

    from simulators.fleet import FleetConfig, run_fleet  # lazy on purpose: see the module docstring
    from simulators.fleet.display import report_table

    console = Console()
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM ends the run as Ctrl-C does: workers stop, broker closes
    config = FleetConfig(
        lanes=args.lanes, pdas=args.pdas, duration_s=args.duration, broker_url=args.broker,
        processes=args.processes, restart_at_s=args.restart_broker_at, restart_down_s=args.restart_down,
        report_dir=args.report, site=args.site, seed=args.seed, commands_per_s=args.commands_per_s,
        gate_every_s=args.gate_every, task_every_s=args.task_every, heartbeat_every_s=args.heartbeat_every,
        shared_group=args.shared_subscription, mqtt_version=args.mqtt_version, live=not args.no_live and console.is_terminal,
        argv=["portedge", *sys.argv[1:]],
    )
    try:
        report = run_fleet(config, console=console)
    except (ValueError, RuntimeError) as err:
        console.print(f"[red]error:[/] {err}")
        return 2
    console.print(report_table(report))
    if args.report:
        console.print(f"report: {args.report / 'fleet-report.json'}")
    everyone_back = report["connected_at_end"] == report["nodes"]["total"]
    return 0 if everyone_back else 1


def _add_scenario(p: argparse.ArgumentParser) -> None:
    import importlib

    importlib.import_module("simulators.demo").add_arguments(p)  # the demo is the default scenario


def _run_scenario(args: argparse.Namespace) -> int:
    from simulators.demo import run  # lazy on purpose: see the module docstring

    return run(args)


def _add_platform(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL", type=args_.broker_url, required=True, help="mqtt://127.0.0.1:PORT")
    p.add_argument("--site", default="yantian", help="site segment of the topics (default yantian)")
    p.add_argument("--delay", type=args_.non_negative_float, default=0.0, metavar="S", help="answer delay in seconds")
    p.add_argument("--failure-rate", type=args_.share, default=0.0, help="share of requests left unanswered")
    p.add_argument("--ledger", type=Path, metavar="FILE", help="keep the ledger in this SQLite file")
    p.add_argument("--share", metavar="GROUP", help="consume through MQTT 5 shared subscriptions $share/GROUP/... "
                   "(run several with one --ledger file; each with its own --client-id)")
    p.add_argument("--client-id", help="a stable client id (its persistent session survives a restart)")
    p.add_argument("--lost-after", type=args_.positive_float, default=90.0, metavar="S",
                   help="a node whose heartbeats stop this long is lost, will or not (default 90)")
    _add_desk(p, drivers=0, rate=0.0)


def _add_desk(p: argparse.ArgumentParser, *, drivers: int, rate: float) -> None:
    p.add_argument("--drivers", type=args_.non_negative_int, default=drivers, metavar="N",
                   help=f"drivers the platform logs in: badges D0001.. with PIN 1234 (default {drivers})")
    p.add_argument("--tasks-per-minute", type=args_.non_negative_float, default=rate, metavar="R",
                   help=f"TO_INSPECTION tasks assigned per minute to the PDAs online, round robin (default {rate:g})")
    p.add_argument("--seed", type=int, default=1, help="seed for the tasks (same seed, same tasks)")
    p.add_argument("--duration", type=args_.positive_float, default=None, metavar="S", help="stop after S seconds (default: Ctrl-C)")


def _serve(sim, args: argparse.Namespace, say, stop=None) -> int:
    """Run the platform until Ctrl-C, SIGTERM or --duration: assign tasks, report now and then."""
    import random
    import time

    from simulators.platform.dispatch import Dispatcher, add_drivers, describe

    stop = stop or args_.stop_on_signals()
    drivers = add_drivers(sim, args.drivers)
    if drivers:
        say(f"drivers: {', '.join(d.badge for d in drivers[:5])}{' ...' if len(drivers) > 5 else ''} "
            f"(PIN {drivers[0].pin})")
    desk = Dispatcher(sim, random.Random(args.seed))
    every = 60.0 / args.tasks_per_minute if args.tasks_per_minute > 0 else None
    now = time.monotonic()
    end = now + args.duration if args.duration else None
    next_task, next_report, waiting_said = (now + min(every, 2.0) if every else None), now + 10, False
    while not stop.is_set():
        now = time.monotonic()
        if end is not None and now >= end:
            break
        if next_task is not None and now >= next_task:
            made = desk.dispatch()
            if made is None:
                if not waiting_said:
                    say("no PDA online yet: tasks start when one connects")
                    waiting_said = True
                next_task = now + 1.0
            else:
                say(f"assigned {describe(*made)}")
                next_task = now + every
        if now >= next_report:
            lost = sim.lost_nodes()
            say(f"{sim.ledger.count()} records, {sim.ledger.duplicates()} duplicates dropped, "
                f"answered {dict(sim.stats.answered)}" + (f"; LOST (heartbeats stopped): {', '.join(lost)}" if lost else ""))
            next_report = now + 10
        stop.wait(0.2)
    return 0


def _run_platform(args: argparse.Namespace) -> int:
    from simulators.platform import Ledger, PlatformSim  # lazy on purpose: see the module docstring

    if args.share and not args.ledger:
        print("error: --share needs --ledger FILE: the members of a group dedupe in one ledger", file=sys.stderr)
        return 2
    args_.reachable(args.broker)
    stop = args_.stop_on_signals()
    sim = PlatformSim(args.broker, args.site, ledger=Ledger(args.ledger or ":memory:", consumer=args.client_id),
                      answer_delay_s=args.delay, failure_rate=args.failure_rate, client_id=args.client_id,
                      share_group=args.share, lost_after_s=args.lost_after).start()
    group = f", shared subscriptions as {args.client_id or 'a member'} of {args.share}" if args.share else ""
    print(f"platform simulator on {args.broker}, site {args.site}{group}; Ctrl-C stops", flush=True)
    try:
        return _serve(sim, args, lambda text: print(text, flush=True), stop)
    finally:
        sim.stop()


def _add_pda(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, default=Path("examples/pda-local.toml"),
                   help="the PDA's config: its site, and its broker unless --broker (default examples/pda-local.toml)")
    p.add_argument("--broker", metavar="URL", type=args_.broker_url, help="use this broker; default: the config's, started here "
                   "(mosquitto) when it is on this machine and nothing listens there yet")
    _add_desk(p, drivers=3, rate=1.0)


def _run_pda(args: argparse.Namespace) -> int:
    stop = args_.stop_on_signals()  # first: the imports below take seconds on a busy machine
    from simulators.platform.trial import run_trial  # lazy on purpose: see the module docstring

    return run_trial(args, _serve, stop)


def _add_lane(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL", type=args_.broker_url, required=True, help="mqtt://127.0.0.1:PORT the lane node will use")
    p.add_argument("--lane", default="lane-1", help="lane id (default lane-1)")
    p.add_argument("--site", default="yantian", help="site segment of the topics (default yantian)")
    p.add_argument("--dir", type=Path, default=Path("var/sim-lane"), help="where the config and ptys go")
    p.add_argument("--trucks-every", type=args_.non_negative_float, default=20.0, metavar="S",
                   help="a truck every S seconds (0 = none: drive the stubs yourself)")
    p.add_argument("--spawn", action="store_true", help="also start the lane node (portedge run) as a child process")
    p.add_argument("--seed", type=int, default=1)


def _run_lane(args: argparse.Namespace) -> int:
    import asyncio
    import random
    import signal

    from simulators.lane_rig import LaneRig  # lazy on purpose: see the module docstring
    from simulators.platform.orders import OrderBook

    async def main() -> int:
        rig = await LaneRig(args.lane, args.site, args.dir.resolve(), args.broker, random.Random(args.seed)).start()
        print(f"simulated hardware for {args.lane} is up; its node config: {rig.config_path}", flush=True)
        print(f"run the lane with:  portedge run --config {rig.config_path}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        if args.spawn:
            rig.spawn()
        book = OrderBook(random.Random(args.seed + 1))

        async def trucks() -> None:
            while args.trucks_every > 0:
                truck = book.truck({"DI": 1.0}, 1.0, 0.0)
                passed = await rig.drive(truck)
                print(f"truck {truck.plate} {truck.containers}: {'passed' if passed else 'turned back'}", flush=True)
                await asyncio.sleep(args.trucks_every)

        driving = asyncio.create_task(trucks(), name="trucks")
        try:
            await stop.wait()  # a truck half-way through the lane does not hold up Ctrl-C
        finally:
            driving.cancel()
            await asyncio.gather(driving, return_exceptions=True)
            await rig.stop()
        return 0

    return asyncio.run(main())


#: name -> (help, add_arguments, run); owners of platform / scenario / devices add theirs here
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "fleet": ("many simulated nodes against one broker: load, latency, reconnect storm", _add_fleet, _run_fleet),
    "scenario": ("play a scenario file (lanes, PDAs, traffic, faults) and audit it", _add_scenario, _run_scenario),
    "platform": ("run the platform simulator alone against a broker", _add_platform, _run_platform),
    "pda": ("a platform to try the PDA app against: logs drivers in, assigns inspection tasks", _add_pda, _run_pda),
    "lane": ("one gate lane's hardware (firmware stubs on ptys) and the node config pointing at it", _add_lane, _run_lane),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sim_command", metavar="SIMULATOR")
    for name, (help_text, add, run_fn) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
        p.set_defaults(_sim_run=run_fn)


def run(args: argparse.Namespace) -> int:
    run_fn = getattr(args, "_sim_run", None)
    if run_fn is None:
        print("usage: portedge sim {" + ",".join(SUBCOMMANDS) + "} ...  (portedge sim --help)", file=sys.stderr)
        return 2
    return int(run_fn(args) or 0)
