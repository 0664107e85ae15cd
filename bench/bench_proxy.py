"""Proxy overhead: throughput through a pymock proxy as a ratio to calling the upstream directly.

    python3 bench/bench_proxy.py            # ~1 minute on 2 cores
    python3 bench/bench_proxy.py --quick    # a smoke run (~20 s)

Two processes, started like users start them: an upstream ``python mock_server.py UP.json``
and a proxy ``python mock_server.py PROXY.json`` whose config is ``{"proxy": {"mode":
"proxy", "upstream": UPSTREAM}}``. The same load (wrk when installed, else a small Python
load generator, labelled as such) hits the upstream directly, then through the proxy, in
alternating rounds; the median of each is kept. Cases:

* ``instant upstream``: the upstream answers a static JSON body at once, so both runs are
  CPU-bound. This is the worst case for a proxy: a proxied request costs the proxy's own edge
  and app, an HTTP client round trip, and the upstream's work, on the same cores.
* ``upstream with N ms latency``: a realistic upstream (``latency_ms`` N); the ratio then
  shows what the proxy's overhead costs a real client.
* ``sequential``: one connection, one request at a time: the added latency per request, in
  microseconds (p50 and mean).

Target: proxied throughput >= 60% of direct. Results go to stdout and
``bench/results/proxy.json``. Standard library only; not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
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

__all__ = ["main", "parse_wrk"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "proxy.json"
TARGET_RATIO = 0.60
PAYLOAD = {"id": 1, "name": "static", "ok": True}
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


class Server:
    """``python mock_server.py CONFIG --port 0`` in its own process; ``port`` from its first line."""

    def __init__(self, config: Path):
        argv = [sys.executable, str(ROOT / "mock_server.py"), str(config), "--port", "0", "--quiet", "--no-watch"]
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        match = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"{' '.join(argv)} did not start: {line!r}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.stdout.close()


def fetch(server: Server, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def parse_wrk(text: str) -> dict:
    """Requests/s and p50/p99 (ms) from ``wrk --latency`` output."""
    out = {"rps": None, "p50_ms": None, "p99_ms": None, "errors": 0, "non_2xx": 0}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(match.group(1))
    for pct, value, unit in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        out[f"p{pct}_ms"] = round(float(value) * _UNITS[unit], 3)
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        out["errors"] = sum(int(g) for g in match.groups())
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        out["non_2xx"] = int(match.group(1))
    return out


class WrkLoad:
    def __init__(self, wrk: str):
        self.wrk = wrk
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        self.name = (version.stdout or version.stderr).splitlines()[0].split(" [")[0].strip()

    def run(self, url: str, connections: int, seconds: float) -> dict:
        argv = [self.wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s", url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        result = parse_wrk(done.stdout)
        if done.returncode != 0 or result["rps"] is None:
            raise RuntimeError(f"wrk failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
        return result


class PythonLoad:
    """Threads with keep-alive ``http.client`` connections: a weaker generator than wrk."""

    name = "python http.client threads"

    def run(self, url: str, connections: int, seconds: float) -> dict:
        host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
        path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        latencies: list = []
        errors = [0]
        deadline = time.perf_counter() + seconds

        def worker():
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            mine = []
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    conn.request("GET", path)
                    conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    errors[0] += 1
                    conn = http.client.HTTPConnection(host, int(port), timeout=10)
                    continue
                mine.append(time.perf_counter() - started)
            latencies.extend(mine)
        threads = [threading.Thread(target=worker) for _ in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        latencies.sort()
        return {"rps": round(len(latencies) / seconds, 2), "p50_ms": _pct(latencies, 50),
                "p99_ms": _pct(latencies, 99), "errors": errors[0], "non_2xx": 0}


def _pct(values: list, pct: float):
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * pct / 100))] * 1000, 3)


def sequential(server: Server, path: str, requests: int) -> dict:
    """One keep-alive connection, one request at a time: latency in microseconds."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    times = []
    for index in range(requests + 200):
        started = time.perf_counter()
        conn.request("GET", path)
        conn.getresponse().read()
        if index >= 200:   # the first ones warm up both processes
            times.append((time.perf_counter() - started) * 1e6)
    conn.close()
    times.sort()
    return {"p50_us": round(statistics.median(times), 1), "mean_us": round(statistics.fmean(times), 1)}


def compare(load, direct: Server, proxy: Server, path: str, connections: int, seconds: float, rounds: int) -> dict:
    runs = {"direct": [], "proxied": []}
    for _ in range(rounds):   # alternate, so a burst of load elsewhere hits both sides alike
        runs["direct"].append(load.run(direct.url + path, connections, seconds))
        runs["proxied"].append(load.run(proxy.url + path, connections, seconds))
    out = {}
    for side, results in runs.items():
        best = sorted(results, key=lambda r: r["rps"])[len(results) // 2]   # the median round
        out[side] = {**best, "rps_rounds": [r["rps"] for r in results]}
    out["ratio"] = round(out["proxied"]["rps"] / out["direct"]["rps"], 3)
    out["target"] = TARGET_RATIO
    out["met"] = out["ratio"] >= TARGET_RATIO
    return out


def pick_load(python_load: bool):
    wrk = None if python_load else shutil.which("wrk")
    if wrk is None and not python_load and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=300)
        wrk = shutil.which("wrk")
    return WrkLoad(wrk) if wrk else PythonLoad()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one round")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="the realistic upstream's latency")
    parser.add_argument("--sequential", type=int, default=2000, help="requests in the sequential case")
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator, not wrk")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.sequential = 2.0, 1, 500
    return args


def run(args) -> dict:
    load = pick_load(args.python_load)
    folder = Path(tempfile.mkdtemp(prefix="pymock-bench-proxy-"))
    upstream_config = folder / "upstream.json"
    upstream_config.write_text(json.dumps({"endpoints": [
        {"path": "/static", "response": PAYLOAD},
        {"path": "/slow", "response": PAYLOAD, "latency_ms": args.latency_ms}]}))
    started = os.getloadavg()
    upstream = Server(upstream_config)
    proxy = None
    try:
        proxy_config = folder / "proxy.json"
        proxy_config.write_text(json.dumps({"proxy": {"mode": "proxy", "upstream": upstream.url}}))
        proxy = Server(proxy_config)
        for path in ("/static", "/slow"):
            direct_answer, proxied_answer = fetch(upstream, path), fetch(proxy, path)
            if direct_answer != proxied_answer or json.loads(direct_answer[1]) != PAYLOAD:
                raise RuntimeError(f"{path}: the proxy answered {proxied_answer}, the upstream {direct_answer}")
        cases = {
            "instant upstream": compare(load, upstream, proxy, "/static", args.connections, args.duration, args.rounds),
            f"upstream with {args.latency_ms:g} ms latency": compare(
                load, upstream, proxy, "/slow", args.connections, args.duration, args.rounds),
        }
        direct_seq, proxied_seq = sequential(upstream, "/static", args.sequential), sequential(proxy, "/static", args.sequential)
    finally:
        for server in (proxy, upstream):
            if server is not None:
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_start": [round(v, 2) for v in started],
                    "loadavg_end": [round(v, 2) for v in os.getloadavg()]},
        "load_generator": load.name,
        "settings": {"duration_s": args.duration, "rounds": args.rounds, "connections": args.connections,
                     "latency_ms": args.latency_ms, "sequential_requests": args.sequential},
        "cases": cases,
        "sequential": {"direct": direct_seq, "proxied": proxied_seq,
                       "overhead_p50_us": round(proxied_seq["p50_us"] - direct_seq["p50_us"], 1),
                       "overhead_mean_us": round(proxied_seq["mean_us"] - direct_seq["mean_us"], 1)},
    }


def report(result: dict) -> None:
    print(f"load: {result['load_generator']}, {result['settings']['connections']} connections, "
          f"loadavg {result['machine']['loadavg_start']} -> {result['machine']['loadavg_end']}")
    print(f"{'case':34} {'direct req/s':>13} {'proxied req/s':>14} {'ratio':>7}  p50 direct/proxied (ms)")
    for name, case in result["cases"].items():
        direct, proxied = case["direct"], case["proxied"]
        verdict = "ok" if case["met"] else f"below {TARGET_RATIO:.0%}"
        print(f"{name:34} {direct['rps']:>13.0f} {proxied['rps']:>14.0f} {case['ratio']:>7.1%}  "
              f"{direct['p50_ms']} / {proxied['p50_ms']}  {verdict}")
    seq = result["sequential"]
    print(f"sequential: direct p50 {seq['direct']['p50_us']} us, proxied p50 {seq['proxied']['p50_us']} us, "
          f"overhead {seq['overhead_p50_us']} us per request")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args)
    report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
