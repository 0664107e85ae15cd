"""Workers benchmark: requests/s of ``--workers 2`` as a ratio to one process, same run.

    python3 bench/bench_workers.py            # 3 rounds x 4 s per server and case
    python3 bench/bench_workers.py --quick    # 1 round x 2 s

Two servers take the same wrk load, one after the other, alternating their order each
round: ``mock_server.py CONFIG --quiet --no-watch --port 0`` (one process) and the same
with ``--workers 2``. Cases: one static JSON endpoint over 32 keep-alive connections, and
the same with ``Connection: close`` (a new connection, so a new accept, per request). The
medians, p50/p99 latencies and the ratio go to stdout and ``bench/results/workers.json``.

On a 2-core machine wrk needs a share of the CPU too, so the ratio stays well under 2: it
shows what a second process adds once the first is held to one core by the GIL. wrk is
installed with apt when missing; failing that, a Python load generator (threads with
``http.client``) is used and labelled as such. Standard library only; not part of pytest.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["main", "parse_wrk"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "workers.json"
PAYLOAD = {"id": 1, "name": "static", "ok": True}
CASES = {"static keep-alive": [], "static close": ["-H", "Connection: close"]}


def parse_wrk(text: str) -> dict:
    """Requests/s, p50/p99 (ms) and error counts from ``wrk --latency`` output."""
    def millis(label):
        found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not found:
            return None
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": float(rate.group(1)) if rate else 0.0, "p50_ms": millis("50"), "p99_ms": millis("99"),
            "socket_errors": sum(map(int, errors.groups())) if errors else 0,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    for command in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(command, capture_output=True, timeout=600)
        if shutil.which("wrk"):
            return shutil.which("wrk")
    return None


class Server:
    """``mock_server.py`` as its own process; ``url`` from its first line."""

    def __init__(self, config: Path, workers: int):
        command = [sys.executable, str(ROOT / "mock_server.py"), str(config), "--port", "0", "--quiet",
                   "--no-watch", "--seed", "1"]
        if workers > 1:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/static")
        body = conn.getresponse().read()
        conn.close()
        if json.loads(body) != PAYLOAD:
            self.stop()
            raise RuntimeError(f"unexpected answer {body!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def load_wrk(wrk: str, url: str, extra: list[str], seconds: float, connections: int, threads: int) -> dict:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", *extra, url + "/static"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(result.stdout)


def load_python(url: str, extra: list[str], seconds: float, connections: int, threads: int) -> dict:
    """Fallback: one thread per connection, ``http.client``; only ratios mean anything."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    close = bool(extra)
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def run():
        conn, mine = None, []
        while time.monotonic() < deadline:
            try:
                conn = conn or http.client.HTTPConnection(host, int(port), timeout=10)
                start = time.perf_counter()
                conn.request("GET", "/static", headers={"Connection": "close"} if close else {})
                conn.getresponse().read()
                mine.append(time.perf_counter() - start)
                if close:
                    conn.close()
                    conn = None
            except OSError:
                errors[0] += 1
                conn = None
        with lock:
            latencies.extend(mine)
    workers = [threading.Thread(target=run) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    latencies.sort()
    pick = lambda q: round(latencies[int(q * (len(latencies) - 1))] * 1000, 3) if latencies else None  # noqa: E731
    return {"rps": len(latencies) / seconds, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "socket_errors": errors[0], "non_2xx": 0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s")
    parser.add_argument("--duration", type=float, default=None, help="seconds per measured run (default 4)")
    parser.add_argument("--rounds", type=int, default=None, help="measured runs per server and case (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator, not wrk")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    seconds = args.duration or (2.0 if args.quick else 4.0)
    rounds = args.rounds or (1 if args.quick else 3)
    wrk = None if args.python_load else ensure_wrk()
    generator = "wrk" if wrk else "python-http.client (fallback, NOT wrk)"
    print(f"load: {generator}; {rounds} round(s) x {seconds:g} s; {args.connections} connections; "
          f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores", flush=True)

    def load(url, extra, duration=seconds):
        if wrk:
            return load_wrk(wrk, url, extra, duration, args.connections, args.threads)
        return load_python(url, extra, duration, args.connections, args.threads)

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"journal": {"enabled": False},
                                      "endpoints": [{"id": "static", "path": "/static", "response": PAYLOAD}]}))
        servers = {"1 process": Server(config, 1), "--workers 2": Server(config, 2)}
        try:
            results = _measure(servers, load, rounds, seconds)
        finally:
            for server in servers.values():
                server.stop()
    report = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "generator": generator,
              "cores": os.cpu_count(), "seconds": seconds, "rounds": rounds, "cases": results,
              "load_average_end": os.getloadavg()[0]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


def _measure(servers: dict, load, rounds: int, seconds: float) -> dict:
    results = {}
    for case, extra in CASES.items():
        runs: dict[str, list] = {name: [] for name in servers}
        for server in servers.values():   # warm-up: threads started, caches filled
            load(server.url, extra, 1)
        for round_index in range(rounds):
            order = list(servers) if round_index % 2 == 0 else list(servers)[::-1]
            for name in order:
                runs[name].append(load(servers[name].url, extra))
        summary = {}
        for name, measured in runs.items():
            summary[name] = {"rps": statistics.median(r["rps"] for r in measured),
                             "p50_ms": statistics.median(r["p50_ms"] or 0 for r in measured),
                             "p99_ms": statistics.median(r["p99_ms"] or 0 for r in measured),
                             "errors": sum(r["socket_errors"] + r["non_2xx"] for r in measured)}
        ratio = summary["--workers 2"]["rps"] / summary["1 process"]["rps"] if summary["1 process"]["rps"] else 0
        results[case] = {**summary, "ratio_workers2_to_1": round(ratio, 3)}
        for name, figures in summary.items():
            print(f"{case:18} {name:12} {figures['rps']:10.0f} req/s  p50 {figures['p50_ms']:.2f} ms  "
                  f"p99 {figures['p99_ms']:.2f} ms  errors {figures['errors']}")
        print(f"{case:18} ratio --workers 2 / 1 process: {ratio:.2f}", flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
