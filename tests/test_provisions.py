"""Provisions without sockets: the Flask shim, compiling and checking, the manager, MockApp.

HTTP behaviour (admin port, folder watching, the CLI) is in test_provisions_http.py.
"""

from __future__ import annotations

import datetime
import decimal
import doctest
import json
import os
import re
import shutil
import uuid
from http import HTTPStatus
from pathlib import Path

import pytest

from pymock import provisions
from pymock.app import MockApp
from pymock.model import Request
from pymock.provisions import (DEFAULT_NAME, FlaskResponse, HTTPException, ProvisionError,
                               ProvisionManager, check_name, compile_provision, jsonify,
                               make_response, status)

HELP_404 = '<a href="https://github.com/testillano/h1mock#how-it-works">help here for mock provisions</a>'
H1MOCK_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "h1mock-examples"


def provision(body: str, name: str = "p", **kwargs):
    return compile_provision(name, body, **kwargs)


def serve(rules: str, functions: str, **kwargs):
    """A provision whose registerRules() body is ``rules`` (one statement per line)."""
    lines = "\n".join("    " + line for line in rules.strip().splitlines())
    return provision(f"def registerRules():\n{lines}\n\n{functions}", **kwargs)


def call(prov, method, target, body=b"", headers=(), config_matches=False):
    return prov.respond(Request(method, target, headers=headers, body=body), lambda: config_matches)


def as_json(response):
    return json.loads(response.body)


@pytest.fixture
def examples(tmp_path):
    """The h1mock example provisions in a temp folder, with ``initial`` as the symlink it is
    in h1mock (a checkout without symlink support stores it as a one-line text file)."""
    if not H1MOCK_EXAMPLES.is_dir():
        pytest.skip(f"h1mock examples not found at {H1MOCK_EXAMPLES} (clone the repo next to shared/)")
    folder = tmp_path / "provision"
    folder.mkdir()
    for name in ("default", "foo-bar", "healthz"):
        shutil.copyfile(H1MOCK_EXAMPLES / name, folder / name)
    target = os.readlink(H1MOCK_EXAMPLES / "initial") if (H1MOCK_EXAMPLES / "initial").is_symlink() \
        else (H1MOCK_EXAMPLES / "initial").read_text().strip()
    os.symlink(target, folder / "initial")
    return folder


def test_module_doctests():
    result = doctest.testmod(provisions, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 3


# ---------------------------------------------------------------- the h1mock examples


def test_h1mock_default_answers_every_url_with_the_help_link(examples):
    prov = compile_provision("default", (examples / "default").read_bytes())
    for method, path in (("GET", "/any/path/"), ("POST", "/app/v1/foo/bar"), ("DELETE", "/")):
        response = call(prov, method, path)
        assert (response.status, response.body) == (404, HELP_404.encode())
        assert response.header("Content-Type") == "text/html"


def test_h1mock_foo_bar_get_and_post(examples):
    prov = compile_provision("foo-bar", (examples / "foo-bar").read_bytes())
    got = call(prov, "GET", "/app/v1/foo/bar")
    assert (got.status, got.body) == (200, b'{"resultCode":0,"resultData":"answering a get"}\n')
    assert got.header("Content-Type") == "application/json"
    posted = call(prov, "POST", "/app/v1/foo/bar", body=b'{"x": 1}')
    assert as_json(posted) == {"resultCode": 0, "resultData": "answering a post"}
    assert posted.header("x-version") == "1.1.0"
    location = posted.header("location")
    assert re.fullmatch(r"/app/v1/foo/bar/\d{5}", location) and 10000 <= int(location.rsplit("/", 1)[1]) <= 20000
    assert call(prov, "GET", "/app/v1/any/path") is None   # not a rule: the config decides


def test_h1mock_healthz(examples):
    prov = compile_provision("healthz", (examples / "healthz").read_bytes())
    response = call(prov, "GET", "/healthz")
    assert (response.status, response.body) == (200, b"I'm here!")
    assert response.header("Content-Type") == "text/html; charset=utf-8"


# ---------------------------------------------------------------- view return forms


@pytest.mark.parametrize("returned, status_code, content_type, body", [
    ('"hi"', 200, "text/html; charset=utf-8", b"hi"),
    ('b"raw"', 200, "text/html; charset=utf-8", b"raw"),
    ('"made", 201', 201, "text/html; charset=utf-8", b"made"),
    ('"gone", "410 GONE"', 410, "text/html; charset=utf-8", b"gone"),
    ('"x", 202, {"Content-Type": "text/plain"}', 202, "text/plain", b"x"),
    ('"x", {"Content-Type": "text/csv"}', 200, "text/csv", b"x"),
    ('{"b": 1, "a": [1, 2]}', 200, "application/json", b'{"a":[1,2],"b":1}\n'),
    ('[1, "two"]', 200, "application/json", b'[1,"two"]\n'),
    ('jsonify(ok=True)', 200, "application/json", b'{"ok":true}\n'),
    ('jsonify(1, 2)', 200, "application/json", b"[1,2]\n"),
    ('jsonify({"k": "v"}), 418', 418, "application/json", b'{"k":"v"}\n'),
    ('Response("<r/>", status=207, mimetype="application/xml")', 207, "application/xml; charset=utf-8", b"<r/>"),
    ('Response(b"\\x00\\x01", mimetype="application/octet-stream")', 200, "application/octet-stream", b"\x00\x01"),
    ('Response("t", content_type="text/x-custom")', 200, "text/x-custom", b"t"),
    ('(part for part in ["a", "b"])', 200, "text/html; charset=utf-8", b"ab"),
    ('status.HTTP_204_NO_CONTENT and ("", status.HTTP_204_NO_CONTENT)', 204, "text/html; charset=utf-8", b""),
])
def test_view_return_forms(returned, status_code, content_type, body):
    prov = serve('app.add_url_rule("/r", "r", view_func=r)', f"def r():\n    return {returned}\n")
    response = call(prov, "GET", "/r")
    assert (response.status, response.header("Content-Type"), response.body) == (status_code, content_type, body)


def test_make_response_lets_a_view_add_headers_and_cookies():
    prov = serve('app.add_url_rule("/m", "m", view_func=m)', '''
def m():
    response = make_response({"a": 1}, 201)
    response.headers["X-One"] = "1"
    response.headers.add("X-Many", "a")
    response.headers.add("X-Many", "b")
    response.set_cookie("session", "abc", max_age=60, httponly=True)
    return response
''')
    response = call(prov, "GET", "/m")
    assert response.status == 201 and as_json(response) == {"a": 1}
    assert [v for k, v in response.headers if k == "X-Many"] == ["a", "b"]
    cookie = response.header("Set-Cookie")
    assert cookie.startswith("session=abc") and "Max-Age=60" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("returned, fragment", [
    ("None", "returned None"),
    ("object()", "returned a object"),
    ('("a", 200, {}, "extra")', "tuple of length 4"),
    ('"x", 999', "not an HTTP status"),
    ('"x", 2.5', "a status must be an int"),
    ('jsonify(object())', "object is not JSON serializable"),
])
def test_a_bad_return_value_is_a_500_naming_the_problem(returned, fragment):
    logged = []
    prov = serve('app.add_url_rule("/bad", "bad", view_func=bad)', f"def bad():\n    return {returned}\n")
    prov.log = logged.append
    response = call(prov, "GET", "/bad")
    assert response.status == 500 and response.header("Content-Type") == "application/problem+json"
    assert fragment in as_json(response)["detail"]
    assert "Traceback" in logged[0]


def test_json_like_flask_for_dates_uuids_decimals_and_sets():
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    response = jsonify(when=datetime.datetime(2024, 1, 2, 3, 4, 5), day=datetime.date(2024, 1, 2),
                       id=ident, price=decimal.Decimal("1.50"), tags={"x"})
    document = json.loads(response.data)
    assert document == {"when": "Tue, 02 Jan 2024 03:04:05 GMT", "day": "Tue, 02 Jan 2024 00:00:00 GMT",
                        "id": str(ident), "price": "1.50", "tags": ["x"]}
    with pytest.raises(TypeError):
        jsonify(1, key=2)


def test_flask_response_object():
    response = FlaskResponse('{"a": 1}', status="201 CREATED", headers=[("X-A", "1")], mimetype="application/json")
    assert (response.status_code, response.status, response.mimetype) == (201, "201 CREATED", "application/json")
    assert response.json == {"a": 1} and response.get_data(as_text=True) == '{"a": 1}'
    response.data = "changed"
    assert response.data == b"changed" and response.get_json(silent=True) is None
    with pytest.raises(ValueError):
        response.get_json()
    response.status = 299
    assert response.status == "299 UNKNOWN" and "[299 UNKNOWN]" in repr(response)
    headers = response.headers
    headers.extend({"X-L": ["1", "2"]})
    assert headers.getlist("x-l") == ["1", "2"] and "X-A" in headers and headers["x-a"] == "1"
    del headers["X-A"]
    assert "X-A" not in headers and headers.get("X-A", "-") == "-" and len(headers) == len(headers.items())
    assert "Content-Type" in headers.keys() and list(headers)[0][0] == "Content-Type"
    with pytest.raises(KeyError):
        headers["nope"]
    response.status_code = 700
    with pytest.raises(ValueError):
        response.to_plan()
    assert make_response().status_code == 200 and make_response("a", 202).status_code == 202


def test_status_module_has_flask_api_names_and_helpers():
    assert status.HTTP_200_OK == 200 and status.HTTP_404_NOT_FOUND == 404
    assert status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413 and status.HTTP_422_UNPROCESSABLE_ENTITY == 422
    assert status.is_success(204) and not status.is_success(301) and status.is_client_error(404)
    assert status.is_server_error(503) and status.is_informational(100) and status.is_redirect(308)


# ---------------------------------------------------------------- rules and converters


def test_converters_give_typed_view_args():
    prov = serve('''
app.add_url_rule("/n/<name>", "name", view_func=echo)
app.add_url_rule("/i/<int:id>", "int", view_func=echo)
app.add_url_rule("/f/<float:x>", "float", view_func=echo)
app.add_url_rule("/p/<path:rest>", "path", view_func=echo)
app.add_url_rule("/s/<string:s>.json", "string", view_func=echo)
app.add_url_rule("/u/<uuid:u>", "uuid", view_func=echo)
''', '''
def echo(**kwargs):
    return {k: [type(v).__name__, str(v)] for k, v in kwargs.items()}
''')
    cases = {"/n/ada": {"name": ["str", "ada"]}, "/i/42": {"id": ["int", "42"]},
             "/f/1.5": {"x": ["float", "1.5"]}, "/p/a/b/c.txt": {"rest": ["str", "a/b/c.txt"]},
             "/s/doc.json": {"s": ["str", "doc"]},
             "/u/12345678-1234-5678-1234-567812345678": {"u": ["UUID", "12345678-1234-5678-1234-567812345678"]}}
    for path, expected in cases.items():
        assert as_json(call(prov, "GET", path)) == expected, path
    for path in ("/i/x", "/i/-1", "/f/1", "/u/not-a-uuid", "/n/a/b", "/p/"):
        assert call(prov, "GET", path) is None, path


def test_static_rules_win_over_variables_and_path_comes_last():
    prov = serve('''
app.add_url_rule("/<path:any>", "catch", view_func=lambda any: "catch-all")
app.add_url_rule("/users/<name>", "user", view_func=lambda name: "user " + name)
app.add_url_rule("/users/me", "me", view_func=lambda: "me")
app.add_url_rule("/users/<int:id>", "id", view_func=lambda id: "id %d" % id)
''', "")
    assert call(prov, "GET", "/users/me").body == b"me"
    assert call(prov, "GET", "/users/7").body == b"id 7"
    assert call(prov, "GET", "/users/bob").body == b"user bob"
    assert call(prov, "GET", "/other/x").body == b"catch-all"


def test_methods_head_options_and_405():
    prov = serve('''
app.add_url_rule("/items", "list", view_func=lambda: "list")
app.add_url_rule("/items", "add", view_func=lambda: ("added", 201), methods=["post"])
''', "")
    assert call(prov, "POST", "/items").status == 201
    assert call(prov, "HEAD", "/items").body == b"list"   # the server drops HEAD bodies
    options = call(prov, "OPTIONS", "/items")
    assert options.status == 200 and options.header("Allow") == "GET, HEAD, OPTIONS, POST"
    assert call(prov, "OPTIONS", "/items", config_matches=True) is None
    refused = call(prov, "DELETE", "/items")
    assert refused.status == 405 and refused.header("Allow") == "GET, HEAD, OPTIONS, POST"
    assert refused.header("Content-Type") == "application/problem+json"
    assert call(prov, "DELETE", "/items", config_matches=True) is None   # the config has it


def test_trailing_slash_rules_redirect_like_flask():
    prov = serve('''
app.add_url_rule("/dir/", "dir", view_func=lambda: "dir")
app.add_url_rule("/loose", "loose", view_func=lambda: "loose", strict_slashes=False)
app.add_url_rule("/loose-dir/", "loose_dir", view_func=lambda: "loose dir", strict_slashes=False)
''', "")
    redirect = call(prov, "GET", "/dir?x=1")
    assert (redirect.status, redirect.header("Location")) == (308, "/dir/?x=1")
    assert call(prov, "GET", "/dir/").body == b"dir"
    assert call(prov, "GET", "/loose/").body == b"loose"
    assert call(prov, "GET", "/loose-dir").body == b"loose dir"
    assert call(prov, "GET", "/dir", config_matches=True) is None


def test_defaults_blueprints_and_decorators():
    prov = provision('''
bp = Blueprint("api", __name__, url_prefix="/api")

@bp.route("/ping")
def ping():
    return "pong"

@bp.errorhandler(418)
def teapot(e):
    return "short and stout", 418

def registerRules():
    app.register_blueprint(bp)
    app.add_url_rule("/page", "page", view_func=page, defaults={"n": 1})
    app.add_url_rule("/page/<int:n>", "page_n", view_func=page)
    app.route("/brew")(lambda: abort(418))

def page(n):
    return "page %d" % n
''')
    assert call(prov, "GET", "/api/ping").body == b"pong"
    assert call(prov, "GET", "/page").body == b"page 1"
    assert call(prov, "GET", "/page/3").body == b"page 3"
    assert call(prov, "GET", "/brew").body == b"short and stout"
    assert "GET HEAD /api/ping -> api.ping" in prov.describe()["rules"]


# ---------------------------------------------------------------- request


def test_request_attributes_inside_a_view():
    prov = serve('app.add_url_rule("/req/<int:id>", "req", view_func=req, methods=["POST"])', '''
def req(id):
    return {
        "method": request.method, "path": request.path, "full_path": request.full_path,
        "args": request.args.to_dict(), "q_int": request.args.get("n", type=int),
        "bad_int": request.args.get("q", default=-1, type=int), "many": request.args.getlist("m"),
        "flat": request.args.to_dict(flat=False), "header": request.headers.get("X-Tag"),
        "header_int": request.headers.get("X-Num", type=int), "json": request.json,
        "data": request.get_data(as_text=True), "view_args": request.view_args,
        "is_json": request.is_json, "mimetype": request.mimetype, "length": request.content_length,
        "url": request.url, "base_url": request.base_url, "host": request.host,
        "remote": request.remote_addr, "cookies": request.cookies, "rule": request.url_rule,
        "endpoint": request.endpoint, "secure": request.is_secure, "agent": request.user_agent,
        "in_args": "q" in request.args, "arg_keys": sorted(request.args.keys()),
        "multi": request.args.items(multi=True), "header_keys": request.headers.keys(),
    }
''')
    headers = [("Host", "mock:8000"), ("X-Tag", "t"), ("X-Num", "5"), ("Content-Type", "application/json"),
               ("Cookie", "a=1"), ("User-Agent", "ua")]
    document = as_json(call(prov, "POST", "/req/7?q=x&n=3&m=1&m=2", body=b'{"k": [1]}', headers=headers))
    assert document["method"] == "POST" and document["path"] == "/req/7"
    assert document["full_path"] == "/req/7?q=x&n=3&m=1&m=2"
    assert document["args"] == {"q": "x", "n": "3", "m": "1"} and document["q_int"] == 3 and document["bad_int"] == -1
    assert document["many"] == ["1", "2"] and document["flat"]["m"] == ["1", "2"]
    assert (document["header"], document["header_int"]) == ("t", 5)
    assert document["json"] == {"k": [1]} and document["data"] == '{"k": [1]}'
    assert document["view_args"] == {"id": 7} and document["is_json"] is True
    assert (document["mimetype"], document["length"]) == ("application/json", 10)
    assert document["url"] == "http://mock:8000/req/7?q=x&n=3&m=1&m=2"
    assert document["base_url"] == "http://mock:8000/req/7" and document["host"] == "mock:8000"
    assert document["remote"] == "127.0.0.1" and document["cookies"] == {"a": "1"}
    assert (document["rule"], document["endpoint"]) == ("/req/<int:id>", "req")
    assert document["secure"] is False and document["agent"] == "ua" and document["in_args"] is True
    assert document["arg_keys"] == ["m", "n", "q"] and ["m", "2"] in document["multi"]
    assert "X-Tag" in document["header_keys"]


def test_request_json_forms_and_missing_values():
    prov = serve('''
app.add_url_rule("/j", "j", view_func=j, methods=["POST"])
app.add_url_rule("/form", "form", view_func=form, methods=["POST"])
app.add_url_rule("/need", "need", view_func=need)
app.add_url_rule("/hdr", "hdr", view_func=hdr)
''', '''
def j():
    return {"json": request.json, "forced": request.get_json(force=True, silent=True),
            "full": request.full_path, "url": request.url}

def form():
    return {"form": request.form.to_dict(), "values": request.values.to_dict(flat=False), "length": len(request.form)}

def need():
    return request.args["must"]

def hdr():
    return request.headers["X-Missing"]
''')
    plain = as_json(call(prov, "POST", "/j", body=b'{"a": 1}'))
    assert plain == {"json": None, "forced": {"a": 1}, "full": "/j?", "url": "http://localhost/j"}
    broken = call(prov, "POST", "/j", body=b"{", headers=[("Content-Type", "application/json")])
    assert broken.status == 400 and "not valid JSON" in as_json(broken)["detail"]
    posted = as_json(call(prov, "POST", "/form?a=0", body=b"a=1&b=2",
                          headers=[("Content-Type", "application/x-www-form-urlencoded")]))
    assert posted == {"form": {"a": "1", "b": "2"}, "values": {"a": ["0", "1"], "b": ["2"]}, "length": 2}
    assert as_json(call(prov, "POST", "/form", body=b"a=1"))["form"] == {}
    missing = call(prov, "GET", "/need")
    assert missing.status == 400 and "'must'" in as_json(missing)["detail"]
    assert call(prov, "GET", "/need?must=yes").body == b"yes"
    assert call(prov, "GET", "/hdr").status == 500   # KeyError, as werkzeug's BadRequestKeyError is not modelled


def test_request_outside_a_view_is_a_clear_error():
    with pytest.raises(RuntimeError, match="outside of a request"):
        provisions.request.path
    assert repr(provisions.request) == "<request (unbound)>"
    assert not hasattr(provisions.request, "__wrapped__")


# ---------------------------------------------------------------- errors inside views


def test_abort_and_error_handlers():
    prov = serve('''
app.add_url_rule("/nf", "nf", view_func=lambda: abort(404))
app.add_url_rule("/why", "why", view_func=lambda: abort(403, "members only"))
app.add_url_rule("/resp", "resp", view_func=lambda: abort(Response("custom", 429)))
app.add_url_rule("/boom", "boom", view_func=boom)
app.add_url_rule("/key", "key", view_func=key)
app.register_error_handler(404, not_found)
app.register_error_handler(KeyError, key_error)
''', '''
def not_found(e):
    return {"missing": request.path, "code": e.code}, 404

def key_error(e):
    return "no key %s" % e, 422

def boom():
    raise ValueError("kaboom")

def key():
    return {}["x"]
''')
    assert (call(prov, "GET", "/nf").status, as_json(call(prov, "GET", "/nf"))) == (404, {"missing": "/nf", "code": 404})
    assert as_json(call(prov, "GET", "/elsewhere")) == {"missing": "/elsewhere", "code": 404}
    assert call(prov, "GET", "/elsewhere", config_matches=True) is None
    why = call(prov, "GET", "/why")
    assert why.status == 403 and as_json(why)["detail"] == "members only"
    assert (call(prov, "GET", "/resp").status, call(prov, "GET", "/resp").body) == (429, b"custom")
    assert call(prov, "GET", "/key").body == b"no key 'x'"
    boom = call(prov, "GET", "/boom")
    assert boom.status == 500 and "ValueError: kaboom" in as_json(boom)["detail"]


def test_500_handler_and_broken_handlers():
    logged = []
    prov = serve('''
app.add_url_rule("/boom", "boom", view_func=boom)
app.add_url_rule("/teapot", "teapot", view_func=lambda: abort(418))
app.register_error_handler(500, on_500)
app.register_error_handler(418, broken)
''', '''
def boom():
    raise RuntimeError("down")

def on_500(e):
    return "sorry: %s" % type(e.original_exception).__name__, 503

def broken(e):
    raise LookupError("handler bug")
''')
    prov.log = logged.append
    assert (call(prov, "GET", "/boom").status, call(prov, "GET", "/boom").body) == (503, b"sorry: RuntimeError")
    teapot = call(prov, "GET", "/teapot")
    assert teapot.status == 500 and "the error handler for 418" in as_json(teapot)["detail"]
    assert any("LookupError" in line and "Traceback" in line for line in logged)


def test_sys_exit_in_a_view_is_a_500_not_a_dead_thread():
    prov = serve('app.add_url_rule("/quit", "quit", view_func=quit_)', "import sys\ndef quit_():\n    sys.exit(1)\n")
    response = call(prov, "GET", "/quit")
    assert response.status == 500 and "SystemExit" in as_json(response)["detail"]


def test_a_crashing_exception_handler_is_reported_not_raised():
    prov = serve('''
app.add_url_rule("/boom", "boom", view_func=lambda: 1 / 0)
app.register_error_handler(ZeroDivisionError, lambda e: None)
''', "")
    response = call(prov, "GET", "/boom")
    assert response.status == 500 and "ZeroDivisionError" in as_json(response)["detail"]


def test_view_error_names_the_provision_line(tmp_path):
    path = tmp_path / "lines"
    source = 'def registerRules():\n    app.add_url_rule("/x", "x", view_func=x)\n\ndef x():\n    return undefined_name\n'
    prov = compile_provision("lines", source, filename=str(path))
    detail = as_json(call(prov, "GET", "/x"))["detail"]
    assert f"{path}:5" in detail and "NameError" in detail and "endpoint 'x'" in detail


# ---------------------------------------------------------------- rejected provisions


@pytest.mark.parametrize("source, stage, where, fragment", [
    ("def registerRules(:\n  pass\n", "syntax", "bad:1:", "SyntaxError"),
    ("def registerRules():\n  pass\n      oops\n", "syntax", "bad:3:", "IndentationError: unexpected indent"),
    ("x = 1\ny = undefined\n", "load", "bad:2", "NameError: name 'undefined' is not defined (while running the file's top level)"),
    ("import no_such_module_here\n", "load", "bad:1", "ModuleNotFoundError"),
    ("from flask import nothing_like_this\ndef registerRules(): pass\n", "load", "bad:1", "ImportError"),
    ("import flask.json\n", "load", "bad:1", "pymock's Flask shim has no module 'flask.json'"),
    ("def rules():\n  pass\n", "register", "bad", "defines no registerRules() function"),
    ("import sys\nsys.exit(3)\n", "load", "bad:2", "SystemExit: 3"),
    ("def registerRules():\n  raise KeyError('k')\n", "register", "bad:2", "KeyError: 'k' (in registerRules())"),
    ("def registerRules():\n  app.add_url_rule('/a', 'a', view_func=f)\n  app.add_url_rule('/a', 'b', view_func=g)\n"
     "def f(): pass\ndef g(): pass\n", "conflict", "bad", "GET /a is registered twice (endpoints 'a' and 'b')"),
    ("def registerRules():\n  app.add_url_rule('/a', 'a', view_func=f)\n  app.add_url_rule('/a', 'a', view_func=g)\n"
     "def f(): pass\ndef g(): pass\n", "conflict", "bad:3", "endpoint 'a' is already mapped to the function 'f'"),
    ("def registerRules():\n  app.add_url_rule('/__admin/x', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad", "inside the admin API"),
    ("def registerRules():\n  app.add_url_rule('/a/<bad:x>', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad:2", "unknown converter 'bad'"),
    ("def registerRules():\n  app.add_url_rule('/a/<int(min=1):x>', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad:2", "converter arguments"),
    ("def registerRules():\n  app.add_url_rule('/a/<x>/<x>', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad:2", "names the variable 'x' twice"),
    ("def registerRules():\n  app.add_url_rule('/a/<x', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad:2", "malformed variable"),
    ("def registerRules():\n  app.add_url_rule('a', 'a', view_func=f)\ndef f(): pass\n", "conflict", "bad:2", "must be a string starting with '/'"),
    ("def registerRules():\n  app.add_url_rule('/a', 'a', view_func=f, methods='GET')\ndef f(): pass\n", "conflict", "bad:2", "must be a list"),
    ("def registerRules():\n  app.add_url_rule('/a', 'a', view_func=None)\n", "conflict", "bad:2", "view_func must be a function"),
    ("def registerRules():\n  app.add_url_rule('/a', 'a', view_func=f, host='x')\ndef f(): pass\n", "conflict", "bad:2", "unsupported option(s) host"),
    ("def registerRules():\n  app.register_error_handler('404', f)\ndef f(e): pass\n", "conflict", "bad:2", "give an HTTP status code"),
    ("def registerRules():\n  app.register_error_handler(404, 'f')\n", "conflict", "bad:2", "the handler must be a function"),
    ("def registerRules():\n  app.before_request(f)\ndef f(): pass\n", "register", "bad:2", "pymock's Flask shim supports add_url_rule"),
])
def test_bad_provisions_are_rejected_naming_stage_and_line(source, stage, where, fragment):
    with pytest.raises(ProvisionError) as caught:
        compile_provision("bad", source, filename="bad")
    error = caught.value
    assert error.stage == stage and error.where.startswith(where), (error.stage, error.where)
    assert fragment in error.message, error.message
    assert error.problems()[0].path == error.where and error.as_dict()["stage"] == stage


def test_undecodable_source_is_rejected():
    with pytest.raises(ProvisionError, match="not UTF-8") as caught:
        compile_provision("bin", b"\xff\xfe\x00bad")
    assert caught.value.stage == "read"


def test_flask_imports_resolve_to_the_shim():
    prov = provision('''
from flask import Flask, request as req, jsonify as js
import flask_api.status
from flask_api import status as st
import json
flask_app = Flask(__name__)

def registerRules():
    flask_app.add_url_rule("/s", "s", view_func=lambda: js(code=st.HTTP_202_ACCEPTED, dumped=json.dumps(1), same=flask_api.status is st))
''')
    assert as_json(call(prov, "GET", "/s")) == {"code": 202, "dumped": "1", "same": True}


def test_each_provision_gets_a_fresh_namespace():
    source = '''
counter = []
def registerRules():
    counter.append(1)
    app.add_url_rule("/c", "c", view_func=lambda: str(len(counter)))
'''
    first, second = provision(source), provision(source)
    assert call(first, "GET", "/c").body == b"1" and call(second, "GET", "/c").body == b"1"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["foo-bar", "initial", "team/a_b.py", "x" * 255])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/../../x", "/etc/passwd", "a\\b", ".hidden", "a/.git/x",
                                  "a//b", "a/./b", "tab\there", "x" * 256, "del\x7f"])
def test_names_that_could_escape_or_hide_are_refused(name):
    with pytest.raises(ProvisionError) as caught:
        check_name(name)
    assert caught.value.stage == "name"


# ---------------------------------------------------------------- the manager


GOOD = 'def registerRules():\n  app.add_url_rule("/v", "v", view_func=lambda: "{}")\n'


def test_manager_starts_with_the_builtin_default_when_initial_is_missing(tmp_path):
    logged = []
    manager = ProvisionManager(tmp_path, log=logged.append)
    assert manager.start().name == DEFAULT_NAME
    help_response = manager.handle(None, _NoConfig(), Request("GET", "/nothing"))
    document = as_json(help_response)
    assert help_response.status == 404 and "initial" in document["detail"]
    assert "/app/v1/provision/<name>" in document["hint"]
    assert manager.handle(None, _NoConfig(hit=True), Request("GET", "/nothing")) is None
    assert "no " in logged[0] and manager.health()["ok"] is True


def test_manager_loads_initial_then_rolls_back_a_bad_one(tmp_path):
    (tmp_path / "initial").write_text(GOOD.format("one"))
    (tmp_path / "broken").write_text("def registerRules(:\n")
    logged = []
    manager = ProvisionManager(tmp_path, log=logged.append)
    assert manager.start().name == "initial"
    with pytest.raises(ProvisionError):
        manager.activate_file("broken")
    assert manager.active.name == "initial"
    assert manager.handle(None, _NoConfig(), Request("GET", "/v")).body == b"one"
    health = manager.health()
    assert health["ok"] is False and health["last_attempt"]["error"]["stage"] == "syntax"
    assert "provision 'initial' is still serving" in logged[-1]
    (tmp_path / "fixed").write_text(GOOD.format("two"))
    manager.activate_file("fixed")
    assert manager.health()["ok"] is True and manager.active.name == "fixed"


def test_a_bad_initial_at_start_serves_the_default_and_reports(tmp_path):
    (tmp_path / "initial").write_text("raise SystemError('no')\n")
    manager = ProvisionManager(tmp_path)
    assert manager.start().name == DEFAULT_NAME
    assert manager.health()["last_attempt"]["error"]["stage"] == "load"


def test_missing_and_unreadable_files(tmp_path, monkeypatch):
    manager = ProvisionManager(tmp_path)
    with pytest.raises(ProvisionError) as caught:
        manager.activate_file("ghost")
    assert caught.value.stage == "missing" and manager.health()["ok"] is True   # not a failed provision
    (tmp_path / "locked").write_text(GOOD.format("x"))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(provisions, "open", refuse, raising=False)
    with pytest.raises(ProvisionError) as caught:
        manager.activate_file("locked")
    assert caught.value.stage == "read" and "Permission denied" in caught.value.message


def test_save_and_activate_writes_only_good_provisions(tmp_path):
    manager = ProvisionManager(tmp_path)
    manager.save_and_activate("team/one", GOOD.format("1").encode())
    assert (tmp_path / "team" / "one").read_text() == GOOD.format("1")
    assert manager.stamps["team/one"] == manager.stamp("team/one")
    with pytest.raises(ProvisionError):
        manager.save_and_activate("two", b"def registerRules(:")
    assert not (tmp_path / "two").exists() and manager.active.name == "team/one"
    with pytest.raises(ProvisionError) as caught:
        manager.save_and_activate("../escape", GOOD.encode())
    assert caught.value.stage == "name"


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    folder, outside = tmp_path / "provisions", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret").write_text(GOOD.format("s"))
    os.symlink(outside, folder / "link")
    manager = ProvisionManager(folder)
    with pytest.raises(ProvisionError, match="resolves outside"):
        manager.activate_file("link/secret")


def test_names_lists_provision_files_only(tmp_path):
    for name in ("a", "sub/b", ".hidden", "c.bak", "d~", ".git/e", "f.tmp"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert ProvisionManager(tmp_path).names() == ["a", "sub/b"]
    assert ProvisionManager(tmp_path).stamp("nope") is None


# ---------------------------------------------------------------- mounted on MockApp


class _NoConfig:
    """A config stand-in whose router always misses (or always hits)."""

    def __init__(self, hit=False):
        self.router = self
        self.hit = hit

    def find(self, request):
        from pymock.matching import RouteMiss
        return object() if self.hit else RouteMiss([], [])


def test_provisions_come_first_then_the_config_and_health_reports_them(tmp_path, examples):
    app = MockApp({"endpoints": [{"path": "/cfg", "response": "from config"},
                                 {"path": "/app/v1/foo/bar", "method": "DELETE", "response": "config delete"}]})
    manager = ProvisionManager(examples)
    app.mount(manager)
    manager.start()   # initial -> default: 404 help for anything the config does not serve
    assert app.handle(Request("GET", "/cfg")).body == b"from config"
    assert app.handle(Request("GET", "/nope")).body == HELP_404.encode()
    manager.activate_file("foo-bar")
    assert json.loads(app.handle(Request("GET", "/app/v1/foo/bar")).body)["resultData"] == "answering a get"
    assert app.handle(Request("DELETE", "/app/v1/foo/bar")).body == b"config delete"
    assert app.handle(Request("GET", "/nope")).header("Content-Type") == "application/problem+json"
    health = as_json(app.handle(Request("GET", "/__admin/health")))
    assert health["status"] == "ok" and health["provisions"]["active"]["name"] == "foo-bar"
    (examples / "broken").write_text("def registerRules():\n  raise ValueError('x')\n")
    with pytest.raises(ProvisionError):
        manager.activate_file("broken")
    health = as_json(app.handle(Request("GET", "/__admin/health")))
    assert health["status"] == "degraded" and health["provisions"]["last_attempt"]["name"] == "broken"
    assert app.handle(Request("HEAD", "/__admin/health")).status == 200


def test_shim_odds_and_ends():
    response = FlaskResponse(bytearray(b"ab"), status=HTTPStatus.ACCEPTED)
    assert (response.data, response.status_code, response.content_type) == (b"ab", 202, "text/html; charset=utf-8")
    prov = serve('app.add_url_rule("/o", "o", view_func=o)', '''
def o():
    return {"bad_type": request.args.get("n", type=int), "missing": request.args.get("zz", "d"),
            "keys": list(request.args), "repr": repr(request.args), "hdr_bad": request.headers.get("X-N", -1, type=int),
            "root": request.url_root, "no_host_list": request.args.getlist("n", type=str)}
''')
    document = as_json(call(prov, "GET", "/o?n=x", headers=[("X-N", "y")]))
    assert document == {"bad_type": None, "missing": "d", "keys": ["n"], "repr": "MultiDict([('n', 'x')])",
                        "hdr_bad": -1, "root": "http://localhost/", "no_host_list": ["x"]}


def test_app_errorhandler_decorator():
    prov = provision('''
@app.errorhandler(404)
def missing(e):
    return "nothing at " + request.path, 404

def registerRules():
    pass
''')
    assert call(prov, "GET", "/x").body == b"nothing at /x"
