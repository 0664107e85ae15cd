"""Simulated auth: bearer tokens, HS256 JWTs (issued by the admin API or a login endpoint,
expiry checked against an injected clock), basic, API keys; 401 with a challenge or 403."""

import base64
import json
import re
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.simauth import JwtSettings, TokenError, _b64encode, decode_token, issue_token
from pymock.testing import MockServer

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def call(app, method, target, body=None, headers=()):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return app.handle(Request(method, target, headers=list(headers), body=data))


def as_json(response):
    return json.loads(response.body)


def bearer(token):
    return [("Authorization", f"Bearer {token}")]


def basic(user, password):
    return [("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())]


# ---------------------------------------------------------------- tokens

def test_tokens_carry_claims_and_expire():
    settings = JwtSettings(secret="k", issuer="pymock", audience="api", expires_in_s=60)
    token = issue_token(settings, {"sub": "ada"}, now=1000)
    claims = decode_token(token, "k", now=1059, issuer="pymock", audience="api")
    assert claims == {"iat": 1000, "exp": 1060, "sub": "ada", "iss": "pymock", "aud": "api"}
    with pytest.raises(TokenError, match="expired 0s ago"):
        decode_token(token, "k", now=1060)
    assert decode_token(token, "k", now=1065, leeway_s=10)["sub"] == "ada"
    assert decode_token(issue_token(settings, {"aud": ["api", "web"]}, now=0), "k", now=1, audience="web")


@pytest.mark.parametrize("token, message", [
    ("a.b", "three parts"),
    ("!!!.e30.sig", "not base64url"),
    ("abcde.e30.sig", "not base64url"),
    (_b64encode(b"[1]") + ".e30.x", "header is not a JSON object"),
    (_b64encode(b"nope") + ".e30.x", "header is not JSON"),
    (_b64encode(b'{"alg":"none"}') + ".e30.", "algorithm 'none' is not accepted"),
])
def test_malformed_tokens_say_what_is_wrong(token, message):
    with pytest.raises(TokenError, match=message):
        decode_token(token, "k", now=0)


def test_signature_times_issuer_and_audience_are_checked():
    token = issue_token(JwtSettings(secret="right"), {"nbf": 500}, now=0, expires_in_s=1000)
    with pytest.raises(TokenError, match="signature does not match"):
        decode_token(token, "wrong", now=600)
    with pytest.raises(TokenError, match="not valid before 500"):
        decode_token(token, "right", now=100)
    with pytest.raises(TokenError, match="issued by None, not 'me'"):
        decode_token(token, "right", now=600, issuer="me")
    with pytest.raises(TokenError, match="audience None, not 'api'"):
        decode_token(token, "right", now=600, audience="api")
    odd = issue_token(JwtSettings(secret="k"), {"exp": "soon"}, now=0)
    with pytest.raises(TokenError, match="'exp' claim must be a number"):
        decode_token(odd, "k", now=0)
    head, _, signature = issue_token(JwtSettings(secret="k"), {}, now=0).split(".")
    tampered = ".".join([head, _b64encode(b'{"admin": true}'), signature])
    with pytest.raises(TokenError, match="signature"):
        decode_token(tampered, "k", now=0)


# ---------------------------------------------------------------- endpoints

CONFIG = {
    "auth": {"jwt": {"secret": "s3cret", "issuer": "pymock", "expires_in_s": 300}},
    "endpoints": [
        {"path": "/bearer", "auth": {"type": "bearer", "tokens": ["t1", "t2"]}, "response": "ok"},
        {"path": "/jwt", "auth": {"type": "jwt"}, "response": {"hello": "you"}},
        {"path": "/admin", "auth": {"type": "jwt", "claims": {"role": "admin", "scope": "write"}}, "response": "adm"},
        {"path": "/basic", "auth": {"type": "basic", "users": {"ada": "pw"}, "realm": "shop"}, "response": "b"},
        {"path": "/key", "auth": {"type": "api_key", "header": "X-API-Key", "keys": ["k1"]}, "response": "k"},
        {"path": "/qkey", "auth": {"type": "api_key", "query": "api_key", "keys": "k2"}, "response": "q"},
        {"path": "/login", "method": "POST", "auth": {"type": "login", "claims": {"scope": "read write"},
                                                       "users": {"ada": "pw", "root": {"password": "pw2", "claims": {"role": "admin"}}}}},
    ]}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(clock):
    return MockApp(CONFIG, clock=clock)


def test_bearer_tokens(app):
    missing = call(app, "GET", "/bearer")
    assert missing.status == 401 and missing.header("WWW-Authenticate") == 'Bearer realm="pymock"'
    assert missing.header("Content-Type") == "application/problem+json"
    wrong = call(app, "GET", "/bearer", headers=bearer("nope"))
    assert wrong.status == 401 and 'error="invalid_token"' in wrong.header("WWW-Authenticate")
    assert call(app, "GET", "/bearer", headers=bearer("t2")).body == b"ok"
    assert call(app, "GET", "/bearer", headers=[("Authorization", "Basic dDI=")]).status == 401
    assert app.journal.list()[0]["auth"] == {"type": "bearer", "result": "missing"}
    assert app.journal.list()[1]["auth"] == {"type": "bearer", "result": "ok", "subject": None}


def test_admin_issued_jwt_is_accepted_until_it_expires(app, clock):
    issued = as_json(call(app, "POST", "/__admin/auth/token", {"sub": "ada", "expires_in_s": 60}))
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 60
    assert call(app, "GET", "/jwt", headers=bearer(issued["access_token"])).status == 200
    assert app.journal.list()[0]["auth"]["subject"] == "ada"
    clock.now += 60
    expired = call(app, "GET", "/jwt", headers=bearer(issued["access_token"]))
    assert expired.status == 401 and "expired 0s ago" in as_json(expired)["detail"]
    assert 'error_description="the token expired' in expired.header("WWW-Authenticate")


def test_jwt_claims_decide_between_200_and_403(app):
    user = as_json(call(app, "POST", "/__admin/auth/token", {"claims": {"role": "user", "scope": "write"}}))
    forbidden = call(app, "GET", "/admin", headers=bearer(user["access_token"]))
    assert forbidden.status == 403 and 'error="insufficient_scope"' in forbidden.header("WWW-Authenticate")
    assert as_json(forbidden)["detail"] == "the token's 'role' claim is 'user'; this endpoint needs 'admin'"
    admin = as_json(call(app, "POST", "/__admin/auth/token", {"claims": {"role": ["admin"], "scope": "read write"}}))
    assert call(app, "GET", "/admin", headers=bearer(admin["access_token"])).body == b"adm"


def test_tokens_signed_with_another_secret_or_issuer_are_refused(app):
    other = issue_token(JwtSettings(secret="other", issuer="pymock"), {}, now=1_000_000)
    assert call(app, "GET", "/jwt", headers=bearer(other)).status == 401
    foreign = issue_token(JwtSettings(secret="s3cret", issuer="elsewhere"), {}, now=1_000_000)
    assert "issued by 'elsewhere'" in as_json(call(app, "GET", "/jwt", headers=bearer(foreign)))["detail"]


def test_basic_auth(app):
    missing = call(app, "GET", "/basic")
    assert missing.status == 401 and missing.header("WWW-Authenticate") == 'Basic realm="shop", charset="UTF-8"'
    assert call(app, "GET", "/basic", headers=basic("ada", "pw")).body == b"b"
    assert call(app, "GET", "/basic", headers=basic("ada", "no")).status == 401
    assert call(app, "GET", "/basic", headers=basic("eve", "pw")).status == 401
    garbled = call(app, "GET", "/basic", headers=[("Authorization", "Basic %%%")])
    assert garbled.status == 401 and "not base64" in as_json(garbled)["detail"]


def test_api_keys_in_a_header_or_the_query(app):
    missing = call(app, "GET", "/key")
    assert missing.status == 401
    assert missing.header("WWW-Authenticate") == 'ApiKey realm="pymock", in="header", name="X-API-Key"'
    assert call(app, "GET", "/key", headers=[("X-API-Key", "bad")]).status == 403
    assert call(app, "GET", "/key", headers=[("x-api-key", "k1")]).body == b"k"
    assert call(app, "GET", "/qkey").header("WWW-Authenticate").endswith('in="query", name="api_key"')
    assert call(app, "GET", "/qkey?api_key=k2").body == b"q"
    assert call(app, "GET", "/qkey?api_key=k1").status == 403


def test_login_endpoint_issues_tokens_the_jwt_endpoints_accept(app, clock):
    by_json = call(app, "POST", "/login", {"username": "root", "password": "pw2"})
    assert by_json.status == 200 and by_json.header("Cache-Control") == "no-store"
    token = as_json(by_json)["access_token"]
    assert as_json(by_json)["expires_in"] == 300
    claims = decode_token(token, "s3cret", now=clock.now)
    assert (claims["sub"], claims["role"], claims["scope"], claims["iss"]) == ("root", "admin", "read write", "pymock")
    assert call(app, "GET", "/admin", headers=bearer(token)).status == 200
    form = call(app, "POST", "/login", b"username=ada&password=pw",
                headers=[("Content-Type", "application/x-www-form-urlencoded")])
    assert form.status == 200
    assert call(app, "POST", "/login", headers=basic("ada", "pw")).status == 200
    refused = call(app, "POST", "/login", {"username": "ada", "password": "bad"})
    assert refused.status == 401 and as_json(refused)["detail"] == "unknown username or wrong password"
    empty = call(app, "POST", "/login")
    assert empty.status == 401 and "send username and password" in as_json(empty)["detail"]
    assert call(app, "POST", "/login", headers=[("Authorization", "Basic %%%")]).status == 401
    assert app.journal.list()[0]["picked"] == "login"


def test_admin_token_route_checks_its_body(app):
    assert call(app, "POST", "/__admin/auth/token", {"claims": [1]}).status == 400
    assert call(app, "POST", "/__admin/auth/token", {"expires_in_s": 0}).status == 400
    assert call(app, "POST", "/__admin/auth/token", [1]).status == 400
    plain = as_json(call(MockApp({"endpoints": []}), "POST", "/__admin/auth/token"))
    assert decode_token(plain["access_token"], "pymock-dev-secret", now=plain["expires_in"] - 1e9)
    assert plain["expires_in"] == 3600


def test_auth_over_http():
    with MockServer(CONFIG) as mock:
        with pytest.raises(HTTPError) as refused:
            urlopen(mock.url("/bearer"))
        assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"] == 'Bearer realm="pymock"'
        ok = urlopen(UrlRequest(mock.url("/bearer"), headers={"Authorization": "Bearer t1"}))
        assert ok.read() == b"ok"


def test_the_auth_md_example_works_as_described():
    text = (ROOT / "docs" / "auth.md").read_text(encoding="utf-8")
    configs = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    for raw in configs:
        build_config(raw)
    app = MockApp(configs[1], clock=Clock())
    token = as_json(call(app, "POST", "/login", {"username": "ada", "password": "pw"}))["access_token"]
    assert call(app, "GET", "/me", headers=bearer(token)).status == 200
    assert call(app, "GET", "/admin/stats", headers=bearer(token)).status == 403
    root = as_json(call(app, "POST", "/login", {"username": "root", "password": "pw2"}))["access_token"]
    assert as_json(call(app, "GET", "/admin/stats", headers=bearer(root))) == {"users": 3}
    assert as_json(call(app, "POST", "/login", {"username": "root", "password": "pw2"}))["expires_in"] == 900


# ---------------------------------------------------------------- config problems

@pytest.mark.parametrize("auth, path, message", [
    ("bearer", "endpoints[0].auth", "expected an object"),
    ({"type": "beerer", "tokens": ["t"]}, "endpoints[0].auth.type", "unknown auth type 'beerer'"),
    ({"tokens": ["t"]}, "endpoints[0].auth.type", "required"),
    ({"type": "bearer"}, "endpoints[0].auth.tokens", "non-empty list of strings"),
    ({"type": "bearer", "tokens": [""]}, "endpoints[0].auth.tokens", "non-empty list of strings"),
    ({"type": "bearer", "tokens": ["t"], "realm": 'a"b'}, "endpoints[0].auth.realm", "without quotes"),
    ({"type": "bearer", "tokens": ["t"], "claims": {}}, "endpoints[0].auth.claims", "unknown key"),
    ({"type": "jwt", "claims": []}, "endpoints[0].auth.claims", "expected an object"),
    ({"type": "jwt", "secret": ""}, "endpoints[0].auth.secret", "non-empty string"),
    ({"type": "jwt", "leeway_s": -1}, "endpoints[0].auth.leeway_s", "whole number of seconds"),
    ({"type": "basic"}, "endpoints[0].auth.users", "user: password"),
    ({"type": "basic", "users": {"ada": 1}}, "endpoints[0].auth.users.ada", "expected a password"),
    ({"type": "basic", "users": {"ada": {"password": "p", "claim": {}}}}, "endpoints[0].auth.users.ada.claim", "unknown key"),
    ({"type": "api_key", "keys": ["k"]}, "endpoints[0].auth", "exactly one of header or query"),
    ({"type": "api_key", "keys": ["k"], "header": "A", "query": "b"}, "endpoints[0].auth", "exactly one"),
    ({"type": "login", "users": {"a": "b"}, "claims": 1}, "endpoints[0].auth.claims", "expected an object"),
    ({"type": "login", "users": {"a": "b"}, "expires_in_s": 0}, "endpoints[0].auth.expires_in_s", "whole number"),
])
def test_auth_config_problems_name_the_place(auth, path, message):
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/x", "auth": auth}]})
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("section, path, message", [
    ([], "auth", "expected an object"),
    ({"jwt": 1}, "auth.jwt", "expected an object"),
    ({"jwt": {"secrett": "x"}}, "auth.jwt.secrett", "unknown key"),
    ({"jwks": {}}, "auth.jwks", "unknown key"),
    ({"jwt": {"expires_in_s": 0}}, "auth.jwt.expires_in_s", "whole number"),
])
def test_auth_section_problems(section, path, message):
    with pytest.raises(ConfigError) as caught:
        build_config({"auth": section, "endpoints": []})
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems


def test_auth_type_typo_gets_a_suggestion():
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/x", "auth": {"type": "api-key", "header": "X", "keys": ["k"]}}]})
    assert caught.value.problems[0].hint == "did you mean 'api_key'?"
