"""The link's network thread at its unit seam (a real paho client, not connected): jobs handed
over from the loop side run once each, in order, however they are batched. `submit` wakes the
thread only when its queue was empty (one wake-up per burst, not per publish)."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt

from agent.link.net import NetThread


def test_every_job_handed_over_in_bursts_runs_once_in_order():
    loop = asyncio.new_event_loop()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="net-thread-test", protocol=mqtt.MQTTv5)
    net = NetThread(client, loop, lambda events: None, {})
    ran: list[int] = []
    done = threading.Event()
    total = 20_000
    net.start()
    try:
        for n in range(total):  # bursts of mixed size, racing the thread's draining
            net.submit(lambda n=n: ran.append(n))
            if n % 97 == 0:
                threading.Event().wait(0.001)
        net.submit(done.set)
        assert done.wait(30), f"{len(ran)} of {total} jobs ran"
        assert ran == list(range(total))
    finally:
        net.stop()
        loop.close()
