"""W3C Trace Context: parse, validate and propagate ``traceparent`` and ``tracestate``.

Level 1 of the spec, plus the Level 2 ``random`` trace flag. A receiver parses strictly: an
invalid traceparent (or several that disagree) is ignored and a brand-new trace is started,
and then the incoming tracestate is dropped too. A valid one keeps its trace id; every hop gets
a new span id; tracestate is carried on, truncated by whole entries to the spec's size rules.

>>> import random
>>> tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
>>> tp.trace_id, tp.sampled
('4bf92f3577b34da6a3ce929d0e0e4736', True)
>>> parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01") is None
True
>>> parse_tracestate(["rojo=1,congo=2", "foo=bar"])
[('rojo', '1'), ('congo', '2'), ('foo', 'bar')]
>>> ctx = propagate([tp.format()], ["rojo=1"], random.Random(7))
>>> ctx.trace_id == tp.trace_id, ctx.parent_span_id, ctx.tracestate
(True, '00f067aa0ba902b7', 'rojo=1')

Pure (layer 0): imports only ``re`` and ``dataclasses``; randomness comes from the caller's
``random.Random``. Must not import sockets, threads, time or anything above layer 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "TraceParent", "TraceContext", "parse_traceparent", "parse_tracestate",
    "format_tracestate", "tracestate_put", "new_trace_id", "new_span_id", "propagate",
    "propagate_from_headers", "server_timing_value", "TRACEPARENT", "TRACESTATE",
    "FLAG_SAMPLED", "FLAG_RANDOM", "MAX_TRACESTATE_MEMBERS", "MAX_TRACESTATE_LENGTH",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
FLAG_SAMPLED = 0x01
FLAG_RANDOM = 0x02   # Level 2: the trace id's right-most 7 bytes are random
_KNOWN_FLAGS = FLAG_SAMPLED | FLAG_RANDOM
MAX_TRACESTATE_MEMBERS = 32
MAX_TRACESTATE_LENGTH = 512
_LARGE_ENTRY = 128   # entries longer than this are the first to go when truncating

_OWS = " \t"
_V00_LENGTH = 55
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# Current grammar: key = (lcalpha / DIGIT) 0*255(keychar); keychar includes "@", so both
# simple keys and multi-tenant "tenant@system" keys match.
_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
# value = 0*255(chr) nblk-chr; chr is 0x20-0x7E except "," and "="; nblk-chr also not space.
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


@dataclass(frozen=True)
class TraceParent:
    """One parsed ``traceparent``: ``version`` and ids as lowercase hex, ``flags`` as an int."""

    version: str
    trace_id: str
    parent_id: str
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & FLAG_SAMPLED)

    @property
    def random(self) -> bool:
        """Level 2 random-trace-id flag."""
        return bool(self.flags & FLAG_RANDOM)

    def format(self) -> str:
        """The header value exactly as these fields say (see ``child`` for what to send on)."""
        return f"{self.version}-{self.trace_id}-{self.parent_id}-{self.flags:02x}"

    def child(self, span_id: str) -> TraceParent:
        """The traceparent to send downstream: version 00, same trace, ``span_id`` as parent.

        Flag bits this version does not define are cleared, as the spec requires.
        """
        return TraceParent("00", self.trace_id, span_id, self.flags & _KNOWN_FLAGS)

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class TraceContext:
    """What one hop sends downstream, and how it relates to what came in.

    ``parent_span_id`` is the incoming parent id (``None`` when a new trace was started);
    ``span_id`` is this hop's new span; ``tracestate`` is ``None`` when there is nothing to send.
    """

    traceparent: str
    tracestate: str | None
    trace_id: str
    parent_span_id: str | None
    span_id: str
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & FLAG_SAMPLED)

    @property
    def continued(self) -> bool:
        """True when the incoming trace was kept, False when a new one was started."""
        return self.parent_span_id is not None

    def headers(self) -> list[tuple[str, str]]:
        """The header lines to put on the outgoing request (or on the response)."""
        out = [(TRACEPARENT, self.traceparent)]
        if self.tracestate:
            out.append((TRACESTATE, self.tracestate))
        return out


def parse_traceparent(value: str | None) -> TraceParent | None:
    """Parse one ``traceparent`` field value; ``None`` when it must be ignored.

    Version 00 must be exactly 55 characters. A higher version (anything but ``ff``) is read
    by the version-00 layout from its first 55 characters; what follows must start with "-".
    Upper-case hex, all-zero ids and version ``ff`` are invalid.
    """
    if not isinstance(value, str):
        return None
    value = value.strip(_OWS)
    if len(value) < _V00_LENGTH:
        return None
    head, rest = value[:_V00_LENGTH], value[_V00_LENGTH:]
    version = head[:2]
    if version == "ff" or (version == "00" and rest) or (rest and rest[0] != "-"):
        return None
    match = _FIELDS.fullmatch(head)
    if match is None:
        return None
    _, trace_id, parent_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceParent(version, trace_id, parent_id, int(flags, 16))


def parse_tracestate(values: list[str] | str | None) -> list[tuple[str, str]] | None:
    """Combine ``tracestate`` field lines and parse them; ``None`` when the whole list is invalid.

    Lines are joined with commas (RFC 9110), empty members are skipped and whitespace around
    members is optional. One malformed member, or more than 32 members, invalidates the list.
    A repeated key keeps its first value (the later duplicate is dropped).
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    members = [m.strip(_OWS) for m in ",".join(values).split(",")]
    members = [m for m in members if m]
    if len(members) > MAX_TRACESTATE_MEMBERS:
        return None
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for member in members:
        key, sep, val = member.partition("=")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(val):
            return None
        if key not in seen:
            seen.add(key)
            entries.append((key, val))
    return entries


def format_tracestate(members, max_len: int = MAX_TRACESTATE_LENGTH) -> str:
    """Render entries as one header value no longer than ``max_len`` characters.

    Truncation drops whole entries: first those longer than 128 characters (from the end of
    the list), then entries from the end, as the spec recommends. May return ``""``.
    """
    items = [f"{key}={value}" for key, value in members]

    def size() -> int:
        return sum(map(len, items)) + max(len(items) - 1, 0)

    for index in range(len(items) - 1, -1, -1):
        if size() <= max_len:
            break
        if len(items[index]) > _LARGE_ENTRY:
            del items[index]
    while items and size() > max_len:
        items.pop()
    return ",".join(items)


def tracestate_put(members, key: str, value: str) -> list[tuple[str, str]]:
    """A copy of ``members`` with ``key`` set to ``value`` and moved to the front (the spec's
    rule for a vendor updating its own entry). Raises ``ValueError`` for a bad key or value."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"tracestate key {key!r} is not valid: use lowercase letters, digits "
                         "and _-*/@, starting with a letter or digit, at most 256 characters")
    if not _VALUE.fullmatch(value):
        raise ValueError(f"tracestate value {value!r} for {key!r} is not valid: use 1-256 "
                         "printable ASCII characters without ',' or '=', not ending in a space")
    return [(key, value)] + [(k, v) for k, v in members if k != key]


def new_trace_id(rng) -> str:
    """A random 32-hex-digit trace id from ``rng`` (a ``random.Random``); never all zeros."""
    return _random_hex(rng, 128)


def new_span_id(rng) -> str:
    """A random 16-hex-digit span (parent) id from ``rng``; never all zeros."""
    return _random_hex(rng, 64)


def _random_hex(rng, bits: int) -> str:
    value = 0
    while value == 0:
        value = rng.getrandbits(bits)
    return f"{value:0{bits // 4}x}"


def propagate(traceparent_values, tracestate_values, rng, *, sampled: bool = True) -> TraceContext:
    """Decide the trace context for the next hop from the incoming header field lines.

    ``traceparent_values`` / ``tracestate_values`` are the lists of field lines received
    (a single string or ``None`` are accepted too). A valid traceparent keeps its trace id,
    flags and tracestate; anything else starts a new trace (flagged ``sampled`` as asked, and
    random) and drops the incoming tracestate.
    """
    incoming = _single_traceparent(traceparent_values)
    span_id = new_span_id(rng)
    if incoming is None:
        flags = FLAG_RANDOM | (FLAG_SAMPLED if sampled else 0)
        outgoing = TraceParent("00", new_trace_id(rng), span_id, flags)
        return TraceContext(outgoing.format(), None, outgoing.trace_id, None, span_id, flags)
    while span_id == incoming.parent_id:   # a hop must never reuse its parent's id
        span_id = new_span_id(rng)
    outgoing = incoming.child(span_id)
    entries = parse_tracestate(tracestate_values)
    state = format_tracestate(entries) if entries else ""
    return TraceContext(outgoing.format(), state or None, incoming.trace_id,
                        incoming.parent_id, span_id, outgoing.flags)


def propagate_from_headers(headers, rng, *, sampled: bool = True) -> TraceContext:
    """``propagate`` from an iterable of ``(name, value)`` header lines (names matched
    case-insensitively), e.g. a ``model.Headers`` or a list of pairs."""
    parents: list[str] = []
    states: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == TRACEPARENT:
            parents.append(value)
        elif lowered == TRACESTATE:
            states.append(value)
    return propagate(parents, states, rng, sampled=sampled)


def _single_traceparent(values) -> TraceParent | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    distinct = {v.strip(_OWS) for v in values}
    if len(distinct) != 1:   # none, or several that disagree: ambiguous, so start over
        return None
    return parse_traceparent(distinct.pop())


def server_timing_value(traceparent) -> str:
    """A ``Server-Timing`` metric carrying the traceparent, so browsers can read the trace id
    (``PerformanceServerTiming``). A widely used convention, not part of Trace Context.

    >>> server_timing_value("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    'traceparent;desc="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"'
    """
    text = traceparent.format() if isinstance(traceparent, TraceParent) else str(traceparent)
    if parse_traceparent(text) is None:
        raise ValueError(f"server_timing_value got {text!r}, which is not a valid traceparent; "
                         "pass the value this hop sends (TraceContext.traceparent)")
    return f'traceparent;desc="{text.strip(_OWS)}"'
