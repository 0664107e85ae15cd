"""The design workflow over HTTP: ``/__admin/designs...`` handlers and their route table.

Layer 1: handlers take ``(app, config, request, params)`` and return a ``Response``, like
``admin.py``, which appends ``ROUTES`` to its table (so this module must not import ``admin``).
The API is off unless a ``Workflow`` was attached with ``attach(app, workflow)`` (the CLI does
it for ``--designs-db PATH``); then every route answers. Who acts is the ``user`` field of the
JSON body, or the ``X-Pymock-User`` header. Errors are ``application/problem+json``: 400 for a
bad body or spec (with JSON pointers), 403 for a user who may not review, 404 for an unknown
design or version, 409 for a state that does not allow the step (an approval blocked by
breaking changes lists their fingerprints under ``breaking``).

Every version can be tried before it is approved: its mocks (given, or made from its spec)
answer under ``/__admin/designs/{name}/versions/{version}/mock/...`` and its documentation is at
``.../docs`` (HTML) and ``.../docs.md``, with ``curl`` lines pointing at that mock.

Must not import ``admin``, the HTTP server, sockets or any layer-2 module.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from . import docs, openapi_export, specdiff
from .errors import ConflictError, NotFoundError, SpecError
from .model import Request, Response, problem_response
from .workflow import ApprovalBlocked, NotAllowed, Workflow

__all__ = ["ROUTES", "DOCS_ROUTES", "attach", "designs_of", "version_mocks", "live_spec"]

USER_HEADER = "x-pymock-user"


def attach(app, workflow: Workflow) -> None:
    """Turn the designs API on for ``app`` (a ``MockApp``)."""
    app.designs = workflow


def designs_of(app) -> Workflow | None:
    return getattr(app, "designs", None)


def _json(status: int, payload, headers=()) -> Response:
    body = json.dumps(payload, indent=2, ensure_ascii=False).encode()
    return Response(status, [("Content-Type", "application/json"), *headers], body)


class _BadBody(Exception):
    def __init__(self, response: Response):
        self.response = response


def _body(request: Request, required: bool = True) -> dict:
    if not request.body.strip():
        if required:
            raise _BadBody(problem_response(400, "Request body required", "send a JSON object"))
        return {}
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadBody(problem_response(400, "Invalid JSON", f"the request body is not valid JSON: {exc}")) from None
    if not isinstance(payload, dict):
        raise _BadBody(problem_response(400, "Invalid JSON", "expected a JSON object"))
    return payload


def _user_of(request: Request, body: dict) -> str:
    return body.get("user") or request.headers.get(USER_HEADER) or ""


def _spec_of(body: dict, key: str = "spec"):
    """The spec from the body: a JSON object, or JSON/YAML text."""
    if key not in body:
        raise _BadBody(problem_response(400, "Spec required", f"send the OpenAPI document as '{key}' "
                                        "(a JSON object, or JSON/YAML text)", errors=[{"path": key, "message": "required"}]))
    value = body[key]
    if isinstance(value, str):
        from . import miniyaml
        from .errors import YamlError
        try:
            value = miniyaml.load(value, source_name=key)
        except YamlError as exc:
            raise _BadBody(problem_response(400, "Invalid spec", str(exc),
                                            errors=[{"path": key, "message": f"line {exc.line}, column {exc.col}: {exc.message}"}])) from None
    return value


def _guard(handler):
    """Designs API on? Then map the workflow's exceptions to problem responses."""
    def wrapped(app, config, request, params):
        workflow = designs_of(app)
        if workflow is None:
            return problem_response(404, "Designs API is off",
                                    "start the server with --designs-db PATH (a SQLite file, or :memory:)")
        try:
            return handler(workflow, request, params)
        except _BadBody as exc:
            return exc.response
        except NotFoundError:
            raise                      # admin.dispatch answers 404 naming the kind and id
        except ApprovalBlocked as exc:
            return problem_response(409, "Approval blocked by breaking changes", str(exc), breaking=exc.changes,
                                    hint="send their fingerprints in 'accept', or bump the major version in info.version")
        except NotAllowed as exc:
            return problem_response(403, "Not allowed", str(exc))
        except ConflictError as exc:
            return problem_response(409, "Conflict", str(exc))
        except SpecError as exc:
            errors = [p.as_dict() for p in exc.problems] or [{"path": exc.pointer, "message": exc.message}]
            return problem_response(400, "Invalid spec", str(exc), errors=errors)
        except ValueError as exc:
            return problem_response(400, "Invalid request", str(exc))
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# ---------------------------------------------------------------- designs

@_guard
def list_designs(workflow, request, params):
    designs = workflow.designs()
    return _json(200, {"designs": designs, "total": len(designs)})


@_guard
def create_design(workflow, request, params):
    body = _body(request)
    design = workflow.create(body.get("name"), _spec_of(body), user=_user_of(request, body),
                             title=body.get("title"), reviewers=body.get("reviewers") or (),
                             required_approvals=body.get("required_approvals", 1), mocks=body.get("mocks"))
    return _json(201, design, [("Location", f"/__admin/designs/{design['name']}")])


@_guard
def get_design(workflow, request, params):
    return _json(200, workflow.design(params["name"]))


@_guard
def design_history(workflow, request, params):
    return _json(200, {"design": params["name"], "history": workflow.history(params["name"])})


@_guard
def save_spec(workflow, request, params):
    body = _body(request)
    before = workflow.design(params["name"])["latest_version"]
    version = workflow.save(params["name"], _spec_of(body), user=_user_of(request, body), mocks=body.get("mocks"))
    created = version["number"] != before
    location = [("Location", f"/__admin/designs/{params['name']}/versions/{version['number']}")] if created else []
    return _json(201 if created else 200, version, location)


@_guard
def save_version_spec(workflow, request, params):
    body = _body(request)
    version = workflow.save(params["name"], _spec_of(body), user=_user_of(request, body), mocks=body.get("mocks"),
                            number=params["version"])
    return _json(200, version)


@_guard
def new_version(workflow, request, params):
    body = _body(request)
    version = workflow.new_version(params["name"], _spec_of(body), user=_user_of(request, body), mocks=body.get("mocks"))
    return _json(201, version, [("Location", f"/__admin/designs/{params['name']}/versions/{version['number']}")])


# ---------------------------------------------------------------- one version

@_guard
def get_version(workflow, request, params):
    return _json(200, workflow.version(params["name"], params["version"]))


@_guard
def submit_version(workflow, request, params):
    body = _body(request, required=False)
    return _json(200, workflow.submit(params["name"], params["version"], user=_user_of(request, body)))


@_guard
def withdraw_version(workflow, request, params):
    body = _body(request, required=False)
    return _json(200, workflow.withdraw(params["name"], params["version"], user=_user_of(request, body)))


@_guard
def approve_version(workflow, request, params):
    body = _body(request, required=False)
    accept = body.get("accept") or []
    if not isinstance(accept, list):
        raise ValueError("'accept' must be a list of change fingerprints")
    return _json(200, workflow.approve(params["name"], params["version"], user=_user_of(request, body),
                                       comment=str(body.get("comment") or ""), accept=accept))


@_guard
def reject_version(workflow, request, params):
    body = _body(request)
    comments = body.get("comments") or []
    if not isinstance(comments, list):
        raise ValueError("'comments' must be a list of {\"pointer\": ..., \"body\": ...}")
    return _json(200, workflow.reject(params["name"], params["version"], user=_user_of(request, body),
                                      comment=body.get("comment") or "", comments=comments))


@_guard
def add_comment(workflow, request, params):
    body = _body(request)
    comment = workflow.comment(params["name"], params["version"], user=_user_of(request, body),
                               pointer=body.get("pointer", ""), body=body.get("body") or "")
    return _json(201, comment)


@_guard
def version_diff(workflow, request, params):
    query = request.query_first()
    report = workflow.diff(params["name"], params["version"], query.get("against"))
    fmt = query.get("format", "json")
    if fmt == "text":
        return Response.text(200, specdiff.format_text(report))
    if fmt == "markdown":
        return Response.text(200, specdiff.format_markdown(report), content_type="text/markdown; charset=utf-8")
    if fmt != "json":
        raise ValueError(f"format must be json, text or markdown, not {fmt!r}")
    return _json(200, report.as_dict())


def _mock_base(request: Request, name: str, number) -> str:
    host = request.headers.get("host") or "127.0.0.1:8080"
    return f"{request.scheme}://{host}/__admin/designs/{name}/versions/{number}/mock"


def _render(workflow, request, params, renderer):
    version = workflow.version(params["name"], params["version"])
    endpoints = version_mocks(version).get("endpoints", [])
    return renderer(version["spec"], mocks=endpoints, name=f"{params['name']} v{version['number']}",
                    base_url=_mock_base(request, params["name"], version["number"]))


@_guard
def version_docs(workflow, request, params):
    return Response.text(200, _render(workflow, request, params, docs.render_html),
                         content_type="text/html; charset=utf-8")


@_guard
def version_docs_md(workflow, request, params):
    return Response.text(200, _render(workflow, request, params, docs.render_markdown),
                         content_type="text/markdown; charset=utf-8")


# ---------------------------------------------------------------- trying a version as a live mock

def version_mocks(version: dict) -> dict:
    """The mocks config of a version: the one saved with it, or one made from its spec."""
    if isinstance(version.get("mocks"), dict):
        return version["mocks"]
    if isinstance(version.get("mocks"), list):
        return {"endpoints": version["mocks"]}
    from .openapi import load_spec
    from .openapi_mocks import import_config
    return import_config(load_spec(version["spec"], name=f"{version['design']} v{version['number']}"))


_APPS: OrderedDict = OrderedDict()
_APPS_LOCK = threading.Lock()
_APPS_KEPT = 16


def _mock_app(workflow, version: dict):
    key = (id(workflow), version["design"], version["number"], version["updated_at"])
    with _APPS_LOCK:
        if key in _APPS:
            _APPS.move_to_end(key)
            return _APPS[key]
    from .app import MockApp     # imported here: app imports admin, which imports this module
    mock_app = MockApp(version_mocks(version), clock=workflow.clock)
    with _APPS_LOCK:
        _APPS[key] = mock_app
        while len(_APPS) > _APPS_KEPT:
            _APPS.popitem(last=False)
    return mock_app


@_guard
def try_mock(workflow, request, params):
    version = workflow.version(params["name"], params["version"])
    try:
        mock_app = _mock_app(workflow, version)
    except SpecError:
        raise
    except ValueError as exc:      # ConfigError: the saved mocks do not validate
        problems = [p.as_dict() for p in getattr(exc, "problems", [])]
        return problem_response(400, "Invalid mocks", str(exc), errors=problems)
    rest = "/" + params.get("**", "")
    target = rest + (f"?{request.raw_query}" if request.raw_query else "")
    forwarded = Request(request.method, target, headers=request.headers, body=request.body,
                        client=request.client, scheme=request.scheme, http_version=request.http_version)
    forwarded.received_at = request.received_at
    return mock_app.handle(forwarded)


_BASE = "/__admin/designs"
_ONE = _BASE + "/{name}/versions/{version}"
ROUTES = [
    ("GET", _BASE, list_designs, "List designs (the workflow API needs --designs-db)"),
    ("POST", _BASE, create_design, "Create a design: name, spec, reviewers, required_approvals, user"),
    ("GET", _BASE + "/{name}", get_design, "One design and its versions"),
    ("PUT", _BASE + "/{name}/spec", save_spec, "Save a spec: edits the draft, revises a rejected version, or starts the next version"),
    ("GET", _BASE + "/{name}/history", design_history, "The audit trail of a design: who did what, when"),
    ("POST", _BASE + "/{name}/versions", new_version, "Start the next version of a design"),
    ("GET", _ONE, get_version, "One version: spec, state, breaking-change report, reviews, comments"),
    ("PUT", _ONE + "/spec", save_version_spec, "Edit one draft (or rejected) version; approved versions are read-only (409)"),
    ("POST", _ONE + "/submit", submit_version, "Submit a version for review (computes the breaking-change report)"),
    ("POST", _ONE + "/withdraw", withdraw_version, "Take a version out of review"),
    ("POST", _ONE + "/approve", approve_version, "Approve a version (accept breaking changes by fingerprint)"),
    ("POST", _ONE + "/reject", reject_version, "Reject a version with comments anchored to JSON pointers"),
    ("POST", _ONE + "/comments", add_comment, "Comment on a version at a JSON pointer"),
    ("GET", _ONE + "/diff", version_diff, "Changes against the last approved version (?against=N, ?format=json|text|markdown)"),
    ("GET", _ONE + "/docs", version_docs, "The version's documentation as one HTML page"),
    ("GET", _ONE + "/docs.md", version_docs_md, "The version's documentation as Markdown"),
] + [(method, _ONE + "/mock/**", try_mock, "Try the version as a live mock")
     for method in ("GET", "POST", "PUT", "PATCH", "DELETE")]


# ---------------------------------------------------------------- documentation of the live mocks

def live_spec(config) -> dict:
    """The OpenAPI document of what the server serves now."""
    return openapi_export.export_spec(config)


def _live(app, config, request, renderer):
    host = request.headers.get("host") or "127.0.0.1:8080"
    return renderer(live_spec(config), mocks=[e.source for e in config.endpoints],
                    base_url=f"{request.scheme}://{host}", name="the live mocks")


def live_docs(app, config, request, params):
    return Response.text(200, _live(app, config, request, docs.render_html), content_type="text/html; charset=utf-8")


def live_docs_md(app, config, request, params):
    return Response.text(200, _live(app, config, request, docs.render_markdown),
                         content_type="text/markdown; charset=utf-8")


DOCS_ROUTES = [
    ("GET", "/__admin/docs", live_docs, "Documentation of the live mocks as one HTML page (no scripts)"),
    ("GET", "/__admin/docs.md", live_docs_md, "Documentation of the live mocks as Markdown"),
]
