"""The web server's workers share a burst of keep-alive connections fairly (``core.server``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qualitycity.core.server import may_accept


def test_a_worker_holding_more_than_its_least_loaded_sibling_plus_one_waits():
    assert may_accept(0, [])  # alone: always
    assert may_accept(3, [2]) and may_accept(3, [3, 9])
    assert not may_accept(3, [1]) and not may_accept(5, [7, 2])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _established_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED, server side
                inodes.add(fields[9])
    return inodes


def _connections_per_worker(server_pid: int, port: int) -> list[int]:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    inodes = _established_inodes(port)
    counts = []
    for pid in children:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts.append(held)
    return sorted(counts)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_sixteen_connections_opened_at_once_are_split_between_two_workers(tmp_path):
    env = dict(os.environ, QUALITYCITY_HOME=str(tmp_path / "home"))
    env.pop("DATABASE_URL", None)
    run = [sys.executable, "-m", "qualitycity"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True, capture_output=True)  # noqa: S603
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own command
        [*run, "serve", "--port", str(port), "--workers", "2", "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conns: list[socket.socket] = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.time() < deadline, "the server did not start"
                time.sleep(0.2)
        time.sleep(1.0)  # both workers up
        request = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        for c in conns:
            c.sendall(request)
        for c in conns:
            c.settimeout(10)
            assert c.recv(12).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)
        counts = _connections_per_worker(server.pid, port)
        assert sum(counts) == 16 and len(counts) == 2
        assert counts[1] - counts[0] <= 2, counts  # 8/8 or 7/9, never 16/0 or 13/3
    finally:
        for c in conns:
            c.close()
        server.terminate()
        server.wait(timeout=30)
