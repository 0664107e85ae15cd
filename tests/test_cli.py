"""The command line, run as a user runs it: a subprocess, the first line, signals, exit codes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pymock.testing import wait_until

ROOT = Path(__file__).resolve().parents[1]


class Running:
    """A ``mock_server.py`` subprocess; ``url`` comes from its first stdout line."""

    def __init__(self, *args, cwd=ROOT, script=None, python_flags=()):
        command = [sys.executable, *python_flags, str(script or ROOT / "mock_server.py"), "--port", "0", *args]
        self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.first_line = self.process.stdout.readline().strip()
        self.stderr_lines = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        assert self.first_line.startswith("listening on http://127.0.0.1:"), (self.first_line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = self.first_line.removeprefix("listening on ")

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def get(self, path, **kwargs):
        request = urllib.request.Request(self.url + path, **kwargs)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self, signum=signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=10)
        self.process.stdout.close()
        self._reader.join(timeout=5)
        self.process.stderr.close()
        return code


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=30)


def test_demo_config_serves_and_sigterm_exits_zero():
    server = Running()
    try:
        assert server.get("/api/endpoint") == (200, b'{"data": "value"}')
        status, body = server.get("/users/7")
        assert status == 200 and json.loads(body)["id"] == "7"
        assert server.get("/__admin/health")[0] == 200
    finally:
        assert server.stop() == 0


def test_sigint_also_exits_zero():
    server = Running()
    assert server.stop(signal.SIGINT) == 0


def test_bad_config_exits_2_with_every_problem(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"endpoints": [{"path": "/a", "staus": 1}, {"path": "b"}]}))
    result = run("--port", "0", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"pymock: 2 problems in {path}:" in result.stderr
    assert "1. endpoints[0].staus: unknown key (did you mean 'status'?)" in result.stderr
    assert "2. endpoints[1].path: must start with '/'" in result.stderr


def test_json_syntax_error_exits_2_naming_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"endpoints": [\n  {"path": "/a"\n]}')
    result = run("--config", str(path), "--port", "0")
    assert result.returncode == 2
    assert f"{path}:3:1: JSON syntax error" in result.stderr


def test_missing_named_config_exits_2(tmp_path):
    result = run("--port", "0", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "cannot read config file" in result.stderr


def test_no_default_config_serves_nothing_with_a_note(tmp_path):
    server = Running(cwd=tmp_path)
    try:
        assert server.get("/anything")[0] == 404
    finally:
        assert server.stop() == 0
    assert any("no config.json here" in line for line in server.stderr_lines)


def test_check_command(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"endpoints": [{"path": "/a"}]}))
    result = subprocess.run([sys.executable, "-m", "pymock", "check", str(good)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout.strip()) == (0, f"{good}: ok, 1 endpoints")
    bad = tmp_path / "bad.json"
    bad.write_text("{}x")
    result = subprocess.run([sys.executable, "-m", "pymock", "check", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "JSON syntax error" in result.stderr


def test_version_flag():
    result = run("--version")
    from pymock import __version__
    assert result.stdout.strip() == f"pymock {__version__}"


def test_port_in_use_is_a_clear_error():
    server = Running()
    try:
        port = server.url.rsplit(":", 1)[1]
        result = run("--port", port)
        assert result.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "try --port 0" in result.stderr
    finally:
        server.stop()


def test_file_change_is_hot_reloaded_and_a_bad_change_keeps_the_old_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"path": "/v", "response": "one"}]}))
    server = Running(str(path), "--watch-interval", "0.05")
    try:
        assert server.get("/v") == (200, b"one")
        path.write_text(json.dumps({"endpoints": [{"path": "/v", "response": "two!"}]}))
        wait_until(lambda: server.get("/v") == (200, b"two!"), message="the reload")
        path.write_text('{"endpoints": [')
        wait_until(lambda: json.loads(server.get("/__admin/health")[1])["status"] == "degraded",
                   message="the rejected reload")
        assert server.get("/v") == (200, b"two!")
    finally:
        assert server.stop() == 0
    assert any("rejected, previous config still serving" in line for line in server.stderr_lines)


def test_admin_token_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMOCK_ADMIN_TOKEN", "tok")
    server = Running()
    try:
        assert server.get("/__admin/health")[0] == 401
        assert server.get("/__admin/health", headers={"Authorization": "Bearer tok"})[0] == 200
    finally:
        server.stop()


def test_vendored_copy_runs_without_site_packages(tmp_path):
    vendored = tmp_path / "other-repo" / "tests"
    vendored.mkdir(parents=True)
    shutil.copy(ROOT / "mock_server.py", vendored)
    shutil.copytree(ROOT / "pymock", vendored / "pymock", ignore=shutil.ignore_patterns("__pycache__"))
    (vendored / "config.json").write_text(json.dumps({"endpoints": [{"path": "/vendored", "response": {"ok": True}}]}))
    server = Running(cwd=vendored, script=vendored / "mock_server.py", python_flags=("-S",))
    try:
        assert server.get("/vendored") == (200, b'{"ok": true}')
    finally:
        assert server.stop() == 0


def test_json_log_format(tmp_path):
    server = Running("--log-format", "json")
    try:
        server.get("/api/endpoint", headers={"X-Request-Id": "trace-1"})
        wait_until(lambda: any('"type": "access"' in line for line in server.stderr_lines),
                   message="the access line")
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.stderr_lines if line.strip()]
    assert all(line["message"] and line["time"] for line in lines)
    access = [line for line in lines if line.get("type") == "access"]
    assert [(a["method"], a["path"], a["status"], a["request_id"]) for a in access] == [
        ("GET", "/api/endpoint", 200, "trace-1")]


@pytest.mark.parametrize("args, env, message", [
    (["--port", "70000"], {}, "port 70000 is out of range 0-65535"),
    ([], {"PYMOCK_PORT": "abc"}, "not a port number: 'abc' (from --port or PYMOCK_PORT)"),
])
def test_bad_ports_are_usage_errors(args, env, message):
    result = subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env={**os.environ, **env})
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary to make a test certificate")
def test_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    command = [sys.executable, str(ROOT / "mock_server.py"), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on https://127.0.0.1:")
        import ssl
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(line.removeprefix("listening on ") + "/api/endpoint", context=context, timeout=10) as response:
            assert response.read() == b'{"data": "value"}'
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_tls_with_missing_files_is_a_clear_error(tmp_path):
    result = run("--port", "0", "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem"))
    assert result.returncode == 2 and "c.pem" in result.stderr


def test_vendored_pytest_fixture_through_conftest(tmp_path):
    shutil.copytree(ROOT / "pymock", tmp_path / "pymock", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "conftest.py").write_text(
        "def pytest_configure(config):\n"
        "    if not config.pluginmanager.has_plugin('pymock'):\n"
        "        config.pluginmanager.import_plugin('pymock.pytest_plugin')\n")
    (tmp_path / "test_client.py").write_text(
        "from urllib.request import urlopen\n\n"
        "def test_client(pymock_server):\n"
        "    pymock_server.add({'path': '/ping', 'response': {'ok': True}})\n"
        "    assert urlopen(pymock_server.url('/ping')).read() == b'{\"ok\": true}'\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
