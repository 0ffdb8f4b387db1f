"""A real broker cluster for the failover tests: RabbitMQ, 3 nodes on loopback, quorum queues
(simulators/rabbitmq.py). One boot per test session, shared by the tests here; skipped, with
the reason, only where rabbitmq-server is not installed (./dev test installs it as root)."""

from __future__ import annotations

import pytest

from simulators.rabbitmq import RabbitCluster, find_rabbitmq


@pytest.fixture(scope="session")
def rabbit_cluster(tmp_path_factory):
    if find_rabbitmq() is None:
        pytest.skip("rabbitmq-server is not installed: ./dev test installs it as root "
                    "(or: apt-get install rabbitmq-server)")
    cluster = RabbitCluster(size=3, workdir=tmp_path_factory.mktemp("rabbit")).start()
    yield cluster
    cluster.close()
