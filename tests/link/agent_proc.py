"""A node process for the SIGKILL test: puts events forever and prints `PUT <seq> <id>` (flushed)
for every put that returned, so the test knows exactly what was promised as stored.

    python tests/link/agent_proc.py BROKER_URL DB_PATH PUTS [BATCHING]
PUTS = 0 only drains the outbox (prints READY once connected) until SIGTERM. BATCHING is one of
tests.link.conftest.BATCHING (default: batched).
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys

from agent.config.model import NodeConfig
from agent.link import Link
from agent.outbox import Outbox
from tests.link.conftest import batching


async def main(url: str, db: str, puts: int, batch: str) -> None:
    config = NodeConfig.model_validate({
        "node": {"id": "lane-1", "site": "yt", "role": "gate", "heartbeat_s": 3600},
        "broker": {"url": url, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.3, "keepalive_s": 5},
        "link": batching(batch),
    })
    outbox = Outbox(db, "lane-1")
    link = Link(config, outbox, rng=random.Random(3))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await link.start()
    counter = iter(range(puts))

    async def producer() -> None:
        for i in counter:
            envelope = await outbox.aput("scan", {"device": "scanner-1", "data": f"{i:08d}"})
            sys.stdout.write(f"PUT {envelope.seq} {envelope.id}\n")
            sys.stdout.flush()

    if puts:
        await asyncio.gather(*(producer() for _ in range(8)))
    print("READY", flush=True)
    await stop.wait()
    await link.stop()
    outbox.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "batched"))
