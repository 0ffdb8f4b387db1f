"""An embedded pure-Python MQTT broker (amqtt) for the zero-install demo.

amqtt speaks MQTT 3.1.1 only, so nodes talking to it run in 3.1.1 mode — which doubles as a
live proof that the agent works without MQTT 5. Production and the test suite use mosquitto.
The broker runs on its own asyncio loop in one thread; `start()` returns once it listens.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from simulators.mosquitto import free_port

log = logging.getLogger(__name__)


def _one_line(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """amqtt's own faults (e.g. a client's session torn down while the broker walks its
    subscriptions, seen when the demo stops) reach the broker loop's exception handler; the
    default prints a traceback on the operator's screen. Say it in one line instead."""
    err = context.get("exception")
    what = f"{type(err).__name__}: {err}" if err is not None else context.get("message", "?")
    log.warning("embedded broker: %s", what)


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the embedded broker listens on loopback only")
        self.host = host
        self.port = port or free_port(host)
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_one_line)
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-broker", daemon=True)
        self._broker = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 2000}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._thread.start()

        async def _start():
            self._broker = Broker(config)
            await self._broker.start()

        asyncio.run_coroutine_threadsafe(_start(), self._loop).result(15)
        return self

    def stop(self) -> None:
        if self._broker is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(15)
            except Exception as err:  # a broker that fails to stop cleanly must not hide the demo's result
                log.warning("embedded broker shutdown: %s", err)
            self._broker = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
