"""Request matching: path patterns, an indexed router, and miss explanations.

Pure: no sockets, threads or files; imports only the standard library, ``errors`` and
``matchers`` (the value operators, re-exported here), nothing above layer 0. ``config.py``
compiles each endpoint's ``path`` and ``match`` block with ``compile_path`` /
``compile_matcher``; ``Router`` indexes endpoints by method and literal path segments so a
lookup does not scan every endpoint.

>>> pattern = compile_path("/users/{id}/orders/*")
>>> pattern.kind_name, pattern.match("/users/7/orders/x")
('wildcard', {'id': '7'})
>>> compile_matcher({"regex": "^a+$"}, "match.query.q").check("aaa")
True
>>> [str(m) for m in compile_matcher({"json_partial": {"a": 1}}, "body").explain({"a": 2})]
['at $.a: expected 1, got 2']

Specificity, most specific first: a literal segment beats ``{param}``, which beats ``*``,
which beats ``**``; a regex path comes last. Ties go to ``priority`` (lower number wins,
as in WireMock) and then to file order.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .errors import Problem
# The value operators live in matchers.py; re-exported so ``pymock.matching`` keeps its names.
from .matchers import MATCHER_OPERATORS, Matcher, Mismatch, compile_matcher

__all__ = [
    "PathPattern", "compile_path", "split_path", "Matcher", "compile_matcher", "Mismatch",
    "Route", "Router", "RouteHit", "RouteMiss", "NearMiss", "MATCHER_OPERATORS",
]

LITERAL, PARAM, WILDCARD, REST, REGEX = 0, 1, 2, 3, 4
_KIND_NAMES = {LITERAL: "literal", PARAM: "param", WILDCARD: "wildcard", REST: "wildcard",
               REGEX: "regex"}
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")


def split_path(path: str) -> list[str]:
    """Path segments with empty ones dropped: ``/a//b/`` and ``/a/b`` are the same route."""
    return [segment for segment in path.split("/") if segment]


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str                        # literal text, or the source of a param segment
    names: tuple[str, ...] = ()      # param names captured by this segment
    regex: re.Pattern | None = None  # for partial params like "{name}.json"


@dataclass(frozen=True)
class PathPattern:
    """A compiled ``path``: literal, ``{param}`` templates, ``*`` one segment, ``**`` the rest,
    or a regex (the path starts with ``^``; named groups become path params)."""

    source: str
    segments: tuple[_Segment, ...]
    kind: int                          # the least specific segment kind, for display
    regex: re.Pattern | None = None

    @property
    def kind_name(self) -> str:
        return _KIND_NAMES[self.kind]

    @property
    def specificity(self) -> tuple:
        """Sort key: lower is more specific (compared segment by segment)."""
        if self.regex is not None:
            return (REGEX,)
        return tuple(segment.kind for segment in self.segments) + (-1,)

    def match(self, path: str, segments: list[str] | None = None) -> dict[str, str] | None:
        """The path params when ``path`` matches, else ``None``."""
        if self.regex is not None:
            found = self.regex.match(path)
            return {k: v for k, v in found.groupdict().items() if v is not None} if found else None
        return self._match_segments(split_path(path) if segments is None else segments)

    def _match_segments(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for position, segment in enumerate(self.segments):
            if segment.kind == REST:
                params["**"] = "/".join(parts[position:])
                return params
            if position >= len(parts):
                return None
            part = parts[position]
            if segment.kind == LITERAL:
                if part != segment.text:
                    return None
            elif segment.kind == WILDCARD:
                continue
            elif segment.regex is None:
                params[segment.names[0]] = part
            else:
                found = segment.regex.fullmatch(part)
                if not found:
                    return None
                params.update(found.groupdict())
        return params if len(parts) == len(self.segments) else None


def compile_path(path: str, where: str = "path", problems: list | None = None) -> PathPattern:
    """Compile a path pattern; problems go to ``problems`` (or raise ``ValueError``)."""
    if path.startswith("^"):
        try:
            return PathPattern(path, (), REGEX, re.compile(path))
        except re.error as exc:
            return _path_problem(f"invalid regex: {exc}", where, problems, path)
    if not path.startswith("/"):
        return _path_problem("must start with '/' (or '^' for a regex)", where, problems, path,
                             hint=f"did you mean '/{path}'?")
    segments = []
    parts = split_path(path)
    for position, part in enumerate(parts):
        if part == "**" and position != len(parts) - 1:
            return _path_problem("'**' may only be the last segment", where, problems, path)
        segments.append(_compile_segment(part))
    kind = max((s.kind for s in segments), default=LITERAL)
    return PathPattern(path, tuple(segments), kind)


def _compile_segment(part: str) -> _Segment:
    if part == "*":
        return _Segment(WILDCARD, part)
    if part == "**":
        return _Segment(REST, part)
    names = tuple(_PARAM_RE.findall(part))
    if not names:
        return _Segment(LITERAL, part)
    if len(names) == 1 and part == "{" + names[0] + "}":
        return _Segment(PARAM, part, names)
    # A segment mixing text and params, e.g. "{name}.json": one regex for the segment.
    pieces, last = [], 0
    for found in _PARAM_RE.finditer(part):
        pieces.append(re.escape(part[last:found.start()]))
        pieces.append(f"(?P<{found.group(1).replace('-', '_')}>[^/]+?)")
        last = found.end()
    pieces.append(re.escape(part[last:]))
    return _Segment(PARAM, part, names, re.compile("".join(pieces)))


def _path_problem(message, where, problems, path, hint=None) -> PathPattern:
    if problems is None:
        raise ValueError(f"{where}: {message}")
    problems.append(Problem(where, message, hint))
    return PathPattern(path, (_Segment(LITERAL, "\0invalid"),), LITERAL)


# ---------------------------------------------------------------- the router

@dataclass(frozen=True)
class Route:
    """What the router needs of an endpoint: methods, path and request conditions."""

    key: object                                  # the endpoint itself (returned on a hit)
    ident: str
    methods: frozenset | None                    # None means any method
    path: PathPattern
    query: tuple = ()                            # ((name, Matcher), ...)
    headers: tuple = ()
    cookies: tuple = ()
    body: tuple = ()                             # (Matcher, ...)
    priority: int = 5
    order: int = 0

    def sort_key(self) -> tuple:
        return (self.path.specificity, self.priority, self.order)

    def conditions_hold(self, request) -> bool:
        for name, matcher in self.query:
            values = request.query.get(name)
            if not matcher.check(values[0] if values else None):
                return False
        headers = request.headers
        for name, matcher in self.headers:
            if not matcher.check(headers.get(name)):
                return False
        if self.cookies:
            cookies = request.cookies
            for name, matcher in self.cookies:
                if not matcher.check(cookies.get(name)):
                    return False
        return all(matcher.check(request.body) for matcher in self.body)

    def difference(self, request, path_params=None) -> list[Mismatch]:
        """Every field of ``request`` this route disagrees with (empty means it matches)."""
        out = []
        if self.methods is not None and request.method not in self.methods:
            out.append(Mismatch("method", "|".join(sorted(self.methods)), request.method))
        if path_params is None and self.path.match(request.path) is None:
            out.append(Mismatch("path", self.path.source, request.path))
        for name, matcher in self.query:
            values = request.query.get(name)
            out += matcher.explain(values[0] if values else None, f"query.{name}")
        for name, matcher in self.headers:
            out += matcher.explain(request.headers.get(name), f"header.{name}")
        for name, matcher in self.cookies:
            out += matcher.explain(request.cookies.get(name), f"cookie.{name}")
        for matcher in self.body:
            out += matcher.explain(request.body, "body")
        return out


@dataclass(frozen=True)
class RouteHit:
    route: Route
    path_params: dict


@dataclass(frozen=True)
class NearMiss:
    route: Route
    mismatches: list
    distance: float

    def as_dict(self) -> dict:
        return {"id": self.route.ident, "path": self.route.path.source,
                "methods": sorted(self.route.methods) if self.route.methods else ["ANY"],
                "mismatches": [m.as_dict() | {"message": str(m)} for m in self.mismatches]}


@dataclass(frozen=True)
class RouteMiss:
    allowed_methods: list           # non-empty: the path exists under these methods (405)
    near_misses: list = field(default_factory=list)


class _Node:
    __slots__ = ("literal", "param", "wildcard", "rest", "routes")

    def __init__(self):
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.wildcard: _Node | None = None
        self.rest: list[Route] = []
        self.routes: list[Route] = []


class Router:
    """Finds the most specific route for a request through a trie of literal path segments.

    Only routes whose path can match are looked at; regex paths are kept in a short list that
    is tried after the trie. ``near_misses`` is computed only on a miss.
    """

    def __init__(self, routes):
        self.routes = sorted(routes, key=Route.sort_key)
        self._root = _Node()
        self._regex_routes: list[Route] = []
        self._by_first_segment = None  # built on the first miss (see _near_miss_pool)
        for route in self.routes:
            self._insert(route)

    def _insert(self, route: Route) -> None:
        if route.path.regex is not None:
            self._regex_routes.append(route)
            return
        node = self._root
        for segment in route.path.segments:
            if segment.kind == REST:
                node.rest.append(route)
                return
            if segment.kind == LITERAL:
                node = node.literal.setdefault(segment.text, _Node())
            elif segment.kind == PARAM:
                node.param = node.param or _Node()
                node = node.param
            else:
                node.wildcard = node.wildcard or _Node()
                node = node.wildcard
        node.routes.append(route)

    def path_candidates(self, path: str) -> list[tuple[Route, dict]]:
        """Routes whose path matches, most specific first, with their path params."""
        parts = split_path(path)
        found: list[Route] = []
        self._collect(self._root, parts, 0, found)
        found.extend(r for r in self._regex_routes if r.path.regex.match(path))
        if len(found) > 1:
            found.sort(key=Route.sort_key)
        out = []
        for route in found:
            params = route.path.match(path, parts)
            if params is not None:
                out.append((route, params))
        return out

    def _collect(self, node: _Node, parts: list[str], depth: int, found: list) -> None:
        found.extend(node.rest)
        if depth == len(parts):
            found.extend(node.routes)
            return
        child = node.literal.get(parts[depth])
        if child is not None:
            self._collect(child, parts, depth + 1, found)
        if node.param is not None:
            self._collect(node.param, parts, depth + 1, found)
        if node.wildcard is not None:
            self._collect(node.wildcard, parts, depth + 1, found)

    def find(self, request, accept=None) -> RouteHit | RouteMiss:
        """The best route for ``request``; ``accept(route)`` may veto a route whose conditions
        hold (scenario states do), and the next candidate is tried."""
        candidates = self.path_candidates(request.path)
        method = request.method
        allowed: set[str] = set()
        for route, params in candidates:
            if route.methods is not None and method not in route.methods:
                allowed.update(route.methods)
                continue
            if route.conditions_hold(request) and (accept is None or accept(route)):
                return RouteHit(route, params)
            allowed.add(method)
        if allowed and method not in allowed:
            if method == "HEAD" and "GET" in allowed:
                return self.find(_AsGet(request), accept)
            if "GET" in allowed:
                allowed.add("HEAD")  # HEAD is answered by GET routes
            return RouteMiss(sorted(allowed), self.near_misses(request))
        return RouteMiss([], self.near_misses(request))

    def near_misses(self, request, limit: int = 3) -> list[NearMiss]:
        """The routes closest to ``request``, each with what differed, closest first.

        With many routes only a bounded pool is scored (routes sharing the request's first
        path segment, then routes that start with a pattern, then the first ones in order),
        so a flood of misses cannot cost a scan of 10,000 routes each.
        """
        scored = []
        for route in self._near_miss_pool(request.path):
            mismatches = route.difference(request)
            if mismatches:
                scored.append(NearMiss(route, mismatches, _distance(route, request, mismatches)))
        scored.sort(key=lambda miss: (miss.distance, miss.route.order))
        return scored[:limit]


    def _near_miss_pool(self, path: str) -> list:
        if len(self.routes) <= _NEAR_MISS_POOL:
            return self.routes
        if self._by_first_segment is None:
            index: dict = {}
            for route in self.routes:
                first = route.path.segments[0] if route.path.segments else None
                key = first.text if first is not None and first.kind == LITERAL else None
                index.setdefault(key, []).append(route)
            self._by_first_segment = index
        parts = split_path(path)
        pool = list(self._by_first_segment.get(parts[0] if parts else None, ()))[:_NEAR_MISS_POOL]
        for extra in (self._by_first_segment.get(None, ()), self.routes):
            if len(pool) >= _NEAR_MISS_POOL:
                break
            seen = set(map(id, pool))
            pool += [r for r in extra if id(r) not in seen][:_NEAR_MISS_POOL - len(pool)]
        return pool


_NEAR_MISS_POOL = 200  # routes scored per miss at most


def _distance(route: Route, request, mismatches: list[Mismatch]) -> float:
    # A wrong path or method is a bigger miss than one header or body field.
    distance = float(len(mismatches))
    for mismatch in mismatches:
        if mismatch.field == "method":
            distance += 0.5
        elif mismatch.field == "path":
            ratio = difflib.SequenceMatcher(None, route.path.source, request.path).quick_ratio()
            distance += 2.0 * (1.0 - ratio)
    return distance


class _AsGet:
    """A HEAD request seen as GET, so GET routes answer HEAD (the server drops the body)."""

    def __init__(self, request):
        self._request = request
        self.method = "GET"

    def __getattr__(self, name):
        return getattr(self._request, name)
