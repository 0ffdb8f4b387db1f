r"""A gate station: one lane's workflow wired to its devices, the outbox and the platform.

    gate_io LaneInputs / DeviceStatus -\
    camera reads (CameraRead) ----------+--> GateStation.emit --> LaneRunner --> Lane (pure)
    weighbridge (Weight) --------------/                               |--> BarrierGuard --> BarrierPort
                                                                       |--> Recorder (outbox)
                                                                       \--> Requester (gate_verify)

The station is also a `DeviceSink` for workflow routing: the runtime records what must be
recorded first, then hands the event here. Devices not named in the `[gate]` section are
ignored. `start()` recovers an interrupted transaction and puts the barrier in the safe
state; `run()` ticks the lane (every `tick_s`, or every REST_TICK_S while it is at rest and
no turn stirs it) and retries reconciliation until cancelled.

Never: start handling trucks before `start()` has recorded an interrupted transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock
from agent.config.model import GateSection
from agent.contract.devices import CameraRead, Weight
from agent.contract.envelope import new_id
from agent.contract.gate import GateTransaction, LaneInputs
from agent.contract.node import DeviceStatus
from agent.gate import events as ev
from agent.gate.barrier import BarrierGuard, BarrierPort
from agent.gate.commands import LaneCommands
from agent.gate.journal import Journal, aborted_record
from agent.gate.lane import Lane
from agent.gate.permits import PermitStore
from agent.gate.runner import LaneDisplay, LaneRunner
from agent.gate.store import open_gate_db
from agent.gate.table import TABLE
from agent.interfaces import Handler, Recorder, Requester

log = logging.getLogger(__name__)


#: seconds between ticks while the lane is at rest (`tick_s` otherwise): ten wakeups a second
#: were a quarter of an idle lane node's CPU, for ticks that could change nothing
REST_TICK_S = 1.0


class GateStation:
    def __init__(self, settings: GateSection, recorder: Recorder, requester: Requester, *,
                 port: BarrierPort | None = None, clock: Clock = SYSTEM_CLOCK, display: LaneDisplay | None = None,
                 new_id: Callable[[], str] = new_id, on_reread: Callable[[], Awaitable[None]] | None = None,
                 reconcile_every_s: float = 60.0):
        self.settings, self.clock, self.recorder = settings, clock, recorder
        self.reconcile_every_s = reconcile_every_s
        if settings.state_path is None:
            raise ValueError("GateSection.state_path unset: the runtime puts it beside the outbox")
        self.db = open_gate_db(settings.state_path)
        self.permits = PermitStore(self.db)
        self.journal = Journal(self.db)
        self.lane = Lane(settings, TABLE, clock, new_id)
        self.guard = BarrierGuard(settings.holdoff_s)
        self.runner = LaneRunner(self.lane, self.guard, recorder, requester, self.permits, self.journal, clock,
                                 port=port, display=display, on_reread=on_reread)
        self.commands = LaneCommands(settings, self.runner, self.permits, clock)
        self.started = False
        self.site_key = None  # the driver step (off by default): the driver's card, hashed
        if settings.driver_reader is not None and settings.site_key_file is not None:
            from agent.personnel.privacy import SiteKey

            self.site_key = SiteKey.load(settings.site_key_file)

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> list[GateTransaction]:
        """Safe state first, then record every transaction a crash interrupted."""
        await self.runner.safe_state("agent start")
        aborted = await self.recover()
        self.started = True
        return aborted

    async def recover(self) -> list[GateTransaction]:
        """Record journalled, unfinished transactions as "aborted" (each once), then safe state."""
        recorded = []
        for draft in self.journal.drafts(self.settings.lane):
            record = aborted_record(self.settings.lane, draft, self.clock.now())
            log.warning("transaction %s was interrupted (%s): recording it as aborted",
                        record.transaction_id, record.trouble_reason)
            await self.recorder.record("gate_transaction", record, "transactional")  # raises: keep the row
            await self.journal.clear(self.settings.lane, record.transaction_id)
            recorded.append(record)
        if recorded:
            await self.runner.safe_state("recovered an interrupted transaction")
        return recorded

    async def run(self) -> None:
        """Tick the lane and retry reconciliation until cancelled."""
        if not self.started:
            await self.start()
        next_reconcile = self.clock.monotonic()
        reconciling: asyncio.Task | None = None
        try:
            while True:
                try:
                    await self.runner.tick()
                except Exception:  # the lane must keep ticking: timeouts and the close depend on it
                    log.exception("gate lane tick failed")
                    self.runner.counters["tick_failed"] += 1
                if self.clock.monotonic() >= next_reconcile and (reconciling is None or reconciling.done()):
                    next_reconcile = self.clock.monotonic() + self.reconcile_every_s
                    # beside the ticks, not in their way: a silent platform makes each re-ask
                    # wait verify_s, and timeouts and the close hold-off must not wait with it
                    reconciling = asyncio.create_task(self._reconcile(), name="gate-reconcile")
                if self.runner.at_rest:
                    await self._rest()
                else:
                    await asyncio.sleep(self.settings.tick_s)
        finally:
            if reconciling is not None and not reconciling.done():
                reconciling.cancel()
                await asyncio.gather(reconciling, return_exceptions=True)

    async def _rest(self) -> None:
        """The lane is at rest (`LaneRunner.at_rest`): a tick would change nothing, so wait
        REST_TICK_S, or less once a turn (an input edge, a read, a command) stirs the lane."""
        stirred = self.runner.stirred
        stirred.clear()
        try:
            async with asyncio.timeout(REST_TICK_S):
                await stirred.wait()
        except TimeoutError:
            pass

    async def _reconcile(self) -> None:
        try:
            await self.runner.reconcile()
        except Exception:
            log.exception("reconciliation failed")

    async def close(self) -> None:
        await self.runner.close()
        self.db.close()

    def storage_reasons(self) -> list[str]:
        """Health: the gate file was corrupt and moved aside, or its writes fail (agent.storage)."""
        return self.db.reasons()

    # -- routing -----------------------------------------------------------------------------
    async def emit(self, device: str, event: Any) -> None:
        """DeviceSink: route a device's event to the lane; anything else is ignored."""
        cfg = self.settings
        try:
            if isinstance(event, DeviceStatus):
                if device == cfg.io and event.status != "online":
                    await self.runner.controller_lost(f"{device}: {event.status} {event.detail}")
            elif isinstance(event, CameraRead):
                if not cfg.cameras or device in cfg.cameras:
                    await self.runner.feed(ev.Read(event))
            elif isinstance(event, Weight):
                if device == cfg.scale:
                    await self.runner.feed(ev.Weighed(event))
            elif device == cfg.driver_reader and self.site_key is not None and _is_card(event):
                from agent.personnel.identity import CHINA, driver_ref

                ref, problem = driver_ref(event, self.site_key, self.clock.now().astimezone(CHINA).date())
                log.info("lane %s: driver card %s", cfg.lane, ref.masked)
                await self.runner.feed(ev.DriverCard(ref, problem))
            elif isinstance(event, LaneInputs):
                if cfg.io is None or device == cfg.io:
                    await self.runner.on_inputs(event)
        except Exception:  # a bad event is counted, never a crash of the driver that sent it
            log.exception("gate station could not handle %s from %s", type(event).__name__, device)
            self.runner.counters["route_failed"] += 1

    def command_handlers(self) -> dict[str, Handler]:
        return self.commands.handlers()


def _is_card(event: Any) -> bool:
    """A driver card read. The codec's tables (~0.8 MB) load only on a lane with a card reader:
    only its events are ever asked about."""
    from agent.codecs.sam import CardRead

    return isinstance(event, CardRead)
