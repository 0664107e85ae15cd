"""Core benchmark: pymock against a bare ThreadingHTTPServer, in the same run, loaded by wrk.

    python3 bench/bench_core.py            # the full run (~4 minutes on 2 cores)
    python3 bench/bench_core.py --quick    # a smoke run (~40 seconds)

Both servers run as their own processes (``bench/baseline_server.py`` and ``python
mock_server.py CONFIG --port 0 --quiet --no-watch``), so the load generator, the servers and
this script never share a GIL. Each case loads the baseline, then pymock, with the same wrk
command and reports requests/s, p50 and p99 latency and pymock's ratio to the baseline.

Cases: one static JSON endpoint and one templated endpoint, each with keep-alive and with
``Connection: close``; configs of 10 and of 10,000 endpoints with the requests spread over
all of them (``wrk_scripts/items.lua``). Then the peak memory (VmHWM) of the pymock process
that served 10,000 endpoints, and the journal bound: 1,000,000 ``app.handle`` calls in a fresh
process against a journal of 1,000 entries. Results go to stdout and ``bench/results/core.json``.

wrk is installed with apt when missing; when that fails, a small Python load generator
(threads with http.client) is used and every figure is labelled as coming from it.

Standard library only. pymock is imported only in the journal child process
(``--journal-child``); the servers are exercised over HTTP. Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["main", "parse_wrk", "make_configs", "Case"]

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
ITEMS_LUA = BENCH / "wrk_scripts" / "items.lua"
DEFAULT_OUTPUT = BENCH / "results" / "core.json"
LISTENING = re.compile(r"listening on https?://(\S+):(\d+)")

STATIC_PAYLOAD = {"id": 1, "name": "static", "ok": True}   # = baseline_server.BODY
TEMPLATED_PATH = "/users/42?name=ada"
TEMPLATED_EXPECTED = {"id": "42", "name": "ada", "n": 42}

TARGETS = {
    "static_ratio": 0.70,        # static keep-alive req/s >= 70% of the baseline's
    "templated_ratio": 0.55,     # templated keep-alive req/s >= 55% of the baseline's
    "items_ratio": 0.90,         # 10,000 endpoints >= 90% of the 10-endpoint req/s
    "peak_rss_mb": 150.0,        # VmHWM of the process serving 10,000 endpoints
}


# --------------------------------------------------------------------------- configs


def make_configs(folder: Path) -> dict[str, Path]:
    """Write the bench configs to ``folder``; returns name -> path."""
    configs = {
        "static": {"endpoints": [{"id": "static", "path": "/static", "response": STATIC_PAYLOAD}]},
        "templated": {"endpoints": [{
            "id": "user", "path": "/users/{id}",
            "response": {"id": "{{ request.path.id }}",
                         "name": "{{ request.query.name | default('x') }}",
                         "n": "{{ request.path.id | int }}"}}]},
        "items10": items_config(10),
        "items10000": items_config(10_000),
    }
    paths = {}
    for name, config in configs.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(config))
        paths[name] = path
    return paths


def items_config(count: int) -> dict:
    """``count`` endpoints: /items/k, and every tenth a parametric /items/k/{part}.

    ``wrk_scripts/items.lua`` requests the same shapes (``/items/k/detail`` for k % 10 == 9).
    """
    endpoints = []
    for k in range(count):
        if k % 10 == 9:
            endpoints.append({"id": f"item-{k}-part", "path": f"/items/{k}/{{part}}",
                              "response": {"id": k, "part": "{{ request.path.part }}"}})
        else:
            endpoints.append({"id": f"item-{k}", "path": f"/items/{k}",
                              "response": {"id": k, "name": f"item {k}"}})
    return {"endpoints": endpoints}


def item_path(k: int) -> str:
    return f"/items/{k}/detail" if k % 10 == 9 else f"/items/{k}"


# --------------------------------------------------------------------------- processes


class ServerProcess:
    """A server in its own process; ``port`` is parsed from its ``listening on`` line."""

    live: list["ServerProcess"] = []

    def __init__(self, label: str, argv: list[str], log_dir: Path, timeout: float = 120.0):
        self.label = label
        self.log_path = log_dir / f"{label}.log"
        self._log = open(self.log_path, "wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        ServerProcess.live.append(self)
        line = self._first_line(timeout)
        match = LISTENING.search(line)
        if not match:
            self.stop()
            raise RuntimeError(f"{label}: expected 'listening on http://HOST:PORT' as the first "
                               f"line, got {line!r}; its stderr is in {self.log_path}:\n"
                               f"{self.stderr_tail()}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.startup_s = time.perf_counter() - started

    def _first_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().decode(errors="replace") if ready else ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the process, in kB, from /proc."""
        return proc_memory_kb(self.pid)

    def stderr_tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self in ServerProcess.live:
            ServerProcess.live.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self._log.close()

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.live):
            server.stop()


def proc_memory_kb(pid) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def start_baseline(log_dir: Path) -> ServerProcess:
    return ServerProcess("baseline", [sys.executable, str(BENCH / "baseline_server.py"),
                                      "--port", "0"], log_dir)


def start_pymock(name: str, config: Path, log_dir: Path) -> ServerProcess:
    return ServerProcess(f"pymock-{name}", [sys.executable, str(ROOT / "mock_server.py"),
                                            str(config), "--port", "0", "--quiet", "--no-watch",
                                            "--seed", "1"], log_dir)


def fetch(server: ServerProcess, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_answer(server: ServerProcess, path: str, expected) -> None:
    """Fail before loading a server that answers the wrong thing (a bench of 404s is no bench)."""
    status, body = fetch(server, path)
    got = json.loads(body) if body.startswith((b"{", b"[")) else body
    if status != 200 or got != expected:
        raise RuntimeError(f"{server.label}: GET {path} answered {status} {body[:300]!r}; "
                           f"expected 200 {expected!r}")


# --------------------------------------------------------------------------- load


class Case:
    """One load shape (a path or the items script; keep-alive or not) and who takes it.

    ``contenders`` are ``(label, server key, items)`` triples: the first is the reference the
    others' ratios are taken against; ``items`` is the items.lua argument (0: plain path).
    """

    def __init__(self, name: str, contenders, path: str = "/", close: bool = False):
        self.name, self.contenders, self.path, self.close = name, contenders, path, close


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> dict:
    """Requests/s, p50/p99 (ms), request and error counts from ``wrk --latency`` output."""
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": None,
           "socket_errors": 0, "non_2xx": 0}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(match.group(1))
    for pct, value, unit in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        out[f"p{pct}_ms"] = round(float(value) * _UNITS[unit], 3)
    if match := re.search(r"(\d+) requests in", text):
        out["requests"] = int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        out["socket_errors"] = sum(int(g) for g in match.groups())
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        out["non_2xx"] = int(match.group(1))
    return out


class WrkLoad:
    """Runs wrk; ``name`` labels every figure it produced."""

    def __init__(self, wrk: str, threads: int, connections: int):
        self.wrk, self.threads, self.connections = wrk, threads, connections
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        self.name = (version.stdout or version.stderr).splitlines()[0].split(" [")[0].strip()

    def run(self, server: ServerProcess, case: Case, items: int, seconds: int) -> dict:
        argv = [self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
                "--latency", "--timeout", "5s"]
        if case.close:
            argv += ["-H", "Connection: close"]
        url = f"http://{server.host}:{server.port}"
        if items:
            argv += ["-s", str(ITEMS_LUA), url, "--", str(items)]
        else:
            argv.append(url + case.path)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        result = parse_wrk(done.stdout)
        if done.returncode != 0 or result["rps"] is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {' '.join(argv)}\n"
                               f"{done.stdout}\n{done.stderr}")
        return result


class PythonLoad:
    """Fallback load generator: one thread per connection, http.client, keep-alive or not.

    Much weaker than wrk (the GIL caps it), so its figures are labelled and not comparable
    with wrk's; it exists so the bench still says something where wrk cannot be installed.
    """

    name = "python-http.client (fallback, NOT wrk)"

    def __init__(self, connections: int):
        self.connections = min(connections, 16)

    def run(self, server: ServerProcess, case: Case, items: int, seconds: int) -> dict:
        deadline = time.perf_counter() + seconds
        latencies: list[list[float]] = [[] for _ in range(self.connections)]
        errors = [0] * self.connections
        threads = [threading.Thread(target=self._worker, args=(server, case, items, deadline,
                                                                latencies[i], errors, i))
                   for i in range(self.connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        merged = sorted(x for part in latencies for x in part)
        return {"rps": round(len(merged) / elapsed, 2), "p50_ms": _percentile(merged, 50),
                "p99_ms": _percentile(merged, 99), "requests": len(merged),
                "socket_errors": sum(errors), "non_2xx": 0}

    @staticmethod
    def _worker(server, case, items, deadline, latencies, errors, index):
        rng = random.Random(index)
        conn = None
        headers = {"Connection": "close"} if case.close else {}
        while time.perf_counter() < deadline:
            path = item_path(rng.randrange(items)) if items else case.path
            began = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if case.close or response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn = None
                continue
            latencies.append((time.perf_counter() - began) * 1000)
        if conn is not None:
            conn.close()


def _percentile(sorted_values: list[float], pct: float):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(pct / 100 * (len(sorted_values) - 1))))
    return round(sorted_values[index], 3)


def find_or_install_wrk() -> tuple[str | None, str]:
    """The wrk binary (installing it with apt-get when missing) and a note on how it was found."""
    found = shutil.which("wrk")
    if found:
        return found, "found on PATH"
    if shutil.which("apt-get") is None:
        return None, "wrk is not installed and apt-get is not available"
    print("wrk not found; trying: apt-get install -y wrk", flush=True)
    for argv in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found, "installed with apt-get"
    return None, "wrk could not be installed with apt-get (no root, or no package source)"


# --------------------------------------------------------------------------- journal child


def journal_child(requests: int) -> dict:
    """Run in a fresh process: ``requests`` app.handle calls against a 1,000-entry journal."""
    sys.path.insert(0, str(ROOT))
    from pymock.app import MockApp
    from pymock.model import Request

    app = MockApp({"journal": {"size": 1000},
                   "endpoints": [{"path": "/x", "response": STATIC_PAYLOAD}]}, seed=1)
    checkpoints = sorted({c for c in (1_000, 10_000, 100_000, requests) if c <= requests})
    rss = {"start": proc_memory_kb("self")}
    handle = app.handle
    done, started = 0, time.perf_counter()
    for checkpoint in checkpoints:
        for _ in range(checkpoint - done):
            handle(Request("GET", "/x"))
        done = checkpoint
        rss[str(checkpoint)] = proc_memory_kb("self")
    elapsed = time.perf_counter() - started
    stats = app.journal.stats()
    status = app.journal.list(limit=1)[0]["status"]
    return {"requests": requests, "seconds": round(elapsed, 2),
            "us_per_request": round(elapsed / requests * 1e6, 2), "journal": stats,
            "last_status": status, "rss_kb": rss}


def run_journal(requests: int) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--journal-child",
                           str(requests)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"journal run failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stats, rss = result["journal"], result["rss_kb"]
    # From 10 journal-fulls on, allocator warm-up is over: any further growth is a leak.
    settled = str(min((int(k) for k in rss if k != "start" and int(k) >= 10 * stats["size"]),
                      default=requests))
    growth = rss[str(requests)]["VmRSS"] - rss[settled]["VmRSS"]
    result["rss_growth_from"] = int(settled)
    result["rss_growth_after_full_kb"] = growth
    result["bounded"] = (stats["count"] == stats["size"] == 1000
                         and stats["evicted"] == requests - 1000
                         and stats["total"] == requests and growth < 10 * 1024)
    return result


# --------------------------------------------------------------------------- the run


def build_cases() -> list[Case]:
    def pair(key):
        return [("baseline", "baseline", 0), ("pymock", key, 0)]
    return [
        Case("static keep-alive", pair("static"), "/static"),
        Case("static close", pair("static"), "/static", close=True),
        Case("templated keep-alive", pair("templated"), TEMPLATED_PATH),
        Case("templated close", pair("templated"), TEMPLATED_PATH, close=True),
        Case("items spread, keep-alive", [("baseline", "baseline", 10_000),
                                          ("pymock 10 ep", "items10", 10),
                                          ("pymock 10k ep", "items10000", 10_000)]),
    ]


def start_servers(configs: dict[str, Path], log_dir: Path) -> dict[str, ServerProcess]:
    servers = {"baseline": start_baseline(log_dir)}
    check_answer(servers["baseline"], "/static", STATIC_PAYLOAD)
    for name, path in configs.items():
        servers[name] = start_pymock(name, path, log_dir)
    check_answer(servers["static"], "/static", STATIC_PAYLOAD)
    check_answer(servers["templated"], TEMPLATED_PATH, TEMPLATED_EXPECTED)
    for name, count in (("items10", 10), ("items10000", 10_000)):
        for k in (0, count - 1, count - 2):
            expected = ({"id": k, "part": "detail"} if k % 10 == 9
                        else {"id": k, "name": f"item {k}"})
            check_answer(servers[name], item_path(k), expected)
    return servers


def measure(load, servers, case: Case, args) -> list[dict]:
    """Every contender in turn, for ``--rounds`` rounds (order reversed each round, so drift
    in the machine's load hits all alike); each figure is the median over the rounds."""
    runs = {label: [] for label, _, _ in case.contenders}
    for round_index in range(args.rounds):
        order = case.contenders if round_index % 2 == 0 else case.contenders[::-1]
        for label, key, items in order:
            if args.warmup and round_index == 0:
                load.run(servers[key], case, items, args.warmup)
            runs[label].append(load.run(servers[key], case, items, args.duration))
    rows = []
    for label, key, items in case.contenders:
        got = runs[label]
        row = {"case": case.name, "server": label, "config": key, "close": case.close,
               "target": f"items.lua {items}" if items else case.path}
        for field in ("rps", "p50_ms", "p99_ms"):
            values = [r[field] for r in got if r[field] is not None]
            row[field] = round(statistics.median(values), 3) if values else None
        row["socket_errors"] = sum(r["socket_errors"] for r in got)
        row["non_2xx"] = sum(r["non_2xx"] for r in got)
        row["rps_rounds"] = [r["rps"] for r in got]
        rows.append(row)
    for row in rows:
        row["ratio"] = round(row["rps"] / rows[0]["rps"], 3)
    return rows


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def wait_quiet(max_wait: float, threshold: float) -> None:
    """Wait (up to ``max_wait`` s) for the 1-minute load average to drop under ``threshold``."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        print(f"  waiting for a quiet machine: load {loadavg()} (want < {threshold})", flush=True)
        time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))


def evaluate(rows: list[dict], memory: dict, journal: dict | None) -> list[dict]:
    by = {(r["case"], r["server"]): r for r in rows}
    checks = []
    for case, key, label in (("static keep-alive", "static_ratio", "static >= 70% of baseline req/s"),
                             ("templated keep-alive", "templated_ratio",
                              "templated >= 55% of baseline req/s")):
        row = by.get((case, "pymock"))
        if row:
            checks.append({"target": label, "value": row["ratio"], "pass": row["ratio"] >= TARGETS[key]})
    small = by.get(("items spread, keep-alive", "pymock 10 ep"))
    large = by.get(("items spread, keep-alive", "pymock 10k ep"))
    if small and large:
        ratio = round(large["rps"] / small["rps"], 3)
        checks.append({"target": "10,000 endpoints >= 90% of the 10-endpoint req/s",
                       "value": ratio, "pass": ratio >= TARGETS["items_ratio"]})
    if memory:
        peak = memory["after_load_kb"]["VmHWM"] / 1024
        checks.append({"target": "peak RSS serving 10,000 endpoints < 150 MB",
                       "value": round(peak, 1), "pass": peak < TARGETS["peak_rss_mb"]})
    if journal:
        checks.append({"target": f"journal bounded after {journal['requests']:,} requests",
                       "value": f"count {journal['journal']['count']}, evicted "
                                f"{journal['journal']['evicted']}",
                       "pass": journal["bounded"]})
    return checks


def print_table(rows: list[dict], load_name: str) -> None:
    print(f"\nload generator: {load_name}")
    header = f"{'case':<26} {'server':<13} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        errors = r["socket_errors"] + r["non_2xx"]
        print(f"{r['case']:<26} {r['server']:<13} {r['rps']:>10.0f} {_ms(r['p50_ms']):>8} "
              f"{_ms(r['p99_ms']):>8} {errors:>7} {r['ratio']:>6.2f}")


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_summary(memory: dict, journal: dict | None, checks: list[dict]) -> None:
    if memory:
        print(f"\n10,000-endpoint pymock: started in {memory['startup_s']:.2f} s; RSS after start "
              f"{memory['after_start_kb']['VmRSS'] / 1024:.1f} MB; peak (VmHWM) after load "
              f"{memory['after_load_kb']['VmHWM'] / 1024:.1f} MB; journal over HTTP: "
              f"{memory.get('journal_over_http')}")
    if journal:
        rss = journal["rss_kb"]
        print(f"journal: {journal['requests']:,} app.handle calls in {journal['seconds']} s "
              f"({journal['us_per_request']} us each); {journal['journal']}; RSS start "
              f"{rss['start']['VmRSS'] / 1024:.1f} MB, end {rss[str(journal['requests'])]['VmRSS'] / 1024:.1f} MB,"
              f" growth from request {journal['rss_growth_from']:,} on "
              f"{journal['rss_growth_after_full_kb'] / 1024:.1f} MB")
    print("\ntargets:")
    for check in checks:
        print(f"  [{'PASS' if check['pass'] else 'FAIL'}] {check['target']}: {check['value']}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="pymock core benchmark (see bench/README.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one 2 s run per server and case, 100,000 journal requests")
    parser.add_argument("--duration", type=int, default=None, help="seconds per measured run (default 4)")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of warm-up load before each run (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2; the machine has 2 cores)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="measured runs per server and case, order alternating; medians are kept (default 3)")
    parser.add_argument("--journal-requests", type=int, default=None,
                        help="app.handle calls for the journal bound (default 1,000,000)")
    parser.add_argument("--cases", default="", help="comma-separated substrings: run only matching cases")
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator, not wrk")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for the 1-min load average to drop under 1.0")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    parser.add_argument("--journal-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 4)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 1 if args.warmup is None else args.warmup
    if args.journal_requests is None:
        args.journal_requests = 100_000 if args.quick else 1_000_000
    return args


def pick_load(args):
    if not args.python_load:
        wrk, how = find_or_install_wrk()
        if wrk:
            return WrkLoad(wrk, args.threads, args.connections), how
        print(f"NOTE: {how}. Falling back to the Python load generator: its figures are far "
              "below wrk's and only the ratios mean anything.", flush=True)
    return PythonLoad(args.connections), "requested with --python-load" if args.python_load else "fallback"


def run(args) -> dict:
    load, how = pick_load(args)
    wait_quiet(args.wait_quiet, 1.0)
    started_at = datetime.datetime.now().astimezone()
    result = {"date": started_at.isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "loadavg_start": loadavg()},
              "load_generator": load.name, "load_generator_source": how,
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                           if k != "journal_child"}}
    print(f"pymock core bench, {result['date']}, {os.cpu_count()} cores, load {loadavg()}, "
          f"{load.name} ({how}), {args.duration} s per run", flush=True)
    cases = [c for c in build_cases()
             if not args.cases or any(s.strip() in c.name for s in args.cases.split(","))]
    rows, memory = [], {}
    with tempfile.TemporaryDirectory(prefix="pymock-bench-") as tmp:
        folder = Path(tmp)
        configs = make_configs(folder)
        try:
            servers = start_servers(configs, folder)
            big = servers["items10000"]
            memory = {"startup_s": round(big.startup_s, 2), "after_start_kb": big.memory_kb()}
            for case in cases:
                print(f"  {case.name} ...", flush=True)
                rows += measure(load, servers, case, args)
            memory["after_load_kb"] = big.memory_kb()
            memory["small_config_after_load_kb"] = servers["items10"].memory_kb()
            health = json.loads(fetch(big, "/__admin/health")[1])
            memory["journal_over_http"] = health.get("journal")
            for server in servers.values():
                if server.proc.poll() is not None:
                    raise RuntimeError(f"{server.label} exited early:\n{server.stderr_tail()}")
        finally:
            ServerProcess.stop_all()
    journal = None
    if args.journal_requests:
        print(f"  journal: {args.journal_requests:,} app.handle calls ...", flush=True)
        journal = run_journal(args.journal_requests)
    checks = evaluate(rows, memory, journal)
    result["machine"]["loadavg_end"] = loadavg()
    result.update(cases=rows, memory=memory, journal=journal, targets=checks)
    print_table(rows, load.name)
    print_summary(memory, journal, checks)
    print(f"\nload average at start {result['machine']['loadavg_start']}, at end {loadavg()}")
    return result


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.journal_child is not None:
        print(json.dumps(journal_child(args.journal_child)))
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run(args)
    finally:
        ServerProcess.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
