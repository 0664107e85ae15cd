"""Resource collections: list (filters, sort, pages with Link and X-Total-Count), get, create,
replace, patch, delete; seeding from the config; 400/404/405/409/422 problems."""

import json
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.testing import MockServer

PEOPLE = [
    {"id": 1, "name": "Ada", "age": 36, "city": {"name": "London"}, "tags": ["math"]},
    {"id": 2, "name": "Grace", "age": 85, "city": {"name": "New York"}, "admin": True},
    {"id": 3, "name": "Alan", "age": 41, "city": {"name": "London"}},
    {"id": 4, "name": "Edsger", "age": 72, "city": {"name": "Austin"}},
    {"id": 5, "name": "Barbara", "age": 41},
]
CONFIG = {"resources": {"people": PEOPLE, "notes": {"items": [{"text": "a"}, {"text": "b"}],
                                                    "required": ["text"], "page_size": 1},
                        "codes": {"id_field": "code", "items": [{"code": "x1"}]}},
          "endpoints": [{"path": "/api/people", "resource": "people"},
                        {"path": "/notes/", "resource": "notes"},
                        {"path": "/codes", "resource": "codes"},
                        {"path": "/ro", "method": "GET", "resource": "people"},
                        {"path": "/api/people/special", "response": "literal wins"}]}


@pytest.fixture
def app():
    return MockApp(CONFIG)


def call(app, method, target, body=None):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return app.handle(Request(method, target, body=data))


def names(response):
    return [item["name"] for item in json.loads(response.body)]


# ---------------------------------------------------------------- list

@pytest.mark.parametrize("query, expected", [
    ("", ["Ada", "Grace", "Alan", "Edsger", "Barbara"]),
    ("?age=41", ["Alan", "Barbara"]),
    ("?name=Ada&name=Alan", ["Ada", "Alan"]),
    ("?city.name=London", ["Ada", "Alan"]),
    ("?admin=true", ["Grace"]),
    ("?age_gte=72", ["Grace", "Edsger"]),
    ("?age_lt=41", ["Ada"]),
    ("?age_gt=41&age_lte=80", ["Edsger"]),
    ("?name_ne=Ada&age_lte=41", ["Alan", "Barbara"]),
    ("?name_like=RA", ["Grace", "Barbara"]),
    ("?name_gte=E", ["Grace", "Edsger"]),
    ("?q=york", ["Grace"]),
    ("?q=MATH", ["Ada"]),
    ("?_sort=age", ["Ada", "Alan", "Barbara", "Edsger", "Grace"]),
    ("?_sort=-age,name", ["Grace", "Edsger", "Alan", "Barbara", "Ada"]),
    ("?_sort=age,name&_order=desc", ["Grace", "Edsger", "Barbara", "Alan", "Ada"]),
    ("?_sort=city.name", ["Edsger", "Ada", "Alan", "Grace", "Barbara"]),
    ("?age_gte=x", []),                       # not a number: compared as text ("85" < "x")
    ("?missing=1", []),
])
def test_filters_and_sorting(app, query, expected):
    response = call(app, "GET", "/api/people" + query)
    assert response.status == 200 and names(response) == expected
    assert response.header("X-Total-Count") == str(len(expected))


def test_pages_carry_link_and_total_headers(app):
    response = call(app, "GET", "/api/people?age_gte=40&_sort=name&_page=2&_limit=2")
    assert names(response) == ["Edsger", "Grace"]
    assert response.header("X-Total-Count") == "4"
    assert response.header("Link") == (
        '</api/people?age_gte=40&_sort=name&_page=1&_limit=2>; rel="first", '
        '</api/people?age_gte=40&_sort=name&_page=1&_limit=2>; rel="prev", '
        '</api/people?age_gte=40&_sort=name&_page=2&_limit=2>; rel="last"')
    first = call(app, "GET", "/api/people?_per_page=2")
    assert names(first) == ["Ada", "Grace"] and 'rel="next"' in first.header("Link")
    assert 'rel="prev"' not in first.header("Link")
    assert json.loads(call(app, "GET", "/api/people?_page=9&_limit=2").body) == []
    assert [n["text"] for n in json.loads(call(app, "GET", "/notes?_page=2").body)] == ["b"]   # page_size 1


@pytest.mark.parametrize("query, status, text", [
    ("?_page=0", 400, "_page must be a whole number from 1"),
    ("?_limit=x", 400, "_limit must be a whole number"),
    ("?_order=up", 400, "_order must be asc or desc"),
    ("?_sortt=name", 400, "did you mean '_sort'?"),
    ("?_embed=x", 400, "'_embed' is not a collection option"),
])
def test_bad_list_options_are_400(app, query, status, text):
    response = call(app, "GET", "/api/people" + query)
    assert response.status == status and text in json.loads(response.body)["detail"]


# ---------------------------------------------------------------- items

def test_get_create_replace_patch_delete(app):
    assert json.loads(call(app, "GET", "/api/people/2").body)["name"] == "Grace"
    created = call(app, "POST", "/api/people", {"name": "Linus"})
    assert created.status == 201 and created.header("Location") == "/api/people/6"
    assert json.loads(created.body) == {"name": "Linus", "id": 6}
    replaced = call(app, "PUT", "/api/people/6", {"name": "Linus T", "age": 54})
    assert json.loads(replaced.body) == {"name": "Linus T", "age": 54, "id": 6}
    patched = call(app, "PATCH", "/api/people/6", {"age": None, "city": {"name": "Portland"}})
    assert json.loads(patched.body) == {"name": "Linus T", "id": 6, "city": {"name": "Portland"}}
    assert call(app, "PATCH", "/api/people/6", {"id": 6, "x": 1}).status == 200   # same id is fine
    assert call(app, "DELETE", "/api/people/6").status == 204
    assert call(app, "GET", "/api/people/6").status == 404
    assert json.loads(call(app, "POST", "/api/people", {"name": "Next"}).body)["id"] == 7   # ids are not reused


def test_given_ids_and_string_ids(app):
    assert call(app, "POST", "/api/people", {"id": 50, "name": "Big"}).header("Location") == "/api/people/50"
    assert json.loads(call(app, "POST", "/api/people", {"name": "After"}).body)["id"] == 51
    assert call(app, "POST", "/api/people", {"id": "abc", "name": "S"}).status == 201
    assert json.loads(call(app, "GET", "/api/people/abc").body)["name"] == "S"
    assert json.loads(call(app, "GET", "/codes/x1").body) == {"code": "x1"}
    assert call(app, "POST", "/codes", {"code": "x2"}).header("Location") == "/codes/x2"


@pytest.mark.parametrize("method, target, body, status, title", [
    ("GET", "/api/people/99", None, 404, "No such item"),
    ("PUT", "/api/people/99", {"name": "x"}, 404, "No such item"),
    ("PATCH", "/api/people/99", {"name": "x"}, 404, "No such item"),
    ("DELETE", "/api/people/99", None, 404, "No such item"),
    ("GET", "/api/people/1/friends", None, 404, "No such resource path"),
    ("POST", "/api/people", {"id": 1, "name": "Dup"}, 409, "Item exists"),
    ("PUT", "/api/people/1", {"id": 2, "name": "x"}, 409, "Id mismatch"),
    ("PATCH", "/api/people/1", {"id": 9}, 409, "Id mismatch"),
    ("POST", "/api/people", [1, 2], 422, "Invalid item"),
    ("POST", "/api/people", None, 422, "Invalid item"),
    ("POST", "/notes", {"title": "no text"}, 422, "Invalid item"),
    ("PUT", "/notes/1", {"title": "no text"}, 422, "Invalid item"),
    ("PATCH", "/notes/1", {"text": None}, 422, "Invalid item"),
    ("PATCH", "/api/people/1", [1], 422, "Invalid item"),
    ("POST", "/api/people", b"{oops", 400, "Invalid JSON"),
    ("PUT", "/api/people", {"a": 1}, 405, "Method not allowed"),
    ("POST", "/api/people/1", {"a": 1}, 405, "Method not allowed"),
])
def test_problems(app, method, target, body, status, title):
    response = call(app, method, target, body)
    document = json.loads(response.body)
    assert (response.status, document["title"]) == (status, title)
    assert response.header("Content-Type") == "application/problem+json"


def test_problem_details(app):
    missing = json.loads(call(app, "POST", "/notes", {"title": "x"}).body)
    assert missing["errors"] == [{"path": "text", "message": "required field is missing"}]
    assert call(app, "PUT", "/api/people", {}).header("Allow") == "GET, HEAD, POST"
    assert call(app, "POST", "/api/people/1", {}).header("Allow") == "GET, HEAD, PUT, PATCH, DELETE"
    assert call(app, "POST", "/ro", {"name": "x"}).status == 405   # the endpoint allows GET only
    assert call(app, "HEAD", "/api/people/1").status == 200


def test_literal_endpoints_beat_the_collection_and_the_journal_says_resource(app):
    assert call(app, "GET", "/api/people/special").body == b"literal wins"
    call(app, "GET", "/api/people/1")
    entry = app.journal.list()[0]
    assert (entry["matched"], entry["picked"], entry["path_params"]) == ("any-api-people", "resource", {"**": "1"})


# ---------------------------------------------------------------- seeding and admin

def test_seeding_reset_and_admin_routes(app):
    call(app, "POST", "/api/people", {"name": "New"})
    call(app, "DELETE", "/notes/1")
    assert json.loads(call(app, "GET", "/__admin/resources").body) == {
        "resources": {"codes": 1, "notes": 1, "people": 6}}
    assert json.loads(call(app, "POST", "/__admin/resources/notes/reset").body)["resources"]["notes"] == 2
    missing = call(app, "POST", "/__admin/resources/peple/reset")
    assert missing.status == 404 and "did you mean 'people'?" in json.loads(missing.body)["detail"]
    app.handle(Request("POST", "/__admin/reset"))
    assert json.loads(call(app, "GET", "/__admin/resources").body)["resources"]["people"] == 5
    notes = json.loads(call(app, "GET", "/notes").body)
    assert notes == [{"text": "a", "id": 1}, {"text": "b", "id": 2}]   # seeded items get ids


def test_an_undeclared_collection_starts_empty_and_reload_keeps_data():
    app = MockApp({"endpoints": [{"path": "/todos", "resource": "todos"}]})
    assert json.loads(call(app, "GET", "/todos").body) == []
    call(app, "POST", "/todos", {"title": "write tests"})
    app.reload()
    assert names_of(call(app, "GET", "/todos")) == ["write tests"]


def names_of(response):
    return [item["title"] for item in json.loads(response.body)]


def test_resources_over_http():
    with MockServer(CONFIG) as mock:
        post = UrlRequest(mock.url("/api/people"), data=b'{"name": "Web"}', method="POST",
                          headers={"Content-Type": "application/json"})
        created = urlopen(post)
        assert created.status == 201 and created.headers["Location"] == "/api/people/6"
        listed = urlopen(mock.url("/api/people?name=Web"))
        assert json.loads(listed.read()) == [{"name": "Web", "id": 6}] and listed.headers["X-Total-Count"] == "1"


# ---------------------------------------------------------------- config problems

@pytest.mark.parametrize("raw, path, message", [
    ({"resources": []}, "resources", "expected an object of name: items"),
    ({"resources": {"u": 1}}, "resources.u", "expected a list of items"),
    ({"resources": {"u": {"items": {}}}}, "resources.u.items", "expected a list of objects"),
    ({"resources": {"u": [1]}}, "resources.u.items[0]", "expected an object"),
    ({"resources": {"u": [{"id": 1}, {"id": 1}]}}, "resources.u.items[1].id", "duplicate id 1"),
    ({"resources": {"u": [{"id": [1]}]}}, "resources.u.items[0].id", "text or a number"),
    ({"resources": {"u": {"itemz": []}}}, "resources.u.itemz", "unknown key"),
    ({"resources": {"u": {"id_field": ""}}}, "resources.u.id_field", "expected a field name"),
    ({"resources": {"u": {"required": "name"}}}, "resources.u.required", "list of field names"),
    ({"resources": {"u": {"page_size": 0}}}, "resources.u.page_size", "whole number from 1"),
    ({"endpoints": [{"path": "/u", "resource": 1}]}, "endpoints[0].resource", "collection name"),
    ({"endpoints": [{"path": "/u", "resource": "a/b"}]}, "endpoints[0].resource", "collection name"),
    ({"endpoints": [{"path": "/u", "resource": "u", "response": {}}]}, "endpoints[0].response", "answers from its collection"),
    ({"endpoints": [{"path": "/u/*", "resource": "u"}]}, "endpoints[0].path", "the collection's prefix"),
])
def test_resource_config_problems(raw, path, message):
    with pytest.raises(ConfigError) as caught:
        build_config(raw)
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems
