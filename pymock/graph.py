"""The service dependency graph: cycles, deployment order, failure impact and renderings.

An edge ``a -> b`` means "a calls b" (a depends on b). ``required`` edges propagate failure:
when b fails, a fails. Optional edges only degrade a. Every query returns fresh lists, dicts
and sets, so callers can never change the graph by accident; all output is sorted, so JSON,
Mermaid and DOT renderings are byte-for-byte stable.

>>> g = DependencyGraph()
>>> _ = g.add_dependency("frontend", "api-gateway")
>>> _ = g.add_dependency("api-gateway", "user-service")
>>> g.deployment_order()
['user-service', 'api-gateway', 'frontend']
>>> sorted(g.impact("user-service").failed)
['api-gateway', 'frontend']
>>> g.add_dependency("user-service", "frontend")
Traceback (most recent call last):
...
pymock.errors.CycleError: dependency cycle: user-service -> frontend -> api-gateway -> user-service

Pure (layer 0): imports ``heapq``, ``re``, ``collections``, ``dataclasses`` and ``pymock.errors``
only. Must not import sockets, threads, files or anything above layer 0.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from dataclasses import dataclass

from .errors import ConfigError, CycleError, NotFoundError, Problem

__all__ = ["DependencyGraph", "Edge", "Impact"]


@dataclass(frozen=True)
class Edge:
    """``source`` calls ``target``; ``timeout_ms`` is the call's budget (None: no limit)."""

    source: str
    target: str
    required: bool = True
    timeout_ms: float | None = None
    circuit_breaker_enabled: bool = True

    def as_dict(self) -> dict:
        return {"from": self.source, "to": self.target, "required": self.required,
                "timeout_ms": self.timeout_ms,
                "circuit_breaker_enabled": self.circuit_breaker_enabled}


@dataclass(frozen=True)
class Impact:
    """What happens when ``service`` fails: ``failed`` (through required edges, transitively)
    and ``degraded`` (still up, but an optional dependency of theirs is down)."""

    service: str
    failed: frozenset
    degraded: frozenset

    def as_dict(self) -> dict:
        return {"service": self.service, "fails": len(self.failed),
                "failed": sorted(self.failed), "degraded": sorted(self.degraded)}


class DependencyGraph:
    """A directed graph of services; not thread-safe (the registry wraps it in its lock)."""

    def __init__(self):
        self._out: dict[str, dict[str, Edge]] = {}
        self._in: dict[str, set[str]] = {}

    # --- building ---------------------------------------------------------------------

    def add_service(self, name: str) -> None:
        """Add ``name`` if it is not there yet."""
        _check_name(name, "service")
        self._out.setdefault(name, {})
        self._in.setdefault(name, set())

    def remove_service(self, name: str) -> None:
        """Remove ``name`` and every edge touching it."""
        self._require(name)
        for target in list(self._out[name]):
            self._in[target].discard(name)
        for source in self._in[name]:
            del self._out[source][name]
        del self._out[name], self._in[name]

    def add_dependency(self, source: str, target: str, required: bool = True,
                       timeout_ms: float | None = None, circuit_breaker_enabled: bool = True,
                       allow_cycle: bool = False) -> Edge:
        """Record that ``source`` calls ``target`` (replacing an existing edge's settings).

        Raises ``CycleError`` (with the cycle, first node repeated last) when the edge would
        close a cycle, unless ``allow_cycle``; ``ConfigError`` for a bad name or timeout.
        """
        problems = _edge_problems(source, target, required, timeout_ms, circuit_breaker_enabled)
        if problems:
            raise ConfigError(problems, source="the dependency")
        if not allow_cycle and target not in self._out.get(source, {}):
            path = self._path(target, source)
            if path:
                raise CycleError([source] + path)
        self.add_service(source)
        self.add_service(target)
        edge = Edge(source, target, bool(required), timeout_ms, bool(circuit_breaker_enabled))
        self._out[source][target] = edge
        self._in[target].add(source)
        return edge

    def remove_dependency(self, source: str, target: str) -> Edge:
        """Remove and return the edge ``source -> target`` (``NotFoundError`` if absent)."""
        edge = self.edge(source, target)
        del self._out[source][target]
        self._in[target].discard(source)
        return edge

    @classmethod
    def from_dict(cls, data: dict, allow_cycles: bool = False) -> DependencyGraph:
        """Build from ``to_dict()``'s shape; every bad item is reported at once."""
        problems = _document_problems(data)
        if problems:
            raise ConfigError(problems, source="the dependency graph")
        graph = cls()
        for name in data.get("services", []):
            graph.add_service(name)
        for item in data.get("dependencies", []):
            options = {k: item[k] for k in _EDGE_OPTIONS if k in item}
            graph.add_dependency(item["from"], item["to"], allow_cycle=allow_cycles, **options)
        return graph

    # --- queries ------------------------------------------------------------------------

    def services(self) -> list[str]:
        return sorted(self._out)

    def edges(self) -> list[Edge]:
        return [self._out[s][t] for s in sorted(self._out) for t in sorted(self._out[s])]

    def edge(self, source: str, target: str) -> Edge:
        try:
            return self._out[source][target]
        except KeyError:
            raise NotFoundError("dependency", f"{source} -> {target}") from None

    def __contains__(self, name) -> bool:
        return name in self._out

    def __len__(self) -> int:
        return len(self._out)

    def dependencies_of(self, service: str) -> list[str]:
        """Services ``service`` calls directly."""
        self._require(service)
        return sorted(self._out[service])

    def dependents_of(self, service: str) -> list[str]:
        """Services that call ``service`` directly."""
        self._require(service)
        return sorted(self._in[service])

    def copy(self) -> DependencyGraph:
        clone = DependencyGraph()
        clone._out = {s: dict(targets) for s, targets in self._out.items()}
        clone._in = {s: set(sources) for s, sources in self._in.items()}
        return clone

    def _require(self, service: str) -> None:
        if service not in self._out:
            raise NotFoundError("service", service)

    def _path(self, start: str, goal: str) -> list[str]:
        """Shortest path start..goal along edges (BFS, sorted so the answer is stable)."""
        if start not in self._out or goal not in self._out:
            return [start] if start == goal else []
        previous = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                path = []
                while node is not None:
                    path.append(node)
                    node = previous[node]
                return path[::-1]
            for nxt in sorted(self._out[node]):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append(nxt)
        return []

    # --- cycles and order ---------------------------------------------------------------

    def strongly_connected_components(self) -> list[list[str]]:
        """Tarjan's SCCs (iterative, so deep graphs cannot hit the recursion limit)."""
        return _tarjan({s: sorted(t) for s, t in self._out.items()})

    def find_cycles(self) -> list[list[str]]:
        """One cycle per cyclic component (a self-loop counts), each starting and ending at the
        component's smallest name; sorted."""
        cycles = []
        for component in self.strongly_connected_components():
            first = min(component)
            if len(component) == 1 and first not in self._out[first]:
                continue
            members = set(component)
            # In a larger component prefer a real cycle over first's own self-loop.
            starts = [n for n in sorted(self._out[first])
                      if n in members and (n != first or len(members) == 1)]
            paths = [self._path_within(n, first, members) for n in starts]
            cycles.append([first] + min(paths, key=lambda p: (len(p), p)))
        return sorted(cycles)

    def _path_within(self, start: str, goal: str, members: set) -> list[str]:
        sub = DependencyGraph()
        sub._out = {s: {t: e for t, e in self._out[s].items() if t in members} for s in members}
        return sub._path(start, goal)

    def deployment_order(self) -> list[str]:
        """Every service after all it depends on; ties broken by name. ``CycleError`` if cyclic."""
        waiting = {s: len(targets) for s, targets in self._out.items()}
        ready = [s for s, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            service = heapq.heappop(ready)
            order.append(service)
            for dependent in self._in[service]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
        if len(order) < len(self._out):
            raise CycleError(self.find_cycles()[0])
        return order

    # --- failure impact -----------------------------------------------------------------

    def impact(self, service: str) -> Impact:
        """Who fails (via required edges, walking up through dependents) and who degrades
        (an optional edge into a failed service) when ``service`` fails."""
        self._require(service)
        down = {service}
        queue = deque([service])
        while queue:
            node = queue.popleft()
            for dependent in sorted(self._in[node]):
                if dependent not in down and self._out[dependent][node].required:
                    down.add(dependent)
                    queue.append(dependent)
        degraded = {d for node in down for d in self._in[node]} - down
        return Impact(service, frozenset(down - {service}), frozenset(degraded))

    def critical_services(self) -> list[dict]:
        """Every service ranked by how many services fail with it, then degrade, then name."""
        cut = set(self.articulation_points())
        ranked = []
        for service in self._out:
            entry = self.impact(service).as_dict()
            entry["articulation_point"] = service in cut
            entry["dependents"] = len(self._in[service])
            ranked.append(entry)
        ranked.sort(key=lambda e: (-e["fails"], -len(e["degraded"]), e["service"]))
        return ranked

    def articulation_points(self) -> list[str]:
        """Services whose removal disconnects the graph, edge direction ignored."""
        neighbours = {s: set(t) | self._in[s] for s, t in self._out.items()}
        for service, adjacent in neighbours.items():
            adjacent.discard(service)   # self-loops cannot disconnect anything
        return sorted(_cut_vertices({s: sorted(n) for s, n in neighbours.items()}))

    # --- renderings ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"services": self.services(),
                "dependencies": [e.as_dict() for e in self.edges()],
                "cycles": self.find_cycles()}

    def to_mermaid(self) -> str:
        """A Mermaid flowchart; optional edges dashed, timeouts as edge labels."""
        ids = _mermaid_ids(self.services())
        lines = ["graph TD"]
        lines += [f'    {ids[s]}["{_mermaid_label(s)}"]' for s in self.services()]
        for edge in self.edges():
            arrow = "-->" if edge.required else "-.->"
            label = f"|{_number(edge.timeout_ms)}ms|" if edge.timeout_ms is not None else ""
            lines.append(f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A Graphviz digraph; optional edges dashed, timeouts as edge labels."""
        lines = ["digraph dependencies {", "    rankdir=LR;", "    node [shape=box];"]
        lines += [f"    {_dot_id(s)};" for s in self.services()]
        for edge in self.edges():
            attrs = [] if edge.required else ["style=dashed"]
            if edge.timeout_ms is not None:
                attrs.append(f'label="{_number(edge.timeout_ms)}ms"')
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"    {_dot_id(edge.source)} -> {_dot_id(edge.target)}{suffix};")
        return "\n".join(lines + ["}"]) + "\n"


# --- algorithms (plain functions on adjacency dicts of sorted lists) ----------------------

def _tarjan(adjacency: dict[str, list[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(adjacency[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    components.append(_pop_component(stack, on_stack, node))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(adjacency[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        node = stack.pop()
        on_stack.discard(node)
        component.append(node)
        if node == root:
            return sorted(component)


def _cut_vertices(adjacency: dict[str, list[str]]) -> set[str]:
    """Articulation points of an undirected graph (iterative Hopcroft-Tarjan)."""
    depth: dict[str, int] = {}
    low: dict[str, int] = {}
    cut: set[str] = set()
    for root in sorted(adjacency):
        if root in depth:
            continue
        depth[root] = low[root] = 0
        root_children = 0
        work = [(root, None, iter(adjacency[root]))]
        while work:
            node, parent, neighbours = work[-1]
            nxt = next(neighbours, None)
            if nxt is None:
                work.pop()
                if parent is not None:
                    low[parent] = min(low[parent], low[node])
                    if parent != root and low[node] >= depth[parent]:
                        cut.add(parent)
            elif nxt not in depth:
                depth[nxt] = low[nxt] = depth[node] + 1
                root_children += node == root
                work.append((nxt, node, iter(adjacency[nxt])))
            elif nxt != parent:
                low[node] = min(low[node], depth[nxt])
        if root_children > 1:
            cut.add(root)
    return cut


# --- validation ---------------------------------------------------------------------------

_EDGE_OPTIONS = ("required", "timeout_ms", "circuit_breaker_enabled")
_EDGE_KEYS = ("from", "to") + _EDGE_OPTIONS


def _check_name(name, what: str) -> None:
    problem = _name_problem(name, what)
    if problem:
        raise ConfigError([problem], source=f"the {what} name")


def _name_problem(name, path: str) -> Problem | None:
    if not isinstance(name, str) or not name.strip():
        return Problem(path, f"must be a non-empty service name, got {name!r}",
                       "use a name like 'user-service'")
    return None


def _edge_problems(source, target, required, timeout_ms, breaker, path: str = "") -> list[Problem]:
    prefix = f"{path}." if path else ""
    problems = [p for p in (_name_problem(source, prefix + "from"),
                            _name_problem(target, prefix + "to")) if p]
    for key, value in (("required", required), ("circuit_breaker_enabled", breaker)):
        if not isinstance(value, bool):
            problems.append(Problem(prefix + key, f"must be true or false, got {value!r}"))
    bad_number = isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float))
    if timeout_ms is not None and (bad_number or not 0 < timeout_ms < float("inf")):
        problems.append(Problem(prefix + "timeout_ms", f"must be a positive number of "
                                f"milliseconds, got {timeout_ms!r}",
                                "or leave it out for no limit"))
    return problems


def _document_problems(data) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem("", f"must be an object with 'services' and 'dependencies', "
                            f"got {type(data).__name__}")]
    problems = [Problem(k, "unknown key", "expected 'services' or 'dependencies'")
                for k in data if k not in ("services", "dependencies", "cycles")]
    services = data.get("services", [])
    if not isinstance(services, list):
        problems.append(Problem("services", "must be a list of names"))
    else:
        named = (_name_problem(s, f"services[{i}]") for i, s in enumerate(services))
        problems += [p for p in named if p]
    dependencies = data.get("dependencies", [])
    if not isinstance(dependencies, list):
        return problems + [Problem("dependencies", "must be a list of {from, to} objects")]
    for i, item in enumerate(dependencies):
        problems += _item_problems(item, f"dependencies[{i}]")
    return problems


def _item_problems(item, path: str) -> list[Problem]:
    if not isinstance(item, dict):
        return [Problem(path, "must be an object like {\"from\": \"a\", \"to\": \"b\"}")]
    problems = [Problem(f"{path}.{k}", "unknown key", f"expected one of {', '.join(_EDGE_KEYS)}")
                for k in item if k not in _EDGE_KEYS]
    return problems + _edge_problems(item.get("from"), item.get("to"), item.get("required", True),
                                     item.get("timeout_ms"),
                                     item.get("circuit_breaker_enabled", True), path)


# --- rendering helpers --------------------------------------------------------------------

def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _mermaid_ids(names: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not base[0].isalpha():
            base = "s_" + base
        candidate, n = base, 2
        while candidate in used or candidate in ("end", "graph", "subgraph"):
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids[name] = candidate
    return ids


def _mermaid_label(name: str) -> str:
    return name.replace('"', "#quot;")


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
