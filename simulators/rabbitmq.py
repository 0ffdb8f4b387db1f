"""A RabbitMQ cluster on loopback (Debian's rabbitmq-server, its MQTT plugin): for the failover
tests and the failover benchmark.

N nodes `rabbit1@localhost`... share one epmd on a free loopback port and one Erlang cookie;
each has its own HOME, data and log folders, AMQP, distribution and MQTT ports, and the
plugin file enabling `rabbitmq_mqtt`. Persistent MQTT sessions live in quorum queues
(`mqtt.durable_queue_type = quorum`), so a session outlives the node it was made on when a
majority of nodes remains.

Boot: every node starts at once (the server script from RabbitMQ's lib folder, run directly:
the /usr/sbin wrapper switches user), each is waited for with a real MQTT CONNECT, then nodes
2..N join node 1 one after the other (`stop_app`, `join_cluster`, `start_app`, as one
`rabbitmqctl eval`). Not classic_config peer discovery: with a parallel boot the client-id
tracker split and refused every CONNECT.
Always fresh data folders: a restart from old ones took minutes.

`kill(i)` is SIGKILL (a broker host dying); `close()` ends every process this object started,
by pid, and removes nothing it did not make.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from simulators.mosquitto import free_port

COOKIE = "PORTEDGETESTCLUSTERCOOKIE"


def find_rabbitmq() -> Path | None:
    """The lib folder's sbin (rabbitmq-server, rabbitmqctl), or None when not installed."""
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    epmd = shutil.which("epmd")
    if not found or epmd is None:
        return None
    return Path(found[-1]).parent


def mqtt_answers(port: int, timeout: float = 2.0) -> bool:
    """True when an MQTT 3.1.1 CONNECT on 127.0.0.1:port is accepted (CONNACK 0)."""
    client_id = b"portedge-probe-%d" % os.getpid()
    var = b"\x00\x04MQTT\x04\x02\x00\x05"  # protocol name, level 4, clean session, keepalive 5
    body = var + len(client_id).to_bytes(2, "big") + client_id
    packet = bytes([0x10, len(body)]) + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(packet)
            answer = b""
            while len(answer) < 4:
                chunk = s.recv(4 - len(answer))
                if not chunk:
                    return False
                answer += chunk
            ok = answer[0] == 0x20 and answer[3] == 0
            if ok:
                s.sendall(b"\xe0\x00")  # DISCONNECT
            return ok
    except OSError:
        return False


@dataclass
class RabbitNode:
    index: int
    home: Path
    mqtt_port: int
    amqp_port: int
    dist_port: int
    proc: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"rabbit{self.index}@localhost"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class RabbitCluster:
    size: int = 3
    workdir: Path | None = None
    boot_timeout_s: float = 240.0
    nodes: list[RabbitNode] = field(default_factory=list)
    boot_seconds: float | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds from start: up, joined

    def __post_init__(self) -> None:
        self.sbin = find_rabbitmq()
        if self.sbin is None:
            raise FileNotFoundError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self._own_dir = self.workdir is None
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="portedge-rabbit-"))
        self.epmd_port = free_port()
        self._epmd: subprocess.Popen | None = None
        for i in range(1, self.size + 1):
            self.nodes.append(RabbitNode(i, self.workdir / f"rabbit{i}", free_port(), free_port(), free_port()))

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> RabbitCluster:
        began = time.monotonic()
        try:
            self._epmd = subprocess.Popen(["epmd", "-port", str(self.epmd_port)], env=self._base_env(),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
            for node in self.nodes:
                self._prepare(node)
                self._launch(node)
            for node in self.nodes:
                self._wait_mqtt(node, began + self.boot_timeout_s)
            self.phases["up"] = time.monotonic() - began
            # one join at a time: two at once hung (both rabbitmqctl calls past 120 s, once in 5 boots)
            errors: list[str] = []
            for node in self.nodes[1:]:
                self._join(node, errors)
                if errors:
                    raise RuntimeError("; ".join(errors))
            self.phases["joined"] = time.monotonic() - began
            for node in self.nodes:
                self._wait_mqtt(node, began + self.boot_timeout_s)
        except BaseException:
            self.close()
            raise
        self.boot_seconds = time.monotonic() - began
        return self

    def kill(self, index: int) -> None:
        """SIGKILL node `index` (1-based): a broker host dying, no goodbye to anyone."""
        node = self.nodes[index - 1]
        if node.proc is not None and node.proc.poll() is None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(10)

    def close(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                try:
                    os.killpg(node.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                node.proc.wait(10)
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.kill()
            self._epmd.wait(10)
        if self._own_dir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RabbitCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(ERL_EPMD_PORT=str(self.epmd_port), ERL_EPMD_ADDRESS="127.0.0.1")
        return env

    def _env(self, node: RabbitNode) -> dict[str, str]:
        env = self._base_env()
        env.update(
            HOME=str(node.home), RABBITMQ_NODENAME=node.name, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(node.amqp_port), RABBITMQ_DIST_PORT=str(node.dist_port),
            RABBITMQ_CONFIG_FILE=str(node.home / "rabbitmq.conf"), RABBITMQ_MNESIA_BASE=str(node.home / "mnesia"),
            RABBITMQ_LOG_BASE=str(node.home / "log"), RABBITMQ_ENABLED_PLUGINS_FILE=str(node.home / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(node.home / "rabbit.pid"), RABBITMQ_ADVANCED_CONFIG_FILE=str(node.home / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(node.home / "rabbitmq-env.conf"),
            # +sbwt none: idle schedulers sleep instead of spinning (three VMs on a shared, busy
            # machine); +S 2:2 - more schedulers than cores only add switching
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} "
                                                "+sbwt none +sbwtdcpu none +sbwtdio none +S 2:2",
            RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            RUNNING_UNDER_SYSTEMD="true",  # the script then execs the VM: our pid is the broker's
        )
        return env

    def _prepare(self, node: RabbitNode) -> None:
        node.home.mkdir(parents=True, exist_ok=False)  # fresh data folders, always
        cookie = node.home / ".erlang.cookie"
        cookie.write_text(COOKIE)
        cookie.chmod(0o400)
        (node.home / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (node.home / "rabbitmq-env.conf").write_text("")
        (node.home / "advanced.config").write_text("[].\n")
        (node.home / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}",
            f"mqtt.listeners.tcp.default = 127.0.0.1:{node.mqtt_port}",
            "mqtt.allow_anonymous = true",
            "mqtt.durable_queue_type = quorum",
            "loopback_users = none",
            "log.console = false",
            "log.file.level = warning",
            "",
        ]))

    def _launch(self, node: RabbitNode) -> None:
        log = open(node.home / "server.out", "wb")  # noqa: SIM115 - the child keeps it
        try:
            node.proc = subprocess.Popen([str(self.sbin / "rabbitmq-server")], env=self._env(node), cwd=node.home,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()

    def _wait_mqtt(self, node: RabbitNode, deadline: float) -> None:
        while not mqtt_answers(node.mqtt_port):
            if not node.alive:
                raise RuntimeError(f"{node.name} exited while starting: {self._tail(node)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{node.name} did not accept MQTT within the boot timeout: {self._tail(node)}")
            time.sleep(0.25)

    def ctl(self, node: RabbitNode, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run([str(self.sbin / "rabbitmqctl"), "-n", node.name, *args], env=self._env(node),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {node.name}: {(done.stderr or done.stdout)[-400:]}")
        return done.stdout

    def _join(self, node: RabbitNode, errors: list[str]) -> None:
        # what `stop_app`, `join_cluster` and `start_app` do, in one rabbitmqctl call: each call
        # starts an Erlang VM, seconds apiece on a busy machine
        first = self.nodes[0].name
        code = f"ok = rabbit:stop(), ok = rabbit_mnesia:join_cluster('{first}', disc), ok = rabbit:start()."
        try:
            out = self.ctl(node, "eval", code)
            if out.strip() != "ok":
                errors.append(f"{node.name} did not join {first}: {out.strip()[-400:]}")
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            errors.append(str(err))

    @staticmethod
    def _tail(node: RabbitNode) -> str:
        try:
            return (node.home / "server.out").read_text(errors="replace")[-600:]
        except OSError:
            return "(no output)"
