"""``--workers N``: processes sharing one port, config reloads reaching each, clean shutdown.

The CLI runs in a subprocess with ``--debug-worker-id`` so every response names the process
that answered it (``X-Pymock-Worker``). Requests use fresh connections so the kernel (or the
accept race) spreads them across workers.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pymock import workers
from pymock.model import Request, Response
from pymock.testing import wait_until
from pymock.workers import WORKER_HEADER, Listener, WorkerTag, run_workers

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork")


def get(url: str, path: str, method: str = "GET", body: bytes | None = None):
    """(status, worker pid, body) over a fresh connection."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "text/plain"} if body else {})
        response = conn.getresponse()
        return response.status, response.getheader(WORKER_HEADER), response.read()
    finally:
        conn.close()


STARTED: list = []   # every server a test started, stopped at teardown whatever happened


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    yield
    while STARTED:
        process = STARTED.pop().process
        if process.poll() is None:   # a test failed before stopping it
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Workers:
    """``mock_server.py --workers N --debug-worker-id`` in a subprocess."""

    def __init__(self, *args, env=None):
        command = [sys.executable, str(ROOT / "mock_server.py"), "--port", "0", "--debug-worker-id",
                   "--watch-interval", "0.05", *args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        STARTED.append(self)
        self.stderr_lines: list[str] = []
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, self._fail())
        self.url = line.removeprefix("listening on ")
        self.admin = None
        if "--allow-provisions" in args:
            self.admin = self.process.stdout.readline().strip().removeprefix("provision admin on ")
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _fail(self):
        self.process.kill()
        return self.process.stderr.read()

    def _drain(self):
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def pids_serving(self, path: str, expected: bytes, count: int) -> set:
        """Ask on fresh connections until ``count`` distinct workers answered ``expected``."""
        seen: set = set()

        def enough():
            for _ in range(8):
                try:
                    status, pid, body = get(self.url, path)
                except ConnectionError:   # queued on a worker that was just killed: retried
                    continue
                if status == 200 and body == expected:
                    seen.add(pid)
            return len(seen) >= count
        wait_until(enough, timeout=10, message=f"{count} workers answering {expected!r}")
        return seen

    def stop(self, signum=signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=20)
        self.process.stdout.close()
        self._reader.join(timeout=10)   # every stderr line read before the test looks at them
        return code


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


def child_pids(parent: int) -> set:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return {int(p) for p in children.read_text().split()} if children.exists() else set()


def write_config(path: Path, text: str) -> None:
    path.write_text(json.dumps({"endpoints": [{"path": "/v", "response": text}]}))


@pytest.mark.parametrize("mode", ["reuseport", "shared"])
def test_two_workers_answer_and_a_config_change_reaches_both(tmp_path, mode):
    if mode == "reuseport" and not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this platform")
    config = tmp_path / "config.json"
    write_config(config, "one")
    server = Workers(str(config), "--workers", "2", env={"PYMOCK_WORKER_SOCKET": mode})
    try:
        pids = server.pids_serving("/v", b"one", 2)
        assert len(pids) == 2 and str(server.process.pid) not in pids
        if Path("/proc").is_dir():
            assert {int(p) for p in pids} == child_pids(server.process.pid)
        write_config(config, "two")
        assert server.pids_serving("/v", b"two", 2) == pids   # each worker reloaded by itself
    finally:
        assert server.stop() == 0
    for pid in pids:
        wait_until(lambda: not alive(int(pid)), message=f"worker {pid} to exit")
    assert sum("stopped" in line for line in server.stderr_lines) == 2


def test_sighup_reloads_every_worker(tmp_path):
    config = tmp_path / "config.json"
    write_config(config, "one")
    server = Workers(str(config), "--workers", "2", "--no-watch")
    try:
        pids = server.pids_serving("/v", b"one", 2)
        write_config(config, "two")
        server.process.send_signal(signal.SIGHUP)
        assert server.pids_serving("/v", b"two", 2) == pids
    finally:
        assert server.stop() == 0


def test_a_dead_worker_is_replaced(tmp_path):
    config = tmp_path / "config.json"
    write_config(config, "one")
    server = Workers(str(config), "--workers", "2")
    try:
        pids = server.pids_serving("/v", b"one", 2)
        victim = int(sorted(pids)[0])
        os.kill(victim, signal.SIGKILL)
        fresh = server.pids_serving("/v", b"one", 2)
        assert str(victim) not in fresh and len(fresh) == 2
    finally:
        assert server.stop() == 0
    assert any(f"(pid {victim}) exited (killed by signal 9)" in line for line in server.stderr_lines)


def test_workers_leave_when_the_parent_is_killed(tmp_path):
    config = tmp_path / "config.json"
    write_config(config, "one")
    server = Workers(str(config), "--workers", "2")
    pids = [int(p) for p in server.pids_serving("/v", b"one", 2)]
    server.process.kill()   # SIGKILL: no chance to stop its workers
    server.process.wait(timeout=10)
    server.process.stdout.close()
    for pid in pids:
        wait_until(lambda: not alive(pid), timeout=10, message=f"orphaned worker {pid} to exit")


def test_provisions_posted_to_one_worker_reach_every_worker(tmp_path):
    (tmp_path / "prov").mkdir()
    source = b'def registerRules():\n  app.add_url_rule("/p", "p", view_func=lambda: "posted")\n'
    server = Workers("--workers", "2", "--provisions", str(tmp_path / "prov"), "--allow-provisions",
                     "--admin-port", "0")
    try:
        status, _pid, body = get(server.admin, "/app/v1/provision/mine", "POST", source)
        assert status == 201, body
        assert len(server.pids_serving("/p", b"posted", 2)) == 2
        assert get(server.admin, "/healthz")[0] == 200
    finally:
        assert server.stop() == 0


def test_bad_worker_flags_exit_2(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "mock_server.py"), "--port", "0", "--workers", "0"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--workers must be 1 or more" in result.stderr


def test_port_in_use_with_workers_is_a_clear_error(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        for mode in ("reuseport", "shared"):
            result = subprocess.run([sys.executable, str(ROOT / "mock_server.py"), "--port", str(port),
                                     "--workers", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                                    env={**os.environ, "PYMOCK_WORKER_SOCKET": mode})
            assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        blocker.close()


# ---------------------------------------------------------------- in-process pieces


def test_listener_modes_and_urls(monkeypatch):
    monkeypatch.setenv("PYMOCK_WORKER_SOCKET", "shared")
    assert workers.socket_mode() == "shared"
    monkeypatch.setenv("PYMOCK_WORKER_SOCKET", "reuseport")
    assert workers.socket_mode() == ("reuseport" if hasattr(socket, "SO_REUSEPORT") else "shared")
    monkeypatch.setenv("PYMOCK_WORKER_SOCKET", "auto")
    assert workers.socket_mode() == ("reuseport" if sys.platform.startswith("linux") else "shared")
    shared = Listener("127.0.0.1", 0, mode="shared")
    try:
        assert shared.url() == f"http://127.0.0.1:{shared.port}" and shared.url("https").startswith("https://")
        server = shared.server(WorkerTag(_Fixed()))
        assert server.server_address[1] == shared.port
        server.server_close()
    finally:
        shared.close()
    if socket.has_ipv6:
        try:
            six = Listener("::1", 0, mode="shared")
        except OSError:
            return
        assert six.url() == f"http://[::1]:{six.port}"
        six.close()


class _Fixed:
    limits = None
    marker = "delegated"

    def __init__(self):
        self.plan = Response(200, [("X-A", "1")], b"ok")

    def handle(self, request):
        return self.plan


def test_worker_tag_names_the_process_without_piling_up_headers():
    tagged = WorkerTag(_Fixed(), tag="w1")
    for _ in range(3):
        response = tagged.handle(Request("GET", "/"))
    assert [v for k, v in response.headers if k == WORKER_HEADER] == ["w1"]
    assert tagged.marker == "delegated" and tagged.limits is None
    assert WorkerTag(_Fixed()).tag == str(os.getpid())


def test_supervisor_gives_up_when_workers_keep_dying():
    logged = []
    assert run_workers(2, lambda index, parent, ready: 3, log=logged.append) == 1
    assert any("exited (exit code 3)" in line for line in logged)
    assert logged[-1] == "workers: workers keep dying; stopping (see the errors above)"


def test_supervisor_stops_its_workers_on_sigterm():
    read_end, write_end = os.pipe()
    started: list[int] = []

    def worker(index, parent, ready):
        ready()
        os.write(write_end, f"{os.getpid()}\n".encode())
        time.sleep(60)   # until the supervisor's SIGTERM
        return 0

    def terminate_when_both_started():
        seen = b""
        while seen.count(b"\n") < 2:
            seen += os.read(read_end, 1024)
        started.extend(int(line) for line in seen.split())
        os.kill(os.getpid(), signal.SIGTERM)   # handled by the supervisor, restored afterwards

    previous = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_when_both_started, daemon=True).start()
    try:
        assert run_workers(2, worker) == 0
    finally:
        os.close(read_end)
        os.close(write_end)
    assert signal.getsignal(signal.SIGTERM) is previous and len(started) == 2
    for pid in started:
        assert not alive(pid)


def test_signalling_and_waiting_tolerate_processes_that_are_gone():
    workers._signal(2 ** 22 + 12345, signal.SIGTERM)   # above Linux's pid_max: ESRCH, ignored
    workers._wait(os.getpid())                         # not our child: ignored
    assert workers._describe(3 << 8) == "exit code 3"
    assert workers._describe(signal.SIGKILL) == f"killed by signal {int(signal.SIGKILL)}"


def test_module_doctests():
    import doctest
    assert doctest.testmod(workers).failed == 0
