"""Simulated authentication for mocks: ``bearer`` tokens, ``jwt`` (HS256), ``basic`` and
``api_key`` checks on an endpoint, and a ``login`` endpoint type that issues JWTs.

Layer 1: no sockets, no threads, no files; time is passed in (``now``, Unix seconds). JWTs are
made and checked with ``hmac``, ``hashlib`` and ``base64`` only, and only ``HS256`` is
accepted (a token saying ``alg: none`` is refused). Secrets and passwords are compared in
constant time. A missing or bad credential answers 401 with a ``WWW-Authenticate`` challenge;
a valid one that lacks a required claim, or an unknown API key, answers 403.

>>> settings = JwtSettings(secret="s3cret")
>>> token = issue_token(settings, {"sub": "ada", "role": "admin"}, now=1000, expires_in_s=60)
>>> decode_token(token, "s3cret", now=1030)["role"]
'admin'
>>> decode_token(token, "s3cret", now=1060)
Traceback (most recent call last):
  ...
pymock.simauth.TokenError: the token expired 0s ago (exp 1060)

Must not import the engine, the app or the config.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .errors import Problem, PymockError, kind_name, unknown_key_problems
from .model import Request, Response, problem_response

__all__ = ["AUTH_TYPES", "DEFAULT_SECRET", "JwtSettings", "AuthSpec", "Denial", "TokenError",
           "parse_settings", "parse_auth", "check", "login", "issue_token", "decode_token"]

AUTH_TYPES = ("bearer", "jwt", "basic", "api_key", "login")
DEFAULT_SECRET = "pymock-dev-secret"   # a mock's tokens guard nothing real; set auth.jwt.secret
_KEYS = {
    "bearer": ("type", "tokens", "realm"),
    "jwt": ("type", "secret", "issuer", "audience", "claims", "leeway_s", "realm"),
    "basic": ("type", "users", "realm"),
    "api_key": ("type", "header", "query", "keys", "realm"),
    "login": ("type", "users", "claims", "expires_in_s"),
}
_SETTING_KEYS = ("secret", "issuer", "audience", "expires_in_s", "leeway_s")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenError(PymockError, ValueError):
    """A JWT that is malformed, badly signed, expired or for someone else; says which."""


@dataclass(frozen=True)
class JwtSettings:
    """The config's ``auth.jwt``: how tokens are signed, issued and checked by default."""

    secret: str = DEFAULT_SECRET
    issuer: str | None = None
    audience: str | None = None
    expires_in_s: int = 3600
    leeway_s: int = 0


@dataclass(frozen=True)
class AuthSpec:
    """One endpoint's ``auth``, compiled."""

    type: str
    tokens: tuple = ()
    users: dict = field(default_factory=dict)      # name -> (password, claims)
    header: str | None = None
    query: str | None = None
    keys: tuple = ()
    claims: dict = field(default_factory=dict)
    realm: str = "pymock"
    jwt: JwtSettings = JwtSettings()


@dataclass(frozen=True)
class Denial:
    """Why a request was refused: the problem response to send, and a word for the journal."""

    response: Response
    reason: str


# ---------------------------------------------------------------- JWT

def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.match(text):
        raise TokenError("the token is not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("the token is not base64url text") from None


def _sign(secret: str, signing_input: bytes) -> bytes:
    return hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()


def issue_token(settings: JwtSettings, claims: dict, *, now: float, expires_in_s: int | None = None) -> str:
    """An HS256 JWT carrying ``claims`` plus ``iat``/``exp`` (and ``iss``/``aud`` if set)."""
    lifetime = settings.expires_in_s if expires_in_s is None else expires_in_s
    body = {"iat": int(now), "exp": int(now) + int(lifetime), **claims}
    if settings.issuer and "iss" not in claims:
        body["iss"] = settings.issuer
    if settings.audience and "aud" not in claims:
        body["aud"] = settings.audience
    head = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(body, separators=(",", ":")).encode())
    signing_input = f"{head}.{payload}".encode("ascii")
    return f"{head}.{payload}.{_b64encode(_sign(settings.secret, signing_input))}"


def decode_token(token: str, secret: str, *, now: float, leeway_s: int = 0,
                 issuer: str | None = None, audience: str | None = None) -> dict:
    """The claims of a valid HS256 token; ``TokenError`` saying what is wrong otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT: expected three parts separated by dots")
    header, claims = _json_part(parts[0], "header"), _json_part(parts[1], "payload")
    if header.get("alg") != "HS256":
        raise TokenError(f"algorithm {header.get('alg')!r} is not accepted; tokens must be HS256")
    if not hmac.compare_digest(_sign(secret, f"{parts[0]}.{parts[1]}".encode("ascii")),
                               _b64decode(parts[2])):
        raise TokenError("the signature does not match (wrong secret, or the token was changed)")
    _check_times(claims, now, leeway_s)
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenError(f"the token was issued by {claims.get('iss')!r}, not {issuer!r}")
    if audience is not None and not _has(claims.get("aud"), audience):
        raise TokenError(f"the token is for audience {claims.get('aud')!r}, not {audience!r}")
    return claims


def _json_part(text: str, what: str) -> dict:
    data = _b64decode(text)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise TokenError(f"the token {what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the token {what} is not a JSON object")
    return value


def _check_times(claims: dict, now: float, leeway_s: int) -> None:
    for name in ("exp", "nbf"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
            raise TokenError(f"the {name!r} claim must be a number of seconds")
    if "exp" in claims and now >= claims["exp"] + leeway_s:
        raise TokenError(f"the token expired {int(now - claims['exp'])}s ago (exp {claims['exp']})")
    if "nbf" in claims and now < claims["nbf"] - leeway_s:
        raise TokenError(f"the token is not valid before {claims['nbf']}")


def _has(actual, expected) -> bool:
    """A claim satisfies ``expected``: equal, a list holding it, or a space-separated scope
    string holding it (``"read write"`` has ``read``)."""
    if actual == expected:
        return True
    if isinstance(actual, list):
        return expected in actual
    return isinstance(actual, str) and isinstance(expected, str) and expected in actual.split()


# ---------------------------------------------------------------- checking a request

def check(spec: AuthSpec, request: Request, now: float) -> Denial | dict:
    """A ``Denial``, or what the request proved (``{"scheme", "subject", "claims"}``)."""
    if spec.type == "api_key":
        return _check_api_key(spec, request)
    scheme, _, credential = (request.headers.get("authorization") or "").strip().partition(" ")
    credential = credential.strip()
    if spec.type == "basic":
        return _check_basic(spec, scheme, credential)
    if scheme.lower() != "bearer" or not credential:
        return _unauthorized(spec, "Bearer token required",
                             "send 'Authorization: Bearer <token>'", "missing")
    if spec.type == "bearer":
        if any(hmac.compare_digest(credential.encode(), token.encode()) for token in spec.tokens):
            return {"scheme": "bearer", "subject": None, "claims": {}}
        return _unauthorized(spec, "Invalid token", "the bearer token is not one this mock accepts",
                             "invalid", 'error="invalid_token"')
    return _check_jwt(spec, credential, now)


def _check_jwt(spec: AuthSpec, token: str, now: float):
    settings = spec.jwt
    try:
        claims = decode_token(token, settings.secret, now=now, leeway_s=settings.leeway_s,
                              issuer=settings.issuer, audience=settings.audience)
    except TokenError as exc:
        detail = str(exc).replace('"', "'")
        return _unauthorized(spec, "Invalid token", str(exc), "invalid",
                             f'error="invalid_token", error_description="{detail}"')
    missing = {name: want for name, want in spec.claims.items() if not _has(claims.get(name), want)}
    if missing:
        first = next(iter(missing))
        return Denial(problem_response(
            403, "Insufficient claims", f"the token's {first!r} claim is {claims.get(first)!r}; "
            f"this endpoint needs {missing[first]!r}", required=spec.claims,
            headers=[("WWW-Authenticate", f'Bearer realm="{spec.realm}", error="insufficient_scope"')]),
            "forbidden")
    return {"scheme": "jwt", "subject": claims.get("sub"), "claims": claims}


def _check_basic(spec: AuthSpec, scheme: str, credential: str):
    if scheme.lower() != "basic" or not credential:
        return _unauthorized(spec, "Credentials required", "send 'Authorization: Basic "
                             "<base64 of user:password>'", "missing")
    try:
        user, _, password = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return _unauthorized(spec, "Invalid credentials", "the Basic credentials are not "
                             "base64 of user:password", "invalid")
    entry = spec.users.get(user)
    if entry is None or not hmac.compare_digest(password.encode(), entry[0].encode()):
        return _unauthorized(spec, "Invalid credentials", f"unknown user {user!r} or wrong password",
                             "invalid")
    return {"scheme": "basic", "subject": user, "claims": dict(entry[1])}


def _check_api_key(spec: AuthSpec, request: Request):
    if spec.header:
        given, where = request.headers.get(spec.header), f"header {spec.header}"
    else:
        values = request.query.get(spec.query)
        given, where = (values[0] if values else None), f"query parameter {spec.query}"
    if not given:
        return _unauthorized(spec, "API key required", f"send the API key in the {where}", "missing")
    if any(hmac.compare_digest(given.encode(), key.encode()) for key in spec.keys):
        return {"scheme": "api_key", "subject": None, "claims": {}}
    return Denial(problem_response(403, "Invalid API key", f"the {where} holds a key this mock "
                                   "does not accept"), "forbidden")


def _challenge(spec: AuthSpec, extra: str = "") -> str:
    if spec.type == "basic":
        return f'Basic realm="{spec.realm}", charset="UTF-8"'
    if spec.type == "api_key":
        name = spec.header or spec.query
        return f'ApiKey realm="{spec.realm}", in="{"header" if spec.header else "query"}", name="{name}"'
    return f'Bearer realm="{spec.realm}"' + (f", {extra}" if extra else "")


def _unauthorized(spec: AuthSpec, title: str, detail: str, reason: str, extra: str = "") -> Denial:
    return Denial(problem_response(401, title, detail,
                                   headers=[("WWW-Authenticate", _challenge(spec, extra))]), reason)


# ---------------------------------------------------------------- the login endpoint type

def login(spec: AuthSpec, request: Request, now: float) -> Response:
    """Answer a login: a JWT for known ``username``/``password`` (JSON, form or Basic), else 401."""
    user, password = _login_credentials(request)
    entry = spec.users.get(user) if user is not None else None
    if entry is None or not hmac.compare_digest((password or "").encode(), entry[0].encode()):
        return problem_response(401, "Login failed", "unknown username or wrong password"
                                if user is not None else "send username and password (JSON or form) "
                                "or Basic credentials",
                                headers=[("WWW-Authenticate", f'Basic realm="{spec.realm}"')])
    claims = {"sub": user, **spec.claims, **entry[1]}
    token = issue_token(spec.jwt, claims, now=now)
    return Response.json(200, {"access_token": token, "token_type": "Bearer",
                               "expires_in": spec.jwt.expires_in_s},
                         headers=[("Cache-Control", "no-store")])


def _login_credentials(request: Request) -> tuple:
    data = request.json
    if isinstance(data, dict) and "username" in data:
        return str(data.get("username")), str(data.get("password", ""))
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(request.text)
        if "username" in form:
            return form["username"][0], form.get("password", [""])[0]
    scheme, _, credential = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credential.strip(), validate=True).decode().partition(":")
            return user, password
        except (binascii.Error, ValueError):
            pass
    return None, None


# ---------------------------------------------------------------- config

def parse_settings(value, problems: list) -> JwtSettings:
    """The top-level ``auth`` section: ``{"jwt": {"secret", "issuer", "audience", ...}}``."""
    if value is None:
        return JwtSettings()
    if not isinstance(value, dict):
        problems.append(Problem("auth", f"expected an object, got {kind_name(value)}",
                                'e.g. {"jwt": {"secret": "change-me"}}'))
        return JwtSettings()
    _check_keys(value, ("jwt",), "auth", problems)
    jwt = value.get("jwt", {})
    if not isinstance(jwt, dict):
        problems.append(Problem("auth.jwt", f"expected an object, got {kind_name(jwt)}"))
        return JwtSettings()
    _check_keys(jwt, _SETTING_KEYS, "auth.jwt", problems)
    return _jwt_settings(jwt, "auth.jwt", problems, JwtSettings())


def _jwt_settings(block: dict, where: str, problems: list, base: JwtSettings) -> JwtSettings:
    out = {}
    for name in ("secret", "issuer", "audience"):
        if name in block:
            if not isinstance(block[name], str) or not block[name]:
                problems.append(Problem(f"{where}.{name}", f"expected a non-empty string, got {block[name]!r}"))
            else:
                out[name] = block[name]
    for name in ("expires_in_s", "leeway_s"):
        if name in block:
            number = block[name]
            if isinstance(number, bool) or not isinstance(number, int) or number < (1 if name == "expires_in_s" else 0):
                problems.append(Problem(f"{where}.{name}", f"expected a whole number of seconds, got {number!r}"))
            else:
                out[name] = number
    return JwtSettings(**{**base.__dict__, **out})


def parse_auth(value, where: str, problems: list, settings: JwtSettings) -> AuthSpec | None:
    """An endpoint's ``auth``; problems are appended (paths under ``where``)."""
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected an object, got {kind_name(value)}",
                                'e.g. {"type": "bearer", "tokens": ["secret-token"]}'))
        return None
    kind = value.get("type")
    if kind not in AUTH_TYPES:
        close = difflib.get_close_matches(str(kind), AUTH_TYPES, 1)
        problems.append(Problem(f"{where}.type", "required" if kind is None else f"unknown auth type {kind!r}",
                                f"did you mean '{close[0]}'?" if close else "use one of " + ", ".join(AUTH_TYPES)))
        return None
    before = len(problems)
    _check_keys(value, _KEYS[kind], where, problems)
    realm = _text(value, "realm", where, problems) or "pymock"
    spec = _PARSERS[kind](value, where, problems, settings)
    if len(problems) > before:
        return None
    return AuthSpec(**{**spec, "type": kind, "realm": realm})


def _parse_bearer(value, where, problems, settings) -> dict:
    tokens = _strings(value.get("tokens"), f"{where}.tokens", problems)
    return {"tokens": tuple(tokens)}


def _parse_jwt(value, where, problems, settings) -> dict:
    claims = value.get("claims", {})
    if not isinstance(claims, dict):
        problems.append(Problem(f"{where}.claims", f"expected an object of claim: value, got {kind_name(claims)}"))
        claims = {}
    return {"claims": claims, "jwt": _jwt_settings(value, where, problems, settings)}


def _parse_basic(value, where, problems, settings) -> dict:
    return {"users": _users(value.get("users"), f"{where}.users", problems)}


def _parse_api_key(value, where, problems, settings) -> dict:
    header, query = _text(value, "header", where, problems), _text(value, "query", where, problems)
    if bool(header) == bool(query):
        problems.append(Problem(where, "give exactly one of header or query",
                                'e.g. "header": "X-API-Key" or "query": "api_key"'))
    return {"header": header, "query": query,
            "keys": tuple(_strings(value.get("keys"), f"{where}.keys", problems))}


def _parse_login(value, where, problems, settings) -> dict:
    jwt = settings
    if "expires_in_s" in value:
        jwt = _jwt_settings({"expires_in_s": value["expires_in_s"]}, where, problems, settings)
    claims = value.get("claims", {})
    if not isinstance(claims, dict):
        problems.append(Problem(f"{where}.claims", f"expected an object, got {kind_name(claims)}"))
        claims = {}
    return {"users": _users(value.get("users"), f"{where}.users", problems), "claims": claims, "jwt": jwt}


_PARSERS = {"bearer": _parse_bearer, "jwt": _parse_jwt, "basic": _parse_basic,
            "api_key": _parse_api_key, "login": _parse_login}


def _users(value, where: str, problems: list) -> dict:
    """``{"alice": "password"}`` or ``{"alice": {"password": "...", "claims": {...}}}``."""
    if not isinstance(value, dict) or not value:
        problems.append(Problem(where, "expected an object of user: password",
                                'e.g. {"alice": "wonderland"}'))
        return {}
    out = {}
    for name, entry in value.items():
        if isinstance(entry, str):
            out[name] = (entry, {})
        elif isinstance(entry, dict) and isinstance(entry.get("password"), str) \
                and isinstance(entry.get("claims", {}), dict):
            _check_keys(entry, ("password", "claims"), f"{where}.{name}", problems)
            out[name] = (entry["password"], entry.get("claims", {}))
        else:
            problems.append(Problem(f"{where}.{name}", "expected a password, or "
                                    '{"password": "...", "claims": {...}}'))
    return out


def _strings(value, where: str, problems: list) -> list:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(Problem(where, f"expected a non-empty list of strings, got {value!r}"))
        return []
    return value


def _text(block: dict, name: str, where: str, problems: list):
    value = block.get(name)
    if value is not None and (not isinstance(value, str) or not value or '"' in value):
        problems.append(Problem(f"{where}.{name}", f"expected a non-empty string without quotes, got {value!r}"))
        return None
    return value


def _check_keys(obj: dict, allowed, where: str, problems: list) -> None:
    problems.extend(unknown_key_problems(obj, allowed, where))
