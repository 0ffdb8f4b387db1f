"""Commands from the platform: validate against the contract, run once, answer every time.

Order of checks (each failure is answered with an error Response on the command's reply
topic, with its correlation id, and counted as `command_<code>`):
    size -> JSON -> known command with a handler -> schema (`id` required) -> addressed to
    this node -> already answered (duplicate: the stored answer goes out again, nothing runs)
    -> expired -> expiring too far ahead -> made before the stored answers were lost -> the handler.
A duplicate check comes before the expiry check so a re-delivered command that was executed
gets its original answer rather than an "expired" that would contradict it.

Why a command never runs twice: its answer is stored under its id and kept 24 h (carried
over when a damaged outbox is moved aside), and no command may expire more than
`[commands] max_ttl_s` (default 300 s) ahead, so a re-delivery is either answered from the
store or refused as expired. If the answers could not be carried over, a command made
before that moment is refused while it could still be unexpired.

Bounded: `submit` (the link's entry, on the loop) never waits and never grows without bound.
At most `[commands] concurrency` commands run at once and `[commands] queue` wait; a command
beyond that is answered `busy` at once (not run, not remembered: the platform may send it
again with the same id). One task answers busy commands `BUSY_BATCH` at a time, letting the
loop (the gate's I/O poll) run between batches; on a link a busy answer goes out without
the outbox (it is advice, not a record: seq 0, nothing to commit), without one (`send_now`
not given) it is stored. While `BUSY_ANSWERS_AT_ONCE` wait, a further one is counted
(`command_busy_unanswered`) and not answered.

Held, open, closed: a desk made `held` queues what arrives (bounded as above) and runs nothing
until `open()`: a node admits commands only once its workflows have recovered (the lane's
interrupted transaction recorded, its barrier in the safe state), while its link already
drains the outbox. `close(grace_s)` stops the intake (a command arriving after it is counted
`command_not_taken` and neither run nor answered: the platform sends it again to the next
run), drops the waiting ones, and lets the running ones finish for up to `grace_s` before
cancelling them, so no handler meets a workflow that has closed.

Answers go through the outbox (answers class), stored in the same transaction as the
"answered" record, so a crash can neither lose an answer nor run a command twice after one
was given. This module must never let a handler's exception escape into the link.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Container, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from agent.clock import Clock
from agent.config.model import CommandsSection
from agent.contract.catalog import COMMANDS
from agent.contract.envelope import (
    MAX_COMMAND_BYTES,
    Command,
    ErrorBody,
    Response,
    dump,
    peek_fields,
)
from agent.contract.topics import Kind, Topic
from agent.errors import InvalidCommandError, StorageFullError
from agent.interfaces import Handler
from agent.outbox import Outbox

log = logging.getLogger(__name__)

_CODES = set(get_args(ErrorBody.model_fields["code"].annotation))  # the Literal's values
BUSY_ANSWERS_AT_ONCE = 1024  # busy answers waiting to be stored (each holds a few fields, no payload)
BUSY_BATCH = 64  # busy answers built and stored together, then the loop gets its turn


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command is answered with an error instead of being run."""

    code: str  # an ErrorBody code
    reason: str


def admit(name: str, raw: Any, node: str, known: Container[str] = COMMANDS) -> Command | Refusal:
    """The contract's checks on a command that parsed as JSON: one this node knows (`known`, a
    subset of the contract's), valid against its schema, of its topic's type, addressed to
    `node`. Sans-I/O: the fleet simulator's nodes answer with it too."""
    spec = COMMANDS.get(name)
    if spec is None or name not in known:
        return Refusal("unknown_command", f"this node has no command {name!r}")
    try:
        command = spec.wrapper.model_validate(raw)
        assert isinstance(command, Command)  # a CMD spec's wrapper is Command[body]
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors()[:10])
        return Refusal("invalid_schema", problems)
    if command.type != name:
        return Refusal("invalid_schema", f"type {command.type!r} does not match topic {name!r}")
    if command.node != node:
        return Refusal("wrong_node", f"command is for node {command.node!r}, this is {node!r}")
    return command


def timely(command: Command, now: datetime, max_ttl_s: float) -> Refusal | None:
    """Not expired, and not expiring further ahead than `max_ttl_s` (how long answers are kept
    is what makes a re-delivery safe; see the module docstring)."""
    if command.expired(now):
        return Refusal("expired", f"command expired at {command.expires_at.isoformat()}")
    ahead = (command.expires_at - now).total_seconds()
    if ahead > max_ttl_s:
        return Refusal("refused", f"expires_at is {ahead:.0f} s ahead; this node takes commands that"
                       f" expire within {max_ttl_s:g} s ([commands] max_ttl_s)")
    return None


def _valid_reply_topic(topic: Any, site: str, node: str) -> bool:
    """A reply must go to this node's own res/ subtree: the broker's ACL refuses anything else,
    and a refused publish must never be what a command makes the node send."""
    if not isinstance(topic, str) or not 0 < len(topic) <= 256 or any(c in topic for c in "+#\0"):
        return False
    try:
        parsed = Topic.parse(topic)
    except ValueError:
        return False
    return parsed.kind is Kind.RES and parsed.site == site and parsed.node == node


class CommandDesk:
    def __init__(self, site: str, node: str, outbox: Outbox, clock: Clock, count: Callable[[str], None],
                 settings: CommandsSection | None = None,
                 send_now: Callable[[str, bytes, str], bool] | None = None):
        self._settings = settings or CommandsSection()
        self._send_now = send_now  # (topic, payload, correlation id) -> sent? ; busy answers skip the outbox
        self._site = site
        self._node = node
        self._outbox = outbox
        self._clock = clock
        self._count = count
        self._handlers: dict[str, Handler] = {}
        self._running: set[str] = set()
        self._waiting: deque[tuple[str, bytes, dict[str, Any]]] = deque()
        self._workers = 0
        self._admitted = 0  # running + waiting
        self._busy: deque[tuple[str, dict[str, Any], dict[str, Any]]] = deque()  # busy, not answered yet
        self._busy_answering = False
        self._busy_since_log = 0
        self._busy_logged_at = -1e9
        self._tasks: set[asyncio.Task] = set()
        self._held = False  # queue, run nothing until open()
        self._closed = False

    def register(self, name: str, handler: Handler) -> None:
        if name not in COMMANDS:
            raise ValueError(f"{name!r} is not a command in the contract (known: {', '.join(sorted(COMMANDS))})")
        self._handlers[name] = handler

    # -- bounded intake ------------------------------------------------------------------------
    def submit(self, name: str, payload: bytes, props: dict[str, Any]) -> None:
        """A command arrived (called on the loop): queue it, or answer `busy` when the desk is full."""
        if self._closed:
            self._count("command_not_taken")  # stopping: not run, not answered (sent again later)
            return
        if self._admitted < self._settings.concurrency + self._settings.queue:
            self._admitted += 1
            self._waiting.append((name, payload, props))
            self._staff()
            return
        if len(self._busy) >= BUSY_ANSWERS_AT_ONCE:
            self._count("command_busy_unanswered")
            return
        peek = _peek(payload) if len(payload) <= MAX_COMMAND_BYTES else {}  # keep a few fields, not the payload
        self._busy.append((name, peek, props))
        if not self._busy_answering:
            self._busy_answering = True
            self._spawn(self._answer_busy(), "portedge-cmd-busy")

    def hold(self) -> None:
        """Queue commands (bounded) and run none until `open()`."""
        self._held, self._closed = True, False

    def open(self) -> None:
        """Run what waits, and what arrives from now on."""
        self._held, self._closed = False, False
        self._staff(len(self._waiting))

    def _staff(self, wanted: int = 1) -> None:
        """Up to `wanted` more workers, within `concurrency`, unless held or closed."""
        if self._held or self._closed:
            return
        for _ in range(min(wanted, self._settings.concurrency - self._workers)):
            self._workers += 1
            self._spawn(self._work(), "portedge-cmd")

    async def close(self, grace_s: float = 0.0) -> None:
        """Take no more commands; those still waiting are not run (nor answered); the running
        ones may finish for `grace_s` seconds, then they are cancelled."""
        self._closed = True
        self._admitted -= len(self._waiting)
        self._waiting.clear()
        self._busy.clear()
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        try:
            while self._waiting:
                try:
                    await self.handle(*self._waiting.popleft())
                finally:
                    self._admitted -= 1
        finally:
            self._workers -= 1

    async def _answer_busy(self) -> None:
        """One task answers the busy commands, `BUSY_BATCH` at a time: each batch shares one
        outbox commit, and the loop (the gate's I/O poll) gets its turn between batches."""
        try:
            while self._busy:
                batch = [self._busy.popleft() for _ in range(min(BUSY_BATCH, len(self._busy)))]
                self._count_busy(len(batch))
                reason = f"{self._workers} commands running and {len(self._waiting)} waiting: send it again later"
                if self._send_now is not None:
                    for name, peek, props in batch:
                        self._busy_now(name, peek, props, reason)
                    await asyncio.sleep(0)  # the loop's other work (the gate's I/O poll) between batches
                    continue
                results = await asyncio.gather(
                    *(self._answer_error(name, "busy", reason, peek, props, timeout=5.0) for name, peek, props in batch),
                    return_exceptions=True)
                for result in results:
                    if isinstance(result, StorageFullError):
                        self._count("command_busy_unanswered")
                    elif isinstance(result, Exception):
                        self._count("command_internal")
                        log.error("busy answer failed: %s", result)
        finally:
            self._busy_answering = False

    def _busy_now(self, name: str, peek: dict[str, Any], props: dict[str, Any], reason: str) -> None:
        """A busy answer is advice (send it again later), not a record: on a link it goes out
        at once, without the outbox (seq 0, like a request), so a flood costs no commits."""
        assert self._send_now is not None
        corr = (peek.get("correlation_id") or _text(props.get("CorrelationData")) or peek.get("id") or "unknown")[:64]
        response = Response(node=self._node, type=name, correlation_id=corr, ok=False, ts=self._clock.now(),
                            error=ErrorBody(code="busy", reason=reason))
        topic = self._reply_topic(name, peek.get("reply_to"), props.get("ResponseTopic"))
        if not self._send_now(topic, dump(response), corr):
            self._count("command_busy_unanswered")

    def _count_busy(self, n: int) -> None:
        for _ in range(n):
            self._count("command_busy")
        self._busy_since_log += n
        now = time.monotonic()  # log pacing only
        if now - self._busy_logged_at >= 10.0:
            log.warning("commands arrive faster than they run: %d answered busy (%d running, %d waiting)",
                        self._busy_since_log, self._workers, len(self._waiting))
            self._busy_logged_at, self._busy_since_log = now, 0

    async def handle(self, name: str, payload: bytes, props: dict[str, Any]) -> None:
        try:
            await self._handle(name, payload, props)
        except StorageFullError as err:
            self._count("command_answer_not_stored")
            log.error("command %s: the answer could not be stored: %s", name, err)
        except Exception:  # noqa: BLE001 - a command must never take the agent down
            self._count("command_internal")
            log.exception("command %s: unexpected failure while answering", name)

    def _reply_topic(self, name: str, *candidates: Any) -> str:
        for topic in candidates:
            if _valid_reply_topic(topic, self._site, self._node):
                return topic
            if topic:
                self._count("command_reply_to_outside_subtree")
        return str(Topic(self._site, self._node, Kind.RES, name))

    async def _refuse(self, name: str, code: str, reason: str, peek: dict[str, Any], props: dict[str, Any]) -> None:
        self._count(f"command_{code}")
        log.warning("command %s refused (%s): %s", name, code, reason)
        await self._answer_error(name, code, reason, peek, props)

    async def _answer_error(self, name: str, code: str, reason: str, peek: dict[str, Any], props: dict[str, Any],
                            timeout: float | None = None) -> None:
        corr = peek.get("correlation_id") or _text(props.get("CorrelationData")) or peek.get("id") or "unknown"
        response = Response(node=self._node, type=name, correlation_id=corr[:64], ok=False,
                            error=ErrorBody.model_validate({"code": code, "reason": reason[:2000]}), ts=self._clock.now())
        topic = self._reply_topic(name, peek.get("reply_to"), props.get("ResponseTopic"))
        await self._outbox.put_response(response, topic, timeout=timeout)

    async def _handle(self, name: str, payload: bytes, props: dict[str, Any]) -> None:
        if len(payload) > MAX_COMMAND_BYTES:
            # a payload far over the limit is not even parsed: the reply topic then comes from
            # the MQTT 5 properties or the node's own res/<name>
            peek = _peek(payload) if len(payload) <= 4 * MAX_COMMAND_BYTES else {}
            await self._refuse(name, "oversize", f"command is {len(payload)} bytes; the limit is {MAX_COMMAND_BYTES}",
                               peek, props)
            return
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:  # RecursionError: "[[[[..."
            await self._refuse(name, "invalid_json", f"payload is not JSON: {str(err)[:200]}", {}, props)
            return
        peek = peek_fields(raw)
        command = admit(name, raw, self._node, known=self._handlers)
        if isinstance(command, Refusal):
            await self._refuse(name, command.code, command.reason, peek, props)
            return
        if await self._answer_again(command):
            return
        now, limit = self._clock.now(), self._settings.max_ttl_s
        refusal = timely(command, now, limit)
        if refusal is not None:
            await self._refuse(name, refusal.code, refusal.reason, peek, props)
            return
        lost = self._outbox.answers_lost_at
        if lost is not None and command.ts < lost and (now - lost).total_seconds() <= limit:
            await self._refuse(name, "refused", f"command made at {command.ts.isoformat()}, before this node's stored"
                               f" answers were lost ({lost.isoformat()}): it may have run already", peek, props)
            return
        await self._run(name, self._handlers[name], command)

    async def _answer_again(self, command: Command) -> bool:
        if command.id in self._running:
            self._count("command_duplicate")
            return True  # the first copy is running; its answer will go out
        stored = self._outbox.answer_for(command.id)
        if stored is None:
            return False
        self._count("command_duplicate")
        topic, payload = stored
        await self._outbox.put_again(topic, payload)  # the same bytes: same id, same seq
        return True

    async def _run(self, name: str, handler: Handler, command: Command) -> None:
        self._running.add(command.id)
        try:
            try:
                body = await handler(command)
                if body is not None and not isinstance(body, BaseModel):
                    raise TypeError(f"handler returned {type(body).__name__}, not a pydantic model")
                response = Response(node=self._node, type=name, correlation_id=command.correlation_id, ok=True,
                                    body=body, ts=self._clock.now())
            except InvalidCommandError as err:
                code = err.code if err.code in _CODES else "refused"
                self._count(f"command_{code}")
                response = self._error(name, command, code, err.reason)
            except Exception as err:  # noqa: BLE001 - answered as "internal", logged, agent keeps running
                self._count("command_internal")
                log.exception("command %s (%s): handler failed", name, command.id)
                response = self._error(name, command, "internal", f"{type(err).__name__}: {err}")
            await self._outbox.put_response(response, self._reply_topic(name, command.reply_to), answers=command.id)
        finally:
            self._running.discard(command.id)

    def _error(self, name: str, command: Command, code: str, reason: str) -> Response:
        return Response(node=self._node, type=name, correlation_id=command.correlation_id, ok=False,
                        error=ErrorBody.model_validate({"code": code, "reason": reason[:2000]}), ts=self._clock.now())


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode() or None
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) and value else None


def _peek(payload: bytes) -> dict[str, Any]:
    try:
        return peek_fields(json.loads(payload))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
