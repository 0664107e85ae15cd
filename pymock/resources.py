"""Resource collections, json-server style: ``"resource": "users"`` on an endpoint whose path
is ``/api/users`` serves a collection there and its items at ``/api/users/{id}``.

| request | answer |
|---|---|
| ``GET /api/users`` | the items: filter ``?name=Ada`` (also ``_gte``, ``_lte``, ``_gt``, ``_lt``, ``_ne``, ``_like`` suffixes, ``q=`` full text), sort ``?_sort=-age,name``, page ``?_page=2&_limit=10`` with ``Link`` and ``X-Total-Count`` headers |
| ``GET /api/users/7`` | one item, or 404 |
| ``POST /api/users`` | create; the next id is assigned unless the body has one (409 if taken); 201 + ``Location`` |
| ``PUT /api/users/7`` | replace (404 if missing, 409 if the body names another id) |
| ``PATCH /api/users/7`` | change fields (JSON merge patch; ``null`` removes a field) |
| ``DELETE /api/users/7`` | remove; 204 |

A body that is not a JSON object, or lacks a ``required`` field, gets 422. Every error is
``application/problem+json``. Items live in a ``StateStore`` (namespace ``resource:<name>``),
so with ``--state path.db`` they survive restarts; each change is one transaction.

Layer 1: no sockets, no threads; files only through the store.

>>> from pymock.stores import StateStore
>>> from pymock.model import Request
>>> spec = parse_resources({"users": [{"id": 1, "name": "Ada"}]}, [])["users"]
>>> collections = Collections(StateStore())
>>> collections.install(spec)
>>> made = collections.handle(spec, Request("POST", "/users", body=b'{"name": "Bob"}'), "/users", "")
>>> made.status, made.header("Location"), json.loads(made.body)
(201, '/users/2', {'name': 'Bob', 'id': 2})
>>> listed = collections.handle(spec, Request("GET", "/users?_sort=-id"), "/users", "")
>>> [u["name"] for u in json.loads(listed.body)], listed.header("X-Total-Count")
(['Bob', 'Ada'], '2')

Must not import the engine, the app or the config.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from urllib.parse import urlencode

from .errors import Problem
from .merge_patch import merge_patch
from .model import Request, Response, problem_response
from .stores import MISSING, StateStore

__all__ = ["ResourceSpec", "Collections", "parse_resources", "parse_resource_ref", "CONTROL_PARAMS"]

CONTROL_PARAMS = ("_sort", "_order", "_page", "_limit", "_per_page")
_OPERATORS = ("_gte", "_lte", "_gt", "_lt", "_ne", "_like")
_META = "resource-meta"
_COLLECTION_METHODS = "GET, HEAD, POST"
_ITEM_METHODS = "GET, HEAD, PUT, PATCH, DELETE"


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    id_field: str = "id"
    seed: str = "[]"              # the initial items as JSON text (immutable; parsed on use)
    required: tuple = ()
    page_size: int = 10           # items per page when ``_page`` comes without ``_limit``


# ---------------------------------------------------------------- the collection store

class Collections:
    """Collections kept in a ``StateStore``; ``handle`` answers one request."""

    def __init__(self, store: StateStore):
        self.store = store

    def install(self, spec: ResourceSpec, *, force: bool = False) -> None:
        """Seed ``spec`` from the config unless it already holds data (``force`` re-seeds)."""
        def seed(txn):
            if not force and txn.get(_META, spec.name) is not MISSING:
                return
            txn.drop("resource:" + spec.name)
            last = 0
            for item in json.loads(spec.seed):
                ident = item.get(spec.id_field)
                if ident is None:
                    last += 1
                    item = {**item, spec.id_field: last}
                elif isinstance(ident, int) and not isinstance(ident, bool):
                    last = max(last, ident)
                txn.put("resource:" + spec.name, str(item[spec.id_field]), item)
            txn.put(_META, spec.name, {"last_id": last})
        self.store.transaction(seed)

    def counts(self) -> dict:
        def read(txn):
            return {ns[9:]: len(txn.items(ns)) for ns in txn.namespaces("resource:")}
        return self.store.transaction(read, write=False)

    def handle(self, spec: ResourceSpec, request: Request, prefix: str, rest: str) -> Response:
        """``rest`` is the path below the collection: ``""`` (the collection) or an item id."""
        if "/" in rest.strip("/"):
            return problem_response(404, "No such resource path",
                                    f"{request.path}: {prefix} serves the {spec.name} collection "
                                    f"and {prefix}/{{id}}, nothing deeper")
        ident = rest.strip("/")
        method = "GET" if request.method == "HEAD" else request.method
        handler = (_ITEM if ident else _COLLECTION).get(method)
        if handler is None:
            allow = _ITEM_METHODS if ident else _COLLECTION_METHODS
            return problem_response(405, "Method not allowed", f"{request.path} accepts {allow}",
                                    headers=[("Allow", allow)])
        return handler(self, spec, request, prefix, ident)

    # ------------------------------------------------------------ operations

    def _list(self, spec, request, prefix, ident) -> Response:
        query = request.query
        unknown = [name for name in query if name.startswith("_") and name not in CONTROL_PARAMS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], CONTROL_PARAMS, 1)
            return problem_response(400, "Unknown query parameter", f"{unknown[0]!r} is not a "
                                    "collection option" + (f" (did you mean {close[0]!r}?)" if close else ""),
                                    allowed=list(CONTROL_PARAMS))
        items = [value for _, value in self.store.transaction(
            lambda txn: txn.items("resource:" + spec.name), write=False)]
        items = [item for item in items if _passes(item, query)]
        problem = _sort(items, query)
        if problem is not None:
            return problem
        total = len(items)
        page = _paging(query, spec.page_size)
        if isinstance(page, Response):
            return page
        headers = [("X-Total-Count", str(total))]
        if page is not None:
            number, size = page
            items = items[(number - 1) * size: number * size]
            headers.append(("Link", _links(request, prefix, number, size, total)))
        return Response.json(200, items, headers)

    def _get(self, spec, request, prefix, ident) -> Response:
        item = self.store.transaction(lambda txn: txn.get("resource:" + spec.name, ident), write=False)
        if item is MISSING:
            return _not_found(spec, ident)
        return Response.json(200, item)

    def _create(self, spec, request, prefix, ident) -> Response:
        body = _object_body(request, spec)
        if isinstance(body, Response):
            return body

        def create(txn):
            meta = txn.get(_META, spec.name)
            last = 0 if meta is MISSING else meta["last_id"]
            given = body.get(spec.id_field)
            if given is None:
                given = last + 1
            elif txn.get("resource:" + spec.name, str(given)) is not MISSING:
                return None
            if isinstance(given, int) and not isinstance(given, bool):
                last = max(last, given)
            item = {**body, spec.id_field: given}
            txn.put("resource:" + spec.name, str(given), item)
            txn.put(_META, spec.name, {"last_id": last})
            return item
        item = self.store.transaction(create)
        if item is None:
            return problem_response(409, "Item exists", f"{spec.name} already has an item with "
                                    f"{spec.id_field} {body[spec.id_field]!r}",
                                    hint=f"PUT {prefix}/{body[spec.id_field]} replaces it")
        location = f"{prefix}/{item[spec.id_field]}"
        return Response.json(201, item, [("Location", location)])

    def _replace(self, spec, request, prefix, ident) -> Response:
        body = _object_body(request, spec)
        if isinstance(body, Response):
            return body
        return self._change(spec, ident, lambda old: body)

    def _patch(self, spec, request, prefix, ident) -> Response:
        body = _object_body(request, spec, check_required=False)
        if isinstance(body, Response):
            return body
        return self._change(spec, ident, lambda old: merge_patch(old, body))

    def _change(self, spec, ident, change) -> Response:
        def write(txn):
            old = txn.get("resource:" + spec.name, ident)
            if old is MISSING:
                return MISSING
            new = change(old)
            if spec.id_field in new and str(new[spec.id_field]) != ident:
                return new
            new = {**new, spec.id_field: old[spec.id_field]}
            missing = [f for f in spec.required if f not in new]
            if missing:
                return missing
            txn.put("resource:" + spec.name, ident, new)
            return Response.json(200, new)
        result = self.store.transaction(write)
        if result is MISSING:
            return _not_found(spec, ident)
        if isinstance(result, list):
            return _unprocessable(spec, result)
        if isinstance(result, dict):
            return problem_response(409, "Id mismatch", f"the body's {spec.id_field} is "
                                    f"{result[spec.id_field]!r} but the URL names {ident!r}",
                                    hint=f"leave {spec.id_field} out of the body, or send the same one")
        return result

    def _delete(self, spec, request, prefix, ident) -> Response:
        if not self.store.transaction(lambda txn: txn.delete("resource:" + spec.name, ident)):
            return _not_found(spec, ident)
        return Response(204, [])


_COLLECTION = {"GET": Collections._list, "POST": Collections._create}
_ITEM = {"GET": Collections._get, "PUT": Collections._replace, "PATCH": Collections._patch,
         "DELETE": Collections._delete}


# ---------------------------------------------------------------- helpers

def _not_found(spec: ResourceSpec, ident: str) -> Response:
    return problem_response(404, "No such item", f"{spec.name} has no item with {spec.id_field} {ident!r}",
                            resource=spec.name, id=ident)


def _unprocessable(spec: ResourceSpec, missing: list) -> Response:
    errors = [Problem(name, "required field is missing") for name in missing]
    return problem_response(422, "Invalid item", f"{spec.name} items need: {', '.join(spec.required)}",
                            errors=errors)


def _object_body(request: Request, spec: ResourceSpec, check_required: bool = True):
    if not request.body.strip():
        return problem_response(422, "Invalid item", "send the item as a JSON object")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return problem_response(400, "Invalid JSON", f"the request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return problem_response(422, "Invalid item", f"expected a JSON object, got {type(body).__name__}")
    missing = [name for name in spec.required if name not in body] if check_required else []
    return _unprocessable(spec, missing) if missing else body




def _field(item, path: str):
    value = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _compare(value, wanted: str, op: str) -> bool:
    if op == "_like":
        return wanted.casefold() in _text(value).casefold()
    if op == "_ne":
        return _text(value) != wanted
    left, right = (value, _number(wanted)) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else (_text(value), wanted)
    if right is None:
        left, right = _text(value), wanted
    return {"_gte": left >= right, "_lte": left <= right, "_gt": left > right, "_lt": left < right}[op]


def _passes(item, query: dict) -> bool:
    for name, values in query.items():
        if name.startswith("_"):
            continue
        if name == "q":
            needle = values[0].casefold()
            if not any(needle in _text(v).casefold() for v in item.values()):
                return False
            continue
        op = next((o for o in _OPERATORS if name.endswith(o) and len(name) > len(o)), None)
        field_value = _field(item, name[:-len(op)] if op else name)
        if field_value is MISSING:
            return False
        if op is None:
            if _text(field_value) not in values:   # several values: any of them
                return False
        elif not all(_compare(field_value, wanted, op) for wanted in values):
            return False
    return True


def _sort_key(value):
    if value is MISSING or value is None:
        return (2, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, _text(value))


def _sort(items: list, query: dict):
    fields = [f for spec in query.get("_sort", []) for f in spec.split(",") if f.strip()]
    order = query.get("_order", ["asc"])[0].lower()
    if order not in ("asc", "desc"):
        return problem_response(400, "Invalid _order", f"_order must be asc or desc, got {order!r}")
    for spec in reversed(fields):   # stable sorts, last key first
        descending = spec.startswith("-") != (order == "desc")
        name = spec.strip().lstrip("-")
        items.sort(key=lambda item: _sort_key(_field(item, name)), reverse=descending)
    return None


def _paging(query: dict, page_size: int):
    page, limit = query.get("_page", [None])[0], (query.get("_limit") or query.get("_per_page") or [None])[0]
    if page is None and limit is None:
        return None
    for name, text in (("_page", page), ("_limit", limit)):
        if text is not None and (not text.isdigit() or int(text) < 1):
            return problem_response(400, f"Invalid {name}", f"{name} must be a whole number from 1, got {text!r}")
    return int(page or 1), int(limit or page_size)


def _links(request: Request, prefix: str, number: int, size: int, total: int) -> str:
    last = max(1, math.ceil(total / size))
    query = {k: v for k, v in request.query.items() if k not in ("_page", "_limit", "_per_page")}

    def url(page: int) -> str:
        params = [(k, v) for k, values in query.items() for v in values] + [("_page", page), ("_limit", size)]
        return f"<{prefix}?{urlencode(params)}>"
    links = [f'{url(1)}; rel="first"']
    if number > 1:
        links.append(f'{url(min(number - 1, last))}; rel="prev"')
    if number < last:
        links.append(f'{url(number + 1)}; rel="next"')
    links.append(f'{url(last)}; rel="last"')
    return ", ".join(links)


# ---------------------------------------------------------------- config

def parse_resources(value, problems: list) -> dict:
    """The top-level ``resources``: ``{"users": [items]}`` or ``{"users": {"items": [...],
    "id_field": "id", "required": ["name"], "page_size": 10}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(Problem("resources", "expected an object of name: items",
                                'e.g. {"users": [{"id": 1, "name": "Ada"}]}'))
        return {}
    out = {}
    for name, block in value.items():
        spec = _resource(name, block, f"resources.{name}", problems)
        if spec is not None:
            out[name] = spec
    return out


def _resource(name: str, block, where: str, problems: list) -> ResourceSpec | None:
    if isinstance(block, list):
        block = {"items": block}
    if not isinstance(block, dict):
        problems.append(Problem(where, "expected a list of items or an object with items"))
        return None
    before = len(problems)
    for key in block:
        if key not in ("items", "id_field", "required", "page_size"):
            problems.append(Problem(f"{where}.{key}", "unknown key", "allowed here: items, id_field, "
                                    "required, page_size"))
    id_field = block.get("id_field", "id")
    if not isinstance(id_field, str) or not id_field:
        problems.append(Problem(f"{where}.id_field", f"expected a field name, got {id_field!r}"))
    required = block.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append(Problem(f"{where}.required", f"expected a list of field names, got {required!r}"))
    page_size = block.get("page_size", 10)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        problems.append(Problem(f"{where}.page_size", f"expected a whole number from 1, got {page_size!r}"))
    items = _items(block.get("items", []), f"{where}.items", id_field, problems)
    if len(problems) > before:
        return None
    return ResourceSpec(name, id_field, json.dumps(items), tuple(required), page_size)


def _items(items, where: str, id_field, problems: list) -> list:
    if not isinstance(items, list):
        problems.append(Problem(where, "expected a list of objects"))
        return []
    seen = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(f"{where}[{index}]", "expected an object"))
            continue
        ident = item.get(id_field) if isinstance(id_field, str) else None
        if ident is None:
            continue
        if isinstance(ident, (dict, list, bool)):
            problems.append(Problem(f"{where}[{index}].{id_field}", f"an id must be text or a number, got {ident!r}"))
        elif str(ident) in seen:
            problems.append(Problem(f"{where}[{index}].{id_field}", f"duplicate id {ident!r} "
                                    f"(also {where}[{seen[str(ident)]}])"))
        else:
            seen[str(ident)] = index
    return items


def parse_resource_ref(value, where: str, problems: list, declared: dict) -> ResourceSpec | None:
    """An endpoint's ``resource``: the name of a collection (declared under ``resources`` or
    new and empty)."""
    if not isinstance(value, str) or not value or "/" in value:
        problems.append(Problem(where, f"expected a collection name like \"users\", got {value!r}"))
        return None
    return declared.get(value) or ResourceSpec(value)
