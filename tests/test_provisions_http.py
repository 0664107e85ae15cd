"""Provisions over HTTP: the h1mock admin API on its own port, the folder watcher, the CLI.

In-process servers bind port 0; the CLI runs as a subprocess that prints its listening lines.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from pymock import provision_edge
from pymock.app import MockApp
from pymock.model import Request
from pymock.provision_edge import FolderWatcher, ProvisionAdmin, ProvisionService, make_admin_server
from pymock.provisions import DEFAULT_NAME, ProvisionManager
from pymock.testing import MockServer, wait_until

ROOT = Path(__file__).resolve().parents[1]
H1MOCK_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "h1mock-examples"
HELP_404 = b'<a href="https://github.com/testillano/h1mock#how-it-works">help here for mock provisions</a>'
GOOD = 'def registerRules():\n  app.add_url_rule("/v", "v", view_func=lambda: "{}")\n'


def fetch(base: str, method: str, path: str, body: bytes | None = None, headers=None):
    """One request on a fresh connection: (status, headers dict, body). Paths are sent as is."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def example_folder(tmp_path: Path) -> Path:
    if not H1MOCK_EXAMPLES.is_dir():
        pytest.skip(f"h1mock examples not found at {H1MOCK_EXAMPLES} (clone the repo next to shared/)")
    folder = tmp_path / "provision"
    folder.mkdir()
    for name in ("default", "foo-bar", "healthz"):
        shutil.copyfile(H1MOCK_EXAMPLES / name, folder / name)
    initial = H1MOCK_EXAMPLES / "initial"   # a symlink in h1mock; a text file in some checkouts
    os.symlink(os.readlink(initial) if initial.is_symlink() else initial.read_text().strip(), folder / "initial")
    return folder


class Stack:
    """A MockServer with provisions mounted and the admin listener, both on port 0."""

    def __init__(self, folder, config=None, admin_token=None):
        self.logged: list[str] = []
        self.app = MockApp(config or {"endpoints": [{"path": "/cfg", "response": "from config"}]},
                           admin_token=admin_token, log=self.logged.append)
        self.manager = ProvisionManager(folder, log=self.logged.append)
        self.app.mount(self.manager)
        self.manager.start()
        self.mock = MockServer(self.app).start()
        admin = make_admin_server(self.manager, "127.0.0.1", 0, admin_token=admin_token)
        self.service = ProvisionService(self.manager, admin, watch=False).start()
        self.url, self.admin = self.mock.base_url, f"http://127.0.0.1:{admin.server_address[1]}"

    def close(self):
        self.service.stop()
        self.mock.stop()
        self.mock.check()


@pytest.fixture
def stack(tmp_path):
    running = Stack(example_folder(tmp_path))
    yield running
    running.close()


# ---------------------------------------------------------------- h1mock's component tests


def test_h1mock_admin_keep_alive(stack):
    status, headers, body = fetch(stack.admin, "GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok", "provision": "initial"}


def test_h1mock_provision_then_traffic(stack, tmp_path):
    foo_bar = (H1MOCK_EXAMPLES / "foo-bar").read_bytes()
    status, _, body = fetch(stack.admin, "POST", "/app/v1/provision/myprovision", foo_bar)   # no Content-Type
    assert status == 201 and json.loads(body)["result"] == "success: basename file 'myprovision' has been loaded"
    status, _, body = fetch(stack.url, "GET", "/app/v1/foo/bar")
    assert status == 200 and json.loads(body)["resultData"] == "answering a get"
    default = (H1MOCK_EXAMPLES / "default").read_bytes()
    status, _, body = fetch(stack.admin, "POST", "/app/v1/provision/other_provision", default)
    assert status == 201 and json.loads(body)["result"] == "success: basename file 'other_provision' has been loaded"
    status, headers, body = fetch(stack.url, "GET", "/app/v1/any/path")
    assert (status, body, headers["content-type"]) == (404, HELP_404, "text/html")
    assert fetch(stack.url, "GET", "/app/v1/foo/bar")[0] == 404   # the newer provision replaced the routes
    assert Path(stack.manager.folder, "myprovision").read_bytes() == foo_bar


def test_get_reactivates_a_provision_file_and_touches_it(stack):
    before = os.stat(Path(stack.manager.folder, "healthz")).st_mtime_ns
    os.utime(Path(stack.manager.folder, "healthz"), ns=(before - 10**9, before - 10**9))
    status, _, body = fetch(stack.admin, "GET", "/app/v1/provision/healthz")
    assert status == 200 and json.loads(body)["result"] == "success: basename file 'healthz' has been loaded"
    assert fetch(stack.url, "GET", "/healthz")[2] == b"I'm here!"
    assert os.stat(Path(stack.manager.folder, "healthz")).st_mtime_ns > before - 10**9
    assert stack.manager.stamps["healthz"] == stack.manager.stamp("healthz")
    status, _, body = fetch(stack.admin, "GET", "/app/v1/provision/ghost")
    assert status == 404 and json.loads(body)["title"] == "No such provision"


def test_a_read_only_folder_still_reactivates_in_this_process(stack, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")
    monkeypatch.setattr(os, "utime", read_only)
    assert fetch(stack.admin, "GET", "/app/v1/provision/healthz")[0] == 200
    assert fetch(stack.url, "GET", "/healthz")[2] == b"I'm here!"


def test_listing_and_admin_misses(stack):
    status, _, body = fetch(stack.admin, "GET", "/app/v1/provision")
    listing = json.loads(body)
    assert status == 200 and listing["files"] == ["default", "foo-bar", "healthz", "initial"]
    assert listing["active"]["name"] == "initial" and listing["ok"] is True
    status, headers, _ = fetch(stack.admin, "DELETE", "/app/v1/provision/x")
    assert status == 405 and headers["allow"] == "GET, HEAD, POST"
    assert fetch(stack.admin, "GET", "/elsewhere")[0] == 404
    assert fetch(stack.admin, "HEAD", "/healthz")[0] == 200


# ---------------------------------------------------------------- refusals over the admin API


@pytest.mark.parametrize("source, stage, title, where", [
    (b"def registerRules(:\n  pass\n", "syntax", "Provision has a syntax error", ":1:"),
    (b"import no_such_module_xyz\n", "load", "Provision failed to load", ":1"),
    (b"def registerRules():\n  app.add_url_rule('/v', 'v', view_func=1/0)\n", "register", "registerRules() failed", ":2"),
    (b"def nothing(): pass\n", "register", "registerRules() failed", ""),
    (b"def registerRules():\n  app.add_url_rule('/a', 'a', view_func=f)\n  app.add_url_rule('/a', 'b', view_func=f)\ndef f(): pass\n",
     "conflict", "Provision rules conflict", ""),
])
def test_a_bad_provision_is_refused_and_the_previous_keeps_serving(stack, source, stage, title, where):
    assert fetch(stack.admin, "POST", "/app/v1/provision/good", GOOD.format("good").encode(),
                 {"Content-Type": "text/plain; charset=utf-8"})[0] == 201
    status, headers, body = fetch(stack.admin, "POST", "/app/v1/provision/bad", source,
                                  {"Content-Type": "text/plain"})
    problem = json.loads(body)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert (problem["title"], problem["stage"]) == (title, stage)
    assert problem["errors"][0]["path"].startswith(str(Path(stack.manager.folder, "bad")) + where)
    assert problem["result"].startswith("failed: ") and "still serving" in problem["detail"]
    assert not Path(stack.manager.folder, "bad").exists()
    assert fetch(stack.url, "GET", "/v")[2] == b"good"
    health = json.loads(fetch(stack.url, "GET", "/__admin/health")[2])
    assert health["status"] == "degraded" and health["provisions"]["last_attempt"]["error"]["stage"] == stage
    assert json.loads(fetch(stack.admin, "GET", "/healthz")[2])["status"] == "degraded"
    assert any("rejected" in line and "'good' is still serving" in line for line in stack.logged)


@pytest.mark.parametrize("path", ["/app/v1/provision/../../etc/cron.d/x", "/app/v1/provision/%2e%2e/x",
                                  "/app/v1/provision/a/.hidden", "/app/v1/provision/a%5cb",
                                  "/app/v1/provision/"])
def test_provision_names_cannot_escape_the_folder(stack, path):
    status, _, body = fetch(stack.admin, "POST", path, GOOD.format("x").encode())
    assert status == 400 and json.loads(body)["stage"] == "name"
    assert sorted(os.listdir(stack.manager.folder)) == ["default", "foo-bar", "healthz", "initial"]


def test_content_type_and_empty_body(stack):
    status, _, body = fetch(stack.admin, "POST", "/app/v1/provision/x", b"{}", {"Content-Type": "application/json"})
    assert status == 415 and json.loads(body)["result"] == "failed: content-type must be 'text/plain'"
    assert fetch(stack.admin, "POST", "/app/v1/provision/x", b"  \n")[0] == 400


def test_write_failure_is_a_500_and_nothing_changes(stack, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("pymock.provisions.atomic_write", no_space)
    status, _, body = fetch(stack.admin, "POST", "/app/v1/provision/x", GOOD.format("x").encode())
    assert status == 500 and "No space left" in json.loads(body)["detail"]
    assert stack.manager.active.name == "initial"


def test_admin_token_guards_the_provision_routes_but_not_healthz(tmp_path):
    running = Stack(tmp_path, admin_token="s3cret")
    try:
        assert fetch(running.admin, "GET", "/healthz")[0] == 200
        status, headers, _ = fetch(running.admin, "POST", "/app/v1/provision/x", GOOD.format("x").encode())
        assert status == 401 and "bearer" in headers["www-authenticate"].lower()
        assert fetch(running.admin, "POST", "/app/v1/provision/x", GOOD.format("x").encode(),
                     {"Authorization": "Bearer wrong"})[0] == 401
        assert fetch(running.admin, "POST", "/app/v1/provision/x", GOOD.format("x").encode(),
                     {"Authorization": "Bearer s3cret"})[0] == 201
    finally:
        running.close()


def test_a_view_exception_answers_500_and_the_server_keeps_serving(stack):
    source = b"def registerRules():\n  app.add_url_rule('/boom', 'boom', view_func=boom)\n\ndef boom():\n  return {}['missing']\n"
    assert fetch(stack.admin, "POST", "/app/v1/provision/boom", source)[0] == 201
    status, headers, body = fetch(stack.url, "GET", "/boom")
    assert status == 500 and headers["content-type"] == "application/problem+json"
    assert f"{Path(stack.manager.folder, 'boom')}:5" in json.loads(body)["detail"]
    assert any("Traceback" in line and "KeyError: 'missing'" in line for line in stack.logged)
    assert fetch(stack.url, "GET", "/cfg")[2] == b"from config"
    assert stack.mock.errors == []   # handled inside the provision, never escaped to the server


# ---------------------------------------------------------------- the folder watcher


def test_watcher_loads_new_and_touched_files_and_reports_bad_ones(tmp_path):
    manager = ProvisionManager(tmp_path)
    watcher = FolderWatcher(manager, interval=0.01)
    assert watcher.check_now() == []
    (tmp_path / "one").write_text(GOOD.format("1"))
    assert watcher.check_now() == ["one"] and manager.active.name == "one"
    assert watcher.check_now() == []
    (tmp_path / "bad").write_text("def registerRules(:")
    assert watcher.check_now() == ["bad"] and manager.active.name == "one"
    assert manager.health()["ok"] is False
    stamp = os.stat(tmp_path / "one").st_mtime_ns
    os.utime(tmp_path / "one", ns=(stamp + 10**9, stamp + 10**9))
    assert watcher.check_now() == ["one"] and manager.health()["ok"] is True


def test_watcher_skips_what_the_admin_api_just_loaded(tmp_path):
    manager = ProvisionManager(tmp_path)
    watcher = FolderWatcher(manager)
    manager.save_and_activate("posted", GOOD.format("p").encode())
    assert watcher.check_now() == []


def test_on_a_simultaneous_update_initial_wins(tmp_path):
    manager = ProvisionManager(tmp_path)
    watcher = FolderWatcher(manager)
    for name in ("zeta", "initial", "alpha"):
        (tmp_path / name).write_text(GOOD.format(name))
        os.utime(tmp_path / name, ns=(10**18, 10**18))
    assert watcher.check_now() == ["alpha", "zeta", "initial"] and manager.active.name == "initial"


def test_watcher_thread_survives_errors(tmp_path, monkeypatch):
    logged = []
    manager = ProvisionManager(tmp_path, log=logged.append)
    watcher = FolderWatcher(manager, interval=0.01)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return []
    monkeypatch.setattr(watcher, "check_now", flaky)
    watcher.start()
    try:
        wait_until(lambda: len(calls) >= 3, message="the watcher to keep polling")
    finally:
        watcher.stop()
    assert "provision watcher error: RuntimeError('disk hiccup')" in logged


def test_service_without_admin_or_watch_is_inert(tmp_path):
    service = ProvisionService(ProvisionManager(tmp_path), None, watch=False).start()
    service.stop()
    assert service.watcher is None and provision_edge.DEFAULT_ADMIN_PORT == 8074


def test_admin_app_answers_in_process(tmp_path):
    admin = ProvisionAdmin(ProvisionManager(tmp_path))
    response = admin.handle(Request("POST", "/app/v1/provision/a", body=GOOD.format("a").encode()))
    assert response.status == 201 and admin.limits.max_body_bytes > 0


# ---------------------------------------------------------------- the CLI


class Running:
    """``mock_server.py`` in a subprocess; the first stdout line is the traffic URL."""

    def __init__(self, *args, cwd=ROOT):
        command = [sys.executable, str(ROOT / "mock_server.py"), "--port", "0", *args]
        self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.stderr_lines: list[str] = []
        self.url = self._line("listening on ")
        self.admin = self._line("provision admin on ") if "--allow-provisions" in args else None
        threading.Thread(target=self._drain, daemon=True).start()

    def _line(self, prefix):
        line = self.process.stdout.readline().strip()
        if not line.startswith(prefix):
            self.process.kill()
            raise AssertionError(f"expected {prefix!r}, got {line!r}: {self.process.stderr.read()}")
        return line.removeprefix(prefix)

    def _drain(self):
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.rest_of_stdout = self.process.stdout.read()
        self.process.stdout.close()
        return code


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "mock_server.py"), "--port", "0", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--provisions", "{dir}"], "add --allow-provisions to allow it"),
    (["--allow-provisions"], "--allow-provisions needs --provisions DIR"),
    (["--admin-port", "0"], "--admin-port serves the provision admin API"),
    (["--provisions", "{dir}/missing", "--allow-provisions"], "does not exist"),
])
def test_cli_refuses_provisions_unless_the_operator_allows_them(tmp_path, args, message):
    result = run_cli(*[a.format(dir=tmp_path) for a in args])
    assert result.returncode == 2 and result.stdout == "" and message in result.stderr


def test_cli_without_provisions_has_no_admin_listener(tmp_path):
    server = Running(cwd=tmp_path)
    try:
        assert fetch(server.url, "GET", "/app/v1/provision")[0] == 404
    finally:
        assert server.stop() == 0
    assert server.rest_of_stdout == ""   # the listening line only: no admin listener
    assert not any("provision '" in line for line in server.stderr_lines)   # nothing was loaded


def test_cli_kubectl_flow_drop_a_file_into_the_folder(tmp_path):
    folder = example_folder(tmp_path)
    server = Running("--provisions", str(folder), "--allow-provisions", "--admin-port", "0",
                     "--watch-interval", "0.05", cwd=tmp_path)
    try:
        status, _, body = fetch(server.url, "GET", "/any/path/")
        assert status == 404 and body.splitlines()[-1] == HELP_404
        shutil.copyfile(H1MOCK_EXAMPLES / "foo-bar", folder / "foo-bar-dropped")
        wait_until(lambda: fetch(server.url, "GET", "/app/v1/foo/bar")[0] == 200, message="the dropped provision")
        body = fetch(server.url, "GET", "/app/v1/foo/bar")[2]
        assert body.strip() == b'{"resultCode":0,"resultData":"answering a get"}'
        assert fetch(server.admin, "GET", "/healthz")[0] == 200
    finally:
        assert server.stop() == 0
    assert any("provision 'foo-bar-dropped' live (file changed)" in line for line in server.stderr_lines)


def test_cli_bad_initial_starts_anyway_and_reports(tmp_path):
    (tmp_path / "initial").write_text("def registerRules(:\n")
    server = Running("--provisions", str(tmp_path), "--allow-provisions", "--admin-port", "0", cwd=tmp_path)
    try:
        health = json.loads(fetch(server.url, "GET", "/__admin/health")[2])
        assert health["status"] == "degraded" and health["provisions"]["active"]["name"] == DEFAULT_NAME
        status, _, body = fetch(server.url, "GET", "/x")
        problem = json.loads(body)
        assert status == 404 and f"{tmp_path / 'initial'} does not exist" in problem["detail"]
        assert "POST it to the admin port" in problem["hint"]
        request = urllib.request.Request(server.admin + "/app/v1/provision/fixed", data=GOOD.format("ok").encode(),
                                         method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        assert fetch(server.url, "GET", "/v")[2] == b"ok"
    finally:
        assert server.stop() == 0
    assert any("SyntaxError" in line for line in server.stderr_lines)


def test_cli_admin_port_in_use_is_a_clear_error(tmp_path):
    blocker = Running(cwd=tmp_path)
    try:
        port = blocker.url.rsplit(":", 1)[1]
        result = run_cli("--provisions", str(tmp_path), "--allow-provisions", "--admin-port", port)
        assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        blocker.stop()
