"""The docs are executed, so they cannot drift from the code.

- ``>>>`` examples in ``pycon`` blocks (LEARNING.md, docs/testing.md, README.md) run as doctests.
- ``console`` blocks (README.md, docs/admin.md) run as a user would type them: ``python
  mock_server.py ...`` starts the real CLI (in a temp folder holding a copy of the demo
  ``config.json``), ``curl ...`` is replayed over HTTP, and each output must match what the
  page shows. ``diff`` blocks are applied to that ``config.json`` (hot reload).
- ``python`` blocks are executed; ``test_*`` functions in them are called with fixtures.
- Every relative link resolves, every admin route is in docs/admin.md, every ``serve`` flag
  and ``PYMOCK_*`` variable is documented, the README holds the exact CI test command, and
  every ``pymock.x.y`` name and file path the guides mention exists.

Shown outputs may use ``...`` (doctest ELLIPSIS) for parts that change from run to run;
whitespace runs compare equal; the port is shown as 8080; ISO times, ``Date:`` headers and
``[HH:MM:SS]`` log clocks compare equal to any other time.
"""

from __future__ import annotations

import argparse
import doctest
import http.client
import importlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pymock.admin import ADMIN_ROUTES
from pymock.cli import build_parser
from pymock.testing import MockServer, wait_until

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README, LEARNING = ROOT / "README.md", ROOT / "LEARNING.md"
GUIDES = [README, LEARNING, DOCS / "index.md", DOCS / "admin.md", DOCS / "testing.md"]
CI_TEST_COMMAND = ('python -m pip install -e ".[dev]" && '
                   "python -m pytest --json-report --json-report-file=pytest_results.json")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
SHOWN_PORT = 8080
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)[^\n]*\n(.*?)^\1\s*$", re.M | re.S)


def markdown_files() -> list[Path]:
    return [README, LEARNING, *sorted(DOCS.glob("*.md"))]


def fenced_blocks(text: str):
    """``(language, first_line_number, body)`` for each fenced block, in order."""
    for found in FENCE.finditer(text):
        yield found.group(2).lower(), text.count("\n", 0, found.start(3)) + 1, found.group(3)


# ---------------------------------------------------------------- doctests in pycon blocks

def _doctest_text(text: str) -> str:
    """Only the ``pycon`` blocks, other lines blanked, so doctest line numbers stay right."""
    lines = [""] * (text.count("\n") + 1)
    for language, first, body in fenced_blocks(text):
        if language == "pycon":
            for offset, line in enumerate(body.splitlines()):
                lines[first - 1 + offset] = line
    return "\n".join(lines)


@pytest.mark.parametrize("path, minimum", [(LEARNING, 100), (DOCS / "testing.md", 50), (README, 5)],
                         ids=lambda value: value.name if isinstance(value, Path) else str(value))
def test_pycon_examples_pass_as_doctests(path, minimum, capsys):
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(_doctest_text(text), {"__name__": "__main__"},
                                               path.name, str(path), 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        result = runner.run(test)
    finally:
        test.globs.clear()
    report = capsys.readouterr().out
    assert result.failed == 0, f"{result.failed} failing example(s) in {path.name}:\n{report}"
    assert result.attempted >= minimum, f"only {result.attempted} examples ran in {path.name}"


# ---------------------------------------------------------------- python blocks

def _fixture(name: str, stack: list, tmp_path: Path):
    if name == "pymock_server":
        server = MockServer({"endpoints": []}).start()
        stack.append(server)
        return server
    if name == "tmp_path":
        return tmp_path
    raise AssertionError(f"a docs example asks for fixture {name!r}, which test_docs.py does not provide")


@pytest.mark.parametrize("path", [README, DOCS / "testing.md"], ids=lambda p: p.name)
def test_python_blocks_run_and_their_tests_pass(path, tmp_path):
    ran = 0
    for language, line, body in fenced_blocks(path.read_text(encoding="utf-8")):
        if language != "python":
            continue
        namespace: dict = {"__name__": f"docs_example_{line}"}
        exec(compile(body, f"{path.name}:{line}", "exec"), namespace)
        for name, function in list(namespace.items()):
            if name.startswith("test_") and callable(function):
                stack: list = []
                try:
                    names = function.__code__.co_varnames[:function.__code__.co_argcount]
                    function(*[_fixture(arg, stack, tmp_path) for arg in names])
                finally:
                    for server in stack:
                        server.stop()
                for server in stack:
                    server.check()
                ran += 1
    assert ran >= 1, f"no test_* function ran from the python blocks of {path.name}"


def test_pytest_plugin_provides_the_documented_fixture():
    plugin = importlib.import_module("pymock.pytest_plugin")
    assert "pymock_server" in plugin.__all__


# ---------------------------------------------------------------- console sessions

@dataclass
class Step:
    """A ``console`` command with the output shown under it, or a ``diff`` edit of config.json."""

    kind: str             # "command" or "diff"
    line: int
    command: str = ""
    expected: str = ""
    old: str = ""
    new: str = ""


def session_steps(text: str) -> list[Step]:
    """The ``console`` commands (with the output shown under each) and ``diff`` edits, in order."""
    steps: list[Step] = []
    for language, first, body in fenced_blocks(text):
        if language == "diff":
            old = [l[1:] for l in body.splitlines() if l[:1] in (" ", "-")]
            new = [l[1:] for l in body.splitlines() if l[:1] in (" ", "+")]
            steps.append(Step("diff", first, old="\n".join(old), new="\n".join(new)))
        elif language == "console":
            current = None
            for offset, line in enumerate(body.splitlines()):
                if line.startswith("$ "):
                    current = Step("command", first + offset, command=line[2:].strip())
                    steps.append(current)
                elif current is not None:
                    current.expected += line + "\n"
    return steps


def normalize(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)", "<TIME>", text)
    text = re.sub(r"(?m)^Date: .*$", "Date: <DATE>", text)
    return re.sub(r"(?m)^\[\d\d:\d\d:\d\d\]", "[<CLOCK>]", text)


def output_matches(expected: str, actual: str) -> bool:
    return doctest.OutputChecker().check_output(normalize(expected), normalize(actual), FLAGS)


class Curl:
    """The part of curl the docs use: -s -S -i -X -H -d -o /dev/null -w '%{http_code}\\n'."""

    def __init__(self, port: int):
        self.port = port

    def run(self, command: str) -> str:
        words = shlex.split(command)
        assert words[0] == "curl", command
        method, headers, data, url = None, [], None, None
        include = show_errors = discard = False
        write_out = ""
        args = iter(words[1:])
        for word in args:
            if word in ("-X", "--request"):
                method = next(args)
            elif word in ("-H", "--header"):
                name, _, value = next(args).partition(":")
                headers.append((name.strip(), value.strip()))
            elif word in ("-d", "--data"):
                data = next(args).encode()
            elif word == "-o":
                discard = next(args) == "/dev/null"
            elif word == "-w":
                write_out = next(args)
            elif re.fullmatch(r"-[siS]+", word):
                include = include or "i" in word
                show_errors = show_errors or "S" in word
            elif not word.startswith("-"):
                url = word
            else:
                raise AssertionError(f"the docs test's curl does not know {word!r} (in: {command})")
        return self._request(method, url, headers, data, include, show_errors, discard, write_out)

    def _request(self, method, url, headers, data, include, show_errors, discard, write_out) -> str:
        parts = urlsplit(url if "://" in url else "http://" + url)
        assert parts.port == SHOWN_PORT, f"docs examples use port {SHOWN_PORT}: {url}"
        method = method or ("POST" if data is not None else "GET")
        if data is not None and not any(n.lower() == "content-type" for n, _ in headers):
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            connection.putrequest(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                                  skip_host=True, skip_accept_encoding=True)
            for name, value in [("Host", parts.netloc), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*"), *headers]:
                connection.putheader(name, value)
            if data is not None:
                connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
        except ConnectionResetError:
            return "curl: (56) Recv failure: Connection reset by peer\n" if show_errors else ""
        except http.client.RemoteDisconnected:
            return "curl: (52) Empty reply from server\n" if show_errors else ""
        finally:
            connection.close()
        out = ""
        if include:
            out += f"HTTP/{'1.1' if response.version == 11 else '1.0'} {response.status} {response.reason}\n"
            out += "".join(f"{name}: {value}\n" for name, value in response.getheaders()) + "\n"
        if not discard:
            out += body
        return out + write_out.replace("%{http_code}", str(response.status)).replace("\\n", "\n")


class Session:
    """Plays a page's console steps in ``folder`` (which holds a copy of the demo config)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.process = None
        self.port = SHOWN_PORT
        self.stderr: list[str] = []
        self.curl = None
        self._reader = None
        self.exit_codes: list[int] = []

    def start(self, args: list[str]) -> str:
        self.stop()
        self.stderr = []
        command = [sys.executable, str(ROOT / "mock_server.py"), *args, "--port", "0", "--watch-interval", "0.05"]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        first = self.process.stdout.readline()
        self._reader = threading.Thread(target=self._read_stderr, args=(self.process,), daemon=True)
        self._reader.start()
        found = re.search(r"127\.0\.0\.1:(\d+)", first)
        assert found, f"{' '.join(args)} printed {first!r}, not a listening line"
        self.port = int(found.group(1))
        self.curl = Curl(self.port)
        wait_until(lambda: any("serving " in line for line in self.stderr), message="the 'serving' log line")
        lines = self.stderr[:next(i for i, l in enumerate(self.stderr) if "serving " in l) + 1]
        return first + "".join(lines)

    def edit(self, old: str, new: str, where: str) -> None:
        """Apply a diff to config.json and wait until the server's watcher has reloaded it, so
        later steps (admin edits above all) cannot race with that reload."""
        config = self.folder / "config.json"
        text = config.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{where}: the diff's old lines are not in config.json exactly once"
        seen = len(self.stderr)
        config.write_text(text.replace(old, new), encoding="utf-8")
        if self.process is not None:
            wait_until(lambda: any("file changed" in line for line in self.stderr[seen:]), timeout=10,
                       message=f"the server to notice the edit at {where}")

    def _read_stderr(self, process) -> None:
        for line in process.stderr:
            self.stderr.append(line)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.exit_codes.append(self.process.wait(timeout=15))
            self._reader.join(timeout=5)
            self.process.stdout.close()
            self.process.stderr.close()
            self.process = None

    def run(self, command: str) -> str:
        loop = re.fullmatch(r"for \w+ in ([\d ]+); do (.+); done", command)
        if loop:
            return "".join(self.run(loop.group(2)) for _ in loop.group(1).split())
        words = shlex.split(command)
        if words[:2] == ["python", "mock_server.py"]:
            if words[2:3] == ["check"]:
                done = subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *words[2:]],
                                      cwd=self.folder, capture_output=True, text=True, timeout=30)
                return done.stdout + done.stderr
            return self._shown(self.start(words[2:]))
        if words[0] == "curl":
            assert self.curl is not None, f"{command}: start the server first"
            return self._shown(self.curl.run(command))
        raise AssertionError(f"the docs test cannot run {command!r}; show it in a bash block instead")

    def _shown(self, text: str) -> str:
        return text.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{SHOWN_PORT}").replace(
            f"localhost:{self.port}", f"localhost:{SHOWN_PORT}")


def play(path: Path, folder: Path) -> list[str]:
    """Run every step of ``path``; returns a description of each output that did not match."""
    shutil.copy(ROOT / "config.json", folder / "config.json")
    session = Session(folder)
    failures = []
    try:
        for step in session_steps(path.read_text(encoding="utf-8")):
            where = f"{path.name}:{step.line}"
            if step.kind == "diff":
                session.edit(step.old, step.new, where)
                continue
            actual = session.run(step.command)
            if not output_matches(step.expected, actual):
                failures.append(f"{where}: $ {step.command}\n--- shown:\n{step.expected}--- got:\n{actual}")
    finally:
        session.stop()
    assert all(code == 0 for code in session.exit_codes), f"a server exited with {session.exit_codes}"
    return failures


@pytest.mark.parametrize("path", [README, DOCS / "admin.md"], ids=lambda p: p.name)
def test_console_sessions_show_real_output(path, tmp_path):
    steps = session_steps(path.read_text(encoding="utf-8"))
    assert sum(step.kind == "command" for step in steps) >= 10
    failures = play(path, tmp_path)
    assert not failures, "\n\n".join(failures)


def test_session_checker_catches_a_wrong_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```console\n$ python mock_server.py\nlistening on http://127.0.0.1:8080\n"
                    "[10:00:00] serving 10 endpoints from config.json\n"
                    "$ curl -s localhost:8080/api/endpoint\n{\"data\": \"wrong\"}\n```\n")
    folder = tmp_path / "run"
    folder.mkdir()
    failures = play(page, folder)
    assert len(failures) == 1 and '{"data": "value"}' in failures[0]


# ---------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _slugs(text: str) -> set[str]:
    """GitHub's heading anchors for a Markdown page."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"(?m)^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", text)):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_relative_links_point_to_existing_files_and_headings(path):
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(_prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue   # http:, https:, mailto:
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in _slugs(linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{path.name}: " + "; ".join(broken)


def test_every_page_in_docs_is_listed_in_the_index():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.name != "index.md" and f"]({p.name}" not in index]
    assert not missing, f"add these pages to docs/index.md: {missing}"


def test_heading_anchors_follow_github_rules():
    page = "# Title\n## A five-minute tour\n### `GET /__admin/mocks/{id}`\n## Title\n```\n# not a heading\n```\n"
    assert _slugs(page) == {"title", "a-five-minute-tour", "get-__adminmocksid", "title-1"}


# ---------------------------------------------------------------- coverage of routes, flags, names

def test_every_admin_route_is_documented():
    text = (DOCS / "admin.md").read_text(encoding="utf-8")
    missing = [f"{r.method} {r.path}" for r in ADMIN_ROUTES if f"{r.method} {r.path}" not in text]
    assert not missing, f"docs/admin.md does not mention: {missing}"


def _serve_options() -> list[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [option for action in commands.choices["serve"]._actions for option in action.option_strings
            if option.startswith("--") and option != "--help"]


def _all_docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in markdown_files())


def test_every_serve_flag_is_documented():
    options = _serve_options()
    assert {"--port", "--seed", "--admin-token", "--tls-cert"} <= set(options)
    text = _all_docs_text()
    missing = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
    assert not missing, f"document these flags in README.md or docs/: {missing}"


def test_every_environment_variable_is_documented():
    names = set(re.findall(r"PYMOCK_[A-Z_]+", (ROOT / "pymock" / "cli.py").read_text(encoding="utf-8")))
    assert "PYMOCK_ADMIN_TOKEN" in names
    text = _all_docs_text()
    missing = sorted(n for n in names if not re.search(rf"\b{n}\b", text))
    assert not missing, f"document these environment variables in README.md or docs/: {missing}"


def test_readme_has_the_exact_ci_test_command():
    assert CI_TEST_COMMAND in README.read_text(encoding="utf-8")
    ci = ROOT / ".ci" / "run"
    if ci.exists():
        assert CI_TEST_COMMAND in ci.read_text(encoding="utf-8"), ".ci/run and README.md disagree"


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("path", [p for p in GUIDES if p.exists()], ids=lambda p: p.name)
def test_named_code_and_files_exist(path):
    prose = FENCE.sub("", path.read_text(encoding="utf-8"))
    spans = re.findall(r"`([^`\n]+)`", prose)
    missing = []
    for span in spans:
        name = span.removesuffix("()")
        if re.fullmatch(r"pymock(\.\w+)+", name):
            try:
                _resolve(name)
            except (ImportError, AttributeError):
                missing.append(name)
        for file in re.findall(r"\b((?:pymock|tests|docs|bench)/[\w./-]+\.(?:py|md|json))\b", span):
            if not (ROOT / file).exists():
                missing.append(file)
    assert not missing, f"{path.name} names code or files that do not exist: {missing}"
