"""Tests for pymock.traceparent: every W3C Trace Context vector, plus unit tests."""

import json
import random
import re
from pathlib import Path

import pytest

from pymock.traceparent import (
    FLAG_RANDOM, FLAG_SAMPLED, TraceContext, TraceParent, format_tracestate, new_span_id,
    new_trace_id, parse_traceparent, parse_tracestate, propagate, propagate_from_headers,
    server_timing_value, tracestate_put,
)

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
VECTORS_FILE = CONFORMANCE / "trace-context" / "vectors.json"
# What the official harness demands of every outgoing traceparent.
HARNESS_FORMAT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

VALID = "00-12345678901234567890123456789012-1234567890123456-01"
SPEC_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "12345678901234567890123456789012"
PARENT = "1234567890123456"


def _load_vectors():
    if not VECTORS_FILE.is_file():
        return [pytest.param(None, id="vectors-absent")]
    return [pytest.param(v, id=v["id"]) for v in json.loads(VECTORS_FILE.read_text())]


def _lines(value):
    return value if isinstance(value, list) else [value]


def _incoming_trace_ids(values):
    """Every 32-hex-digit trace id a service could have lifted from the values."""
    ids = set()
    for value in values:
        for run in re.findall(r"[0-9a-fA-F]{31,}", value):
            ids.update({run[:32].lower(), run[-32:].lower()})
    return ids


def _check_outgoing(ctx: TraceContext):
    match = HARNESS_FORMAT.fullmatch(ctx.traceparent)
    assert match, ctx.traceparent
    trace_id, span_id, flags = match.groups()
    assert trace_id == ctx.trace_id and trace_id != "0" * 32
    assert span_id == ctx.span_id and span_id != "0" * 16
    assert int(flags, 16) & ~(FLAG_SAMPLED | FLAG_RANDOM) == 0, "unknown flags must be sent as 0"
    return int(flags, 16)


@pytest.mark.parametrize("vector", _load_vectors())
def test_conformance_vector(vector):
    if vector is None:
        pytest.skip(f"W3C trace-context vectors not found at {VECTORS_FILE} "
                    "(the repo is expected next to shared/conformance)")
    if vector["header"].lower() in ("traceparent", "trace-parent", "trace.parent"):
        _check_traceparent_vector(vector)
    else:
        _check_tracestate_vector(vector)


def _check_traceparent_vector(vector):
    values = _lines(vector["value"])
    headers = [(vector["header"], v) for v in values]
    ctx = propagate_from_headers(headers, random.Random(vector["id"]))
    flags = _check_outgoing(ctx)
    incoming_ids = _incoming_trace_ids(values)
    if vector["valid"]:
        parsed = parse_traceparent(values[0])
        assert parsed is not None
        assert ctx.trace_id == parsed.trace_id and ctx.continued
        assert ctx.parent_span_id == parsed.parent_id != ctx.span_id
        assert flags & FLAG_SAMPLED == parsed.flags & FLAG_SAMPLED
        if vector.get("expect", {}).get("flags_bit_0x02") == "set":
            assert flags & FLAG_RANDOM
    else:
        assert ctx.trace_id not in incoming_ids
        assert not ctx.continued and ctx.tracestate is None
        if vector["header"].lower() == "traceparent" and len(values) == 1:
            assert parse_traceparent(values[0]) is None


def _check_tracestate_vector(vector):
    values = _lines(vector["value"])
    headers = [(vector["header"], v) for v in values]
    if vector["with_traceparent"] is not None:
        headers.insert(0, ("traceparent", vector["with_traceparent"]))
    ctx = propagate_from_headers(headers, random.Random(vector["id"]))
    _check_outgoing(ctx)
    if vector["with_traceparent"] is not None:   # a bad tracestate never restarts the trace
        assert ctx.trace_id == parse_traceparent(vector["with_traceparent"]).trace_id
    out = parse_tracestate(ctx.tracestate) if ctx.tracestate else []
    assert out is not None, "what we send must itself be valid"
    if not vector["valid"]:
        assert out == []
        if vector["header"].lower() == "tracestate" and vector["with_traceparent"]:
            assert parse_tracestate(values) is None
        return
    assert parse_tracestate(values) == out
    if "expect_entries" in vector:
        assert out == [tuple(pair) for pair in vector["expect_entries"]]
    else:   # duplicate-key cases: one of the sent values for each key survives
        sent = {tuple(m.split("=")) for v in values for m in v.split(",")}
        assert out and all(entry in sent for entry in out)
        assert len({k for k, _ in out}) == len(out)


# --- traceparent ---------------------------------------------------------------------------

def test_parse_traceparent_fields_and_flags():
    tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")
    assert tp == TraceParent("00", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 3)
    assert tp.sampled and tp.random
    assert str(tp) == tp.format() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
    unsampled = parse_traceparent(VALID[:-2] + "00")
    assert not unsampled.sampled and not unsampled.random


@pytest.mark.parametrize("value", [None, 42, "", VALID[:-1], VALID + "-x", "ff" + VALID[2:],
                                   SPEC_EXAMPLE.upper(), "cc" + VALID[2:] + ".x",
                                   VALID.replace("-", "_")])
def test_parse_traceparent_rejects(value):
    assert parse_traceparent(value) is None


def test_future_version_keeps_fields_and_child_is_version_00():
    tp = parse_traceparent("cc" + VALID[2:-2] + "ff-future-fields")
    assert (tp.version, tp.trace_id, tp.parent_id, tp.flags) == ("cc", TRACE, PARENT, 0xFF)
    child = tp.child("abcdefabcdefabcd")
    assert child.format() == f"00-{TRACE}-abcdefabcdefabcd-03"   # unknown bits cleared


def test_new_ids_use_rng_and_are_never_zero():
    class ZeroFirst:
        def __init__(self):
            self.calls = 0

        def getrandbits(self, bits):
            self.calls += 1
            return 0 if self.calls == 1 else 5

    assert new_trace_id(ZeroFirst()) == "0" * 31 + "5"
    assert new_span_id(ZeroFirst()) == "0" * 15 + "5"
    assert new_trace_id(random.Random(1)) == new_trace_id(random.Random(1))
    assert re.fullmatch(r"[0-9a-f]{16}", new_span_id(random.Random(2)))


def test_propagate_continues_trace_and_carries_tracestate():
    ctx = propagate([VALID], ["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"], random.Random(3))
    assert ctx.trace_id == TRACE and ctx.parent_span_id == PARENT and ctx.continued
    assert ctx.traceparent == f"00-{TRACE}-{ctx.span_id}-01" and ctx.sampled
    assert ctx.tracestate == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert ctx.headers() == [("traceparent", ctx.traceparent), ("tracestate", ctx.tracestate)]


def test_propagate_new_trace_when_missing_or_invalid():
    for tp in (None, [], "garbage", [VALID, VALID.replace("9012-", "9011-")]):
        ctx = propagate(tp, "foo=1", random.Random(4))
        assert not ctx.continued and ctx.parent_span_id is None and ctx.tracestate is None
        assert ctx.flags == FLAG_SAMPLED | FLAG_RANDOM
        assert ctx.headers() == [("traceparent", ctx.traceparent)]
    unsampled = propagate(None, None, random.Random(4), sampled=False)
    assert unsampled.flags == FLAG_RANDOM and not unsampled.sampled


def test_propagate_identical_repeated_traceparent_is_not_a_conflict():
    ctx = propagate([VALID, " " + VALID], None, random.Random(5))
    assert ctx.trace_id == TRACE and ctx.tracestate is None


def test_propagate_never_reuses_parent_span_id():
    class Scripted:
        def __init__(self, values):
            self.values = list(values)

        def getrandbits(self, bits):
            return self.values.pop(0)

    ctx = propagate([VALID], None, Scripted([int(PARENT, 16), 0xABC]))
    assert ctx.span_id == "0000000000000abc"


def test_propagate_keeps_unsampled_flag_and_drops_unknown_bits():
    ctx = propagate([VALID[:-2] + "fc"], None, random.Random(6))
    assert ctx.flags == 0 and ctx.traceparent.endswith("-00")


def test_propagate_from_headers_reads_names_case_insensitively():
    ctx = propagate_from_headers([("TraceParent", VALID), ("TRACESTATE", "a=1"),
                                  ("trace-state", "b=2")], random.Random(7))
    assert ctx.trace_id == TRACE and ctx.tracestate == "a=1"


def test_server_timing_value():
    tp = parse_traceparent(VALID)
    assert server_timing_value(tp) == f'traceparent;desc="{VALID}"'
    assert server_timing_value(" " + VALID) == f'traceparent;desc="{VALID}"'
    with pytest.raises(ValueError, match="not a valid traceparent"):
        server_timing_value("00-zz")


# --- tracestate ----------------------------------------------------------------------------

def test_parse_tracestate_shapes():
    assert parse_tracestate(None) == []
    assert parse_tracestate("") == []
    assert parse_tracestate(" a=1 ,\t, b= x") == [("a", "1"), ("b", " x")]
    assert parse_tracestate(["a=1", "a=2", "tenant@system=v"]) == [("a", "1"),
                                                                   ("tenant@system", "v")]


@pytest.mark.parametrize("value", ["a", "a=", "a= ", "A=1", "a=1=2", "-a=1", "a=1\x7f",
                                   "a=" + "x" * 257, "k" * 257 + "=1",
                                   ",".join(f"k{i}=1" for i in range(33))])
def test_parse_tracestate_rejects(value):
    assert parse_tracestate(value) is None


def test_format_tracestate_fits_without_truncation():
    members = [("a", "1"), ("b", "2")]
    assert format_tracestate(members) == "a=1,b=2"
    assert format_tracestate(members, max_len=7) == "a=1,b=2"
    assert format_tracestate([]) == ""


def test_format_tracestate_drops_large_entries_first_from_the_end():
    big1, big2 = ("big1", "x" * 130), ("big2", "y" * 130)
    small = [(f"k{i:02d}", "v" * 20) for i in range(12)]   # 12 * 24 chars + commas
    members = [big1, small[0], big2] + small[1:]
    out = format_tracestate(members)
    assert len(out) <= 512
    kept = parse_tracestate(out)
    assert big2 not in kept and big1 in kept   # removing big2 alone was enough
    assert kept == [big1] + small


def test_format_tracestate_then_drops_from_the_end():
    members = [(f"k{i:02d}", "v" * 60) for i in range(10)]   # 64 chars each
    out = format_tracestate(members)
    assert parse_tracestate(out) == members[:7] and len(out) <= 512
    assert format_tracestate(members, max_len=10) == ""


def test_propagate_truncates_long_tracestate():
    long_state = ",".join(f"k{i:02d}={'v' * 60}" for i in range(10))
    ctx = propagate([VALID], [long_state], random.Random(8))
    assert len(ctx.tracestate) <= 512 and ctx.tracestate.startswith("k00=")


def test_tracestate_put_moves_entry_to_front_and_validates():
    members = [("a", "1"), ("mock", "old"), ("b", "2")]
    assert tracestate_put(members, "mock", "new") == [("mock", "new"), ("a", "1"), ("b", "2")]
    assert members[1] == ("mock", "old")   # the input is not changed
    with pytest.raises(ValueError, match="key"):
        tracestate_put(members, "Mock", "x")
    with pytest.raises(ValueError, match="value"):
        tracestate_put(members, "mock", "a,b")
