"""The sweep's own dask cluster: only its owner can use it, and it serves no HTTP.

Another process (here: a subprocess; on a shared machine: another user) tries to connect to the
scheduler without credentials, over plain TCP, and with TLS credentials of its own; it must not
connect, so it cannot run code in the sweep's workers (the code it submits would create a file).
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.adversarial

ATTACK = """
import os
import sys
from dask.distributed import Client
from distributed.security import Security

address, marker = sys.argv[1], sys.argv[2]
attempts = {
    "no credentials": (address, {}),
    "plain tcp": (address.replace("tls://", "tcp://"), {}),
    "credentials of another CA": (address, {"security": Security.temporary()}),
}
for number, (name, (where, options)) in enumerate(attempts.items()):
    try:
        client = Client(where, timeout="3s", **options)
    except Exception as error:
        print("REFUSED", name, type(error).__name__)
        continue
    print("CONNECTED", name)
    client.submit(os.makedirs, f"{marker}-{number}", pure=False).result(timeout=10)
"""


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("dask.distributed")
    pytest.importorskip("cryptography")
    from alrnn_neuro.sweep.cluster import close, start_local_cluster

    client, local = start_local_cluster(1)
    yield client, local
    close(client, local)


def test_the_owner_runs_code_over_tls_on_localhost(cluster):
    client, local = cluster
    assert local.scheduler_address.startswith("tls://127.0.0.1:")
    assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6


def test_another_process_cannot_run_code_on_the_scheduler(cluster, tmp_path):
    _, local = cluster
    marker = tmp_path / "PWNED"
    done = subprocess.run(
        [sys.executable, "-c", ATTACK, local.scheduler_address, str(marker)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("CONNECTED", "REFUSED"))]
    assert len(lines) == 3, done.stdout + done.stderr
    assert all(line.startswith("REFUSED") for line in lines), lines
    assert not list(tmp_path.glob("PWNED*"))


def test_no_http_server_listens(cluster):
    psutil = pytest.importorskip("psutil")
    client, _ = cluster
    me = psutil.Process()
    pids = [me.pid] + [child.pid for child in me.children(recursive=True)]
    ports = sorted(
        {
            c.laddr.port
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids
        }
    )
    assert ports, "the cluster listens nowhere?"
    for port in ports:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(2)
            sock.sendall(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
            try:
                reply = sock.recv(64)
            except (TimeoutError, ConnectionResetError):
                reply = b""
        assert not reply.startswith(b"HTTP/"), f"an HTTP server answers on port {port}"


def test_a_worker_ignores_sigint(cluster):
    import signal

    client, _ = cluster
    handlers = client.run(lambda: signal.getsignal(signal.SIGINT) == signal.SIG_IGN)
    assert handlers and all(handlers.values())
