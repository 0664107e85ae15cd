"""Benchmark: the mesh simulator's per-hop cost, in process through ``MockApp.handle``.

Run from the repository root: ``python3 bench/bench_mesh.py [--requests N] [--rounds R]``.
Fifty services in three tiers (17 entry, 17 middle, 16 leaf) make 3-hop call chains
(entry -> middle -> leaf); requests go round-robin over the entry services. Each case is
timed ``rounds`` times (thread CPU time), interleaved with the others so machine noise hits
every case alike, and the median is reported:

* ``plain``: a top-level pymock endpoint, the "plain mock" every ratio is measured against;
* ``plain_unmounted``: the same with the mesh unmounted (what the mount costs other requests);
* ``hop_bare``, ``hop_tracing``, ``hop_breakers``, ``hop_full``: a 3-hop chain with tracing
  and breakers off, tracing only, breakers only, both (per-hop time = request time / 3).

Targets: tracing adds under 10% per hop (``hop_tracing`` vs ``hop_bare``); the mount costs
non-mesh requests ~nothing. It also checks that a breaker change and a registry change take
effect on the very next request. Prints the figures and writes ``bench/results/mesh.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymock.app import MockApp  # noqa: E402
from pymock.model import Request  # noqa: E402

TIERS = (17, 17, 16)
HOPS = 3


def topology(tracing: bool, breakers: bool) -> dict:
    entry = [f"entry-{n}" for n in range(TIERS[0])]
    middle = [f"mid-{n}" for n in range(TIERS[1])]
    leaf = [f"leaf-{n}" for n in range(TIERS[2])]
    services, deps = [], []
    for n, name in enumerate(entry):
        services.append({"service_id": name, "mock": {"calls": [{"service": middle[n]}]}})
        deps.append({"from_service": name, "to_service": middle[n], "timeout_ms": 1000})
    for n, name in enumerate(middle):
        target = leaf[n % len(leaf)]
        services.append({"service_id": name, "mock": {"calls": [{"service": target}]}})
        deps.append({"from_service": name, "to_service": target, "timeout_ms": 1000})
    services += [{"service_id": name, "mock": {"response": {"id": 1, "ok": True}}} for name in leaf]
    return {"services": services, "dependencies": deps,
            "tracing": {"enabled": tracing, "max_spans": 10000},
            "circuit_breakers": {"enabled": breakers}}


def make_app(tracing: bool = True, breakers: bool = True) -> MockApp:
    return MockApp({"endpoints": [{"path": "/plain", "response": {"id": 1, "ok": True}}],
                    "journal": {"enabled": False}, "mesh": topology(tracing, breakers)}, seed=1)


def requests_for(paths: list, n: int) -> list:
    return [Request("GET", paths[i % len(paths)],
                    headers=[("traceparent", f"00-{i + 1:032x}-00f067aa0ba902b7-01")])
            for i in range(n)]


def time_once(app: MockApp, requests: list) -> float:
    """CPU seconds per request for one pass (requests are fresh objects each pass).

    CPU time of this thread, not wall time: the work is single-threaded and in process, and
    other load on the machine then does not count against whichever case it happened to hit.
    """
    handle = app.handle
    start = time.thread_time()
    for request in requests:
        if handle(request).status != 200:
            raise RuntimeError(f"{request.method} {request.target} did not answer 200")
    return (time.thread_time() - start) / len(requests)


def build_cases(n: int) -> dict:
    entries = [f"/mock/entry-{k}/" for k in range(TIERS[0])]
    unmounted = make_app()
    unmounted.mounts.clear()
    return {
        "plain": (make_app(), ["/plain"]),
        "plain_unmounted": (unmounted, ["/plain"]),
        "hop_bare": (make_app(False, False), entries),
        "hop_tracing": (make_app(True, False), entries),
        "hop_breakers": (make_app(False, True), entries),
        "hop_full": (make_app(True, True), entries),
    }


def measure(n: int, rounds: int) -> dict:
    cases = build_cases(n)
    samples: dict = {name: [] for name in cases}
    for app, paths in cases.values():   # warm up: breakers, caches, span store
        time_once(app, requests_for(paths, min(n, 500)))
    for round_no in range(rounds):
        order = list(cases) if round_no % 2 == 0 else list(reversed(cases))
        for name in order:
            app, paths = cases[name]
            samples[name].append(time_once(app, requests_for(paths, n)))
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


def next_request_checks() -> dict:
    """A breaker forced open and a service gone critical both show on the very next call."""
    app = make_app()
    handle = lambda path, method="GET": app.handle(Request(method, path)).status  # noqa: E731
    before = handle("/mock/entry-0/")
    handle("/circuit-breakers/leaf-0/*/force-open", "POST")
    breaker_next = handle("/mock/entry-0/")
    handle("/circuit-breakers/leaf-0/*/release", "POST")
    released_next = handle("/mock/entry-0/")
    app.handle(Request("PUT", "/registry/leaf-0/heartbeat", body=b'{"status": "critical"}'))
    registry_next = handle("/mock/entry-0/")
    return {"before": before, "breaker_forced_open_next_request": breaker_next,
            "breaker_released_next_request": released_next,
            "service_critical_next_request": registry_next,
            "ok": (before, breaker_next, released_next, registry_next) == (200, 503, 200, 503)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per timed pass")
    parser.add_argument("--rounds", type=int, default=7, help="timed passes per case")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "mesh.json"))
    args = parser.parse_args(argv)
    us = measure(args.requests, args.rounds)
    per_hop = {name: value / HOPS for name, value in us.items() if name.startswith("hop_")}
    result = {
        "python": platform.python_version(), "machine": platform.machine(),
        "services": sum(TIERS), "hops_per_request": HOPS, "requests_per_pass": args.requests,
        "rounds": args.rounds, "us_per_request": {k: round(v, 2) for k, v in us.items()},
        "us_per_hop": {k: round(v, 2) for k, v in per_hop.items()},
        "ratios": {
            "tracing_per_hop_vs_bare": round(per_hop["hop_tracing"] / per_hop["hop_bare"], 3),
            "breakers_per_hop_vs_bare": round(per_hop["hop_breakers"] / per_hop["hop_bare"], 3),
            "full_per_hop_vs_bare": round(per_hop["hop_full"] / per_hop["hop_bare"], 3),
            "bare_hop_vs_plain_mock": round(per_hop["hop_bare"] / us["plain"], 3),
            "full_hop_vs_plain_mock": round(per_hop["hop_full"] / us["plain"], 3),
            "plain_with_mount_vs_without": round(us["plain"] / us["plain_unmounted"], 3),
        },
        "next_request": next_request_checks(),
    }
    result["target_tracing_under_10_percent"] = result["ratios"]["tracing_per_hop_vs_bare"] < 1.10
    _print(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def _print(result: dict) -> None:
    print(f"mesh bench: {result['services']} services, {HOPS}-hop chains, "
          f"{result['requests_per_pass']} requests x {result['rounds']} rounds (median)")
    for name, value in result["us_per_request"].items():
        hop = result["us_per_hop"].get(name)
        extra = f"   {hop:8.2f} us/hop" if hop is not None else ""
        print(f"  {name:16} {value:9.2f} us/request{extra}")
    for name, value in result["ratios"].items():
        print(f"  {name:32} {value:.3f}")
    print(f"  tracing under 10% per hop: {result['target_tracing_under_10_percent']}")
    print(f"  changes visible on the next request: {result['next_request']['ok']}")


if __name__ == "__main__":
    sys.exit(main())
