"""Serving modes: mock, proxy, proxy_with_fallback, spy, record and replay; upstream safety.

Layer 1: decides, never connects. The ``proxy`` config section and the endpoint keys
``mode``, ``upstream`` and ``proxy`` compile here into a ``ProxySettings`` whose ``plan``
answers "forward this request, and how?" with a precomputed ``Plan`` (or ``None``: answer
with the mock). ``UpstreamPolicy`` says which upstream hosts may be contacted at all.
Carrying a plan out (the injected forwarder, one circuit breaker per upstream, fallback,
metrics, problem+json answers, the recordings admin API) is ``mode_runner``'s job; its
names are re-exported here.

>>> problems = []
>>> settings = parse_section({"mode": "spy", "upstream": "http://127.0.0.1:9000/api"}, problems, {})
>>> problems, settings.plan(None).mode, settings.plan(None).upstream.origin
([], 'proxy', 'http://127.0.0.1:9000')
>>> UpstreamPolicy().refusal("169.254.169.254")
'169.254.169.254 is a link-local or cloud metadata address (set proxy.allow_link_local to allow it)'

Imports ``mode_runner`` (never the other way round). Must not import sockets, ssl,
http.client, threads, ``config`` or ``engine`` (``config`` imports this module), or anything
in layer 2.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from .breakers import BreakerConfig
from .errors import ConfigError, Problem, kind_name, unknown_key_problems
# The forwarding run's names stay importable from here, private ones included, as before the split.
from .mode_runner import (_ERROR_TITLES, _NO_RECORDER, ERROR_STATUS, RECORD_KEYS,  # noqa: F401
                          Forwarded, ModeRunner, UpstreamResult, _failure, _json, _options_body,
                          _recorder_or_problem, _restore, _write_answer, recording_snapshot,
                          recording_start, recording_status, recording_stop, upstream_problem)

__all__ = [
    "MODES", "ENDPOINT_MODES", "ERROR_STATUS", "Upstream", "UpstreamPolicy", "ProxyOptions",
    "RecordOptions", "Plan", "ProxySettings", "UpstreamResult", "ModeRunner", "Forwarded",
    "parse_section", "parse_upstream", "upstream_problem", "recording_start", "recording_stop",
    "recording_status", "recording_snapshot",
]

MODES = ("mock", "proxy", "proxy_with_fallback", "spy", "record", "replay")
ENDPOINT_MODES = ("mock", "proxy", "proxy_with_fallback", "record")
_FORWARDING = ("proxy", "proxy_with_fallback", "spy", "record")
OPTION_KEYS = ("connect_timeout_s", "read_timeout_s", "follow_redirects", "max_redirects",
               "max_body_bytes", "verify_tls", "ca_file", "fallback_on", "forwarded_headers",
               "preserve_host", "strip_prefix")
SECTION_KEYS = ("mode", "upstream", "allow_hosts", "allow_link_local", "circuit_breaker",
                "record") + OPTION_KEYS
# RECORD_KEYS (proxy.record's keys) is mode_runner's: its recordings admin API takes them too.
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"),
               ipaddress.ip_network("fd00:ec2::254/128"))


# ---------------------------------------------------------------- upstreams and policy

@dataclass(frozen=True)
class Upstream:
    """Where to forward: ``http[s]://host[:port][/base]`` split into its parts."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: str = ""

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_upstream(value, where: str = "upstream", problems: list | None = None) -> Upstream | None:
    """An ``Upstream`` from a URL; problems go to ``problems`` (or raise ``ConfigError``)."""
    issues: list = [] if problems is None else problems
    upstream = _upstream(value, where, issues)
    if problems is None and upstream is None:
        raise ConfigError(issues, "the upstream")
    return upstream


def _upstream(value, where: str, problems: list) -> Upstream | None:
    example = "e.g. 'https://api.example.com' or 'http://127.0.0.1:9000/v1'"
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, f"expected a URL string, got {kind_name(value)}", example))
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        problems.append(Problem(where, f"not a valid URL {value!r}: {exc}", example))
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(Problem(where, f"{value!r} is not an http:// or https:// URL with a host", example))
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        problems.append(Problem(where, f"{value!r} has credentials, a query or a fragment",
                                "give only scheme, host, port and an optional base path; "
                                "credentials belong in headers"))
        return None
    default = 443 if parts.scheme == "https" else 80
    return Upstream(value.rstrip("/"), parts.scheme, parts.hostname.lower(), port or default,
                    parts.path.rstrip("/"))


@dataclass(frozen=True)
class UpstreamPolicy:
    """Which upstream hosts may be contacted.

    ``allow_hosts`` (empty: any) holds host names, ``*.suffix`` wildcards, IP addresses and
    CIDR blocks. Link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
    fd00:ec2::254) are refused unless ``allow_link_local``; the forwarder checks every
    resolved address too, so a DNS name cannot smuggle them in.
    """

    allow_hosts: tuple = ()
    allow_link_local: bool = False
    # Asked on every forwarded request, and the answer never changes: remembered (bounded).
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def refusal(self, host: str, address: str | None = None) -> str | None:
        """Why ``host`` (resolved to ``address``, when known) is refused, or ``None``."""
        key = (host, address)
        try:
            return self._memo[key]
        except KeyError:
            pass
        if len(self._memo) > 4096:
            self._memo.clear()
        answer = self._memo[key] = _refusal(self, host, address)
        return answer


def _refusal(policy: UpstreamPolicy, host: str, address: str | None) -> str | None:
    host = host.lower().strip("[]")
    for candidate in (host, address):
        ip = _ip(candidate)
        if ip is not None and not policy.allow_link_local and any(ip in net for net in _LINK_LOCAL):
            return (f"{candidate} is a link-local or cloud metadata address "
                    "(set proxy.allow_link_local to allow it)")
    if policy.allow_hosts and not any(_host_allowed(entry, host, address) for entry in policy.allow_hosts):
        return f"{host} is not in proxy.allow_hosts ({', '.join(policy.allow_hosts)})"
    return None


def _ip(text):
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _host_allowed(entry: str, host: str, address: str | None) -> bool:
    if entry.startswith("*."):
        return host.endswith(entry[1:])
    if "/" in entry or _ip(entry) is not None:
        network = ipaddress.ip_network(entry, strict=False)
        return any(ip is not None and ip.version == network.version and ip in network
                   for ip in (_ip(host), _ip(address)))
    return host == entry


# ---------------------------------------------------------------- options

@dataclass(frozen=True)
class ProxyOptions:
    """How one request is forwarded (server-wide, overridable per endpoint)."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    follow_redirects: bool = False
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024
    verify_tls: bool = True
    ca_file: str | None = None
    fallback_statuses: frozenset = frozenset(range(500, 600))
    forwarded_headers: bool = True     # add X-Forwarded-For/-Proto/-Host
    preserve_host: bool = False        # send the client's Host instead of the upstream's
    strip_prefix: str = ""
    identity_encoding: bool = False    # ask for uncompressed bodies (set while recording)
    policy: UpstreamPolicy = UpstreamPolicy()


@dataclass(frozen=True)
class RecordOptions:
    """What a recording turns into match conditions, and what it hides."""

    match_query: bool = True
    match_headers: tuple = ()
    match_body: bool = False
    redact_headers: tuple = ("authorization", "cookie", "set-cookie", "proxy-authorization",
                             "x-api-key")
    redact_patterns: tuple = ()
    placeholder: str = "REDACTED"
    dedupe: bool = True
    sequences: bool = True
    max_exchanges: int = 10000


@dataclass(frozen=True)
class Plan:
    """A decision to forward: the mode, where to, how, with which breaker and record options."""

    mode: str
    upstream: Upstream
    options: ProxyOptions
    breaker: BreakerConfig | None = None
    record: RecordOptions = RecordOptions()


@dataclass(frozen=True)
class ProxySettings:
    """The compiled ``proxy`` section plus per-endpoint plans (keyed by endpoint order)."""

    mode: str = "mock"
    upstream: Upstream | None = None
    options: ProxyOptions = ProxyOptions()
    breaker: BreakerConfig | None = None
    record: RecordOptions = RecordOptions()
    unmatched: Plan | None = None
    default: Plan | None = None
    endpoints: dict = field(default_factory=dict)
    active: bool = False   # False when every request is answered by a mock (the fast path)

    def plan(self, endpoint) -> Plan | None:
        """How to forward a request that matched ``endpoint`` (``None``: no match), or
        ``None`` when the mock answers."""
        if endpoint is None:
            return self.unmatched
        return self.endpoints.get(endpoint.order, self.default)


# ---------------------------------------------------------------- parsing

def parse_section(value, problems: list, raw: dict) -> ProxySettings:
    """``SECTION_PARSERS["proxy"]``: the section and the endpoints' mode keys, all problems
    appended to ``problems`` (paths ``proxy.*`` and ``endpoints[i].*``)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(Problem("proxy", f"expected an object, got {kind_name(value)}",
                                'e.g. {"mode": "proxy", "upstream": "https://api.example.com"}'))
        value = {}
    _check_keys(value, SECTION_KEYS, "proxy", problems)
    mode = _choice(value.get("mode", "mock"), MODES, "proxy.mode", problems)
    upstream = _upstream(value["upstream"], "proxy.upstream", problems) if "upstream" in value else None
    policy = UpstreamPolicy(tuple(_hosts(value.get("allow_hosts", []), problems)),
                            _bool(value, "allow_link_local", "proxy", problems, False))
    options = _options(value, "proxy", problems, ProxyOptions(policy=policy))
    breaker = _breaker(value.get("circuit_breaker"), problems)
    record = _record(value.get("record", {}), problems)
    if mode in _FORWARDING and upstream is None:
        problems.append(Problem("proxy.upstream", f"mode {mode!r} needs an upstream",
                                "e.g. \"upstream\": \"https://api.example.com\""))
    _check_policy(upstream, policy, "proxy.upstream", problems)
    settings = ProxySettings(mode, upstream, options, breaker, record)
    default = _plan(settings, mode if mode in ENDPOINT_MODES else "mock", upstream, options)
    unmatched = _plan(settings, "proxy" if mode == "spy" else mode, upstream, options)
    endpoints = _endpoint_plans(raw.get("endpoints"), settings, problems)
    active = unmatched is not None or default is not None or any(endpoints.values())
    return replace(settings, unmatched=unmatched, default=default, endpoints=endpoints, active=active)


def _plan(settings: ProxySettings, mode: str, upstream, options) -> Plan | None:
    if settings.mode == "replay" or mode not in _FORWARDING or upstream is None:
        return None
    if mode == "record":   # recordings keep readable bodies
        options = replace(options, identity_encoding=True)
    return Plan(mode, upstream, options, settings.breaker, settings.record)


def _endpoint_plans(items, settings: ProxySettings, problems: list) -> dict:
    plans = {}
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not any(k in item for k in ("mode", "upstream", "proxy")):
            continue
        where = f"endpoints[{index}]"
        mode = _choice(item.get("mode"), ENDPOINT_MODES, f"{where}.mode", problems) if "mode" in item else None
        upstream = _upstream(item["upstream"], f"{where}.upstream", problems) if "upstream" in item else None
        _check_policy(upstream, settings.options.policy, f"{where}.upstream", problems)
        options = settings.options
        if "proxy" in item:
            block = item["proxy"]
            if isinstance(block, dict):
                _check_keys(block, OPTION_KEYS, f"{where}.proxy", problems)
                options = _options(block, f"{where}.proxy", problems, options)
            else:
                problems.append(Problem(f"{where}.proxy", f"expected an object, got {kind_name(block)}"))
        mode = mode or (settings.mode if settings.mode in ENDPOINT_MODES else "mock")
        target = upstream or settings.upstream
        if mode in _FORWARDING and target is None:
            problems.append(Problem(f"{where}.upstream", f"mode {mode!r} needs an upstream",
                                    "set upstream here, or proxy.upstream for every endpoint"))
        plans[index] = _plan(settings, mode, target, options)
    return plans


def _options(block: dict, where: str, problems: list, base: ProxyOptions) -> ProxyOptions:
    out = {}
    for key in ("connect_timeout_s", "read_timeout_s"):
        if key in block:
            out[key] = _number(block[key], f"{where}.{key}", problems)
    for key in ("max_redirects", "max_body_bytes"):
        if key in block:
            out[key] = _count(block[key], f"{where}.{key}", problems)
    for key in ("follow_redirects", "verify_tls", "forwarded_headers", "preserve_host"):
        if key in block:
            out[key] = _bool(block, key, where, problems, False)
    if "ca_file" in block:
        out["ca_file"] = _ca_file(block["ca_file"], f"{where}.ca_file", problems)
    if "strip_prefix" in block:
        prefix = block["strip_prefix"]
        if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
            problems.append(Problem(f"{where}.strip_prefix", f"expected a path like '/api', got {prefix!r}"))
        else:
            out["strip_prefix"] = prefix.rstrip("/")
    if "fallback_on" in block:
        out["fallback_statuses"] = _statuses(block["fallback_on"], f"{where}.fallback_on", problems)
    return replace(base, **out)


def _statuses(value, where: str, problems: list) -> frozenset:
    hint = 'a list of statuses and classes, e.g. [502, 503, "5xx"]'
    if not isinstance(value, list):
        problems.append(Problem(where, f"expected a list, got {kind_name(value)}", hint))
        return frozenset()
    out: set = set()
    for index, item in enumerate(value):
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            out.add(item)
        elif isinstance(item, str) and re.fullmatch(r"[1-5]xx", item):
            first = int(item[0]) * 100
            out.update(range(first, first + 100))
        else:
            problems.append(Problem(f"{where}[{index}]", f"not a status or a class: {item!r}", hint))
    return frozenset(out)


def _ca_file(value, where: str, problems: list):
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, f"expected a file path, got {kind_name(value)}"))
        return None
    if not os.path.isfile(value):
        problems.append(Problem(where, f"no such file {value!r}",
                                "a PEM file of CA certificates; relative paths start at the "
                                "server's working directory"))
    return value


def _hosts(value, problems: list) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(Problem("proxy.allow_hosts", f"expected a list of host names, got {value!r}",
                                'e.g. ["api.example.com", "*.internal.test", "10.0.0.0/8"]'))
        return []
    out = []
    for index, entry in enumerate(value):
        if "/" in entry:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                problems.append(Problem(f"proxy.allow_hosts[{index}]", f"not a CIDR block: {exc}"))
                continue
        out.append(entry.lower())
    return out


def _check_policy(upstream, policy: UpstreamPolicy, where: str, problems: list) -> None:
    if upstream is not None:
        refusal = policy.refusal(upstream.host)
        if refusal:
            problems.append(Problem(where, f"upstream refused: {refusal}"))


def _breaker(value, problems: list) -> BreakerConfig | None:
    if value is None or value is False:
        return None
    if value is True:
        return BreakerConfig()
    try:
        return BreakerConfig.from_dict(value, "proxy.circuit_breaker")
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _record(value, problems: list) -> RecordOptions:
    where = "proxy.record"
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected an object, got {kind_name(value)}"))
        return RecordOptions()
    _check_keys(value, RECORD_KEYS, where, problems)
    base = RecordOptions()
    out = {key: _bool(value, key, where, problems, getattr(base, key))
           for key in ("match_query", "match_body", "dedupe", "sequences") if key in value}
    for key in ("match_headers", "redact_headers"):
        if key in value:
            out[key] = tuple(name.lower() for name in _strings(value[key], f"{where}.{key}", problems))
    if "redact_patterns" in value:
        patterns = _strings(value["redact_patterns"], f"{where}.redact_patterns", problems)
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(Problem(f"{where}.redact_patterns[{index}]", f"invalid regex: {exc}"))
        out["redact_patterns"] = tuple(patterns)
    if "placeholder" in value:
        if isinstance(value["placeholder"], str):
            out["placeholder"] = value["placeholder"]
        else:
            problems.append(Problem(f"{where}.placeholder", f"expected a string, got {kind_name(value['placeholder'])}"))
    if "max_exchanges" in value:
        out["max_exchanges"] = _count(value["max_exchanges"], f"{where}.max_exchanges", problems)
    return replace(base, **out)


# ---------------------------------------------------------------- small checks



def _choice(value, allowed, where: str, problems: list):
    if value in allowed:
        return value
    close = difflib.get_close_matches(str(value), allowed, 1, 0.6)
    problems.append(Problem(where, f"unknown mode {value!r}",
                            f"did you mean '{close[0]}'?" if close else "use one of " + ", ".join(allowed)))
    return "mock"




def _bool(block: dict, key: str, where: str, problems: list, default: bool) -> bool:
    value = block.get(key, default)
    if not isinstance(value, bool):
        problems.append(Problem(f"{where}.{key}", f"expected true or false, got {value!r}"))
        return default
    return value


def _number(value, where: str, problems: list) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        problems.append(Problem(where, f"expected seconds (more than 0, at most 3600), got {value!r}"))
        return 1.0
    return float(value)


def _count(value, where: str, problems: list) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(Problem(where, f"expected a whole number >= 0, got {value!r}"))
        return 0
    return value


def _strings(value, where: str, problems: list) -> list:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    problems.append(Problem(where, f"expected a list of strings, got {value!r}"))
    return []


def _check_keys(obj: dict, allowed, where: str, problems: list) -> None:
    problems.extend(unknown_key_problems(obj, allowed, where))
