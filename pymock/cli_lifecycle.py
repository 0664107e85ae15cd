"""The contract-lifecycle commands: ``pymock diff``, ``pymock docs`` and ``pymock design``.

``specdiff.py``, ``docs.py`` and ``workflow.py`` do the work; this is their command line: it
loads the documents (a spec or a pymock config), runs the command, prints the result and turns
failures into one stderr line and an exit code. ``cli.py`` defines the arguments and calls
``run``; ``design serve`` stays in ``cli.py`` with the other serving code and is passed in.

Layer 2 (prints, writes files). It must not import ``cli`` (``cli`` imports this module).
"""

from __future__ import annotations

import json
import sys

from .config import load_config
from .errors import ConfigError

__all__ = ["run", "EXIT_REFUSED"]

# The lifecycle commands' exit codes (0 and 2 as in cli.py; 1 is diff --fail-on or a refusal).
EXIT_OK, EXIT_USAGE = 0, 2
EXIT_REFUSED = 1   # design: the workflow refused the step (in review, blocked, not a reviewer)


class _LifecycleError(Exception):
    """A message for stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _load_document(path: str) -> tuple[dict, list]:
    """``(spec, mocks)`` from a spec file (external $refs bundled) or a config (its derived spec)."""
    from .errors import SpecError
    from .openapi import load_spec, parse_spec_text
    try:
        with open(path, "rb") as handle:
            data = parse_spec_text(handle.read(), path)
    except OSError as exc:
        raise _LifecycleError(f"{path}: cannot read: {exc.strerror}") from None
    except SpecError as exc:
        raise _LifecycleError(str(exc)) from None
    if isinstance(data, dict) and ("openapi" in data or "swagger" in data):
        if not _external_refs(data):
            return data, []          # as written: the loader's normalisations would show in the docs
        try:
            spec = load_spec(path)   # bundles the documents the $refs name into one
        except SpecError as exc:
            raise _LifecycleError(f"{path}: {exc}") from None
        for problem in spec.problems[:5]:
            print(f"pymock: warning: {path}: {problem}", file=sys.stderr)
        return spec.document, []
    if isinstance(data, dict) and "endpoints" in data:
        from .workflow_api import live_spec
        try:
            config = load_config(path)
        except ConfigError as exc:
            raise _LifecycleError(str(exc)) from None
        return live_spec(config), [e.source for e in config.endpoints]
    raise _LifecycleError(f"{path}: neither an OpenAPI/Swagger document (no 'openapi' or 'swagger' key) "
                          "nor a pymock config (no 'endpoints' key)")


def _external_refs(node) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _write_output(text: str, output: str | None) -> None:
    if output:
        from .files import atomic_write
        atomic_write(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _spec_error(exc, path: str) -> _LifecycleError:
    """``FILE: message (at /json/pointer)``."""
    message = exc.message if exc.message.startswith(path) else f"{path}: {exc.message}"
    return _LifecycleError(message + (f" (at {exc.pointer})" if exc.pointer else ""))


def _model(document: dict, path: str):
    """A ``SpecModel`` with every operation resolved, or the error naming the file and pointer."""
    from .errors import SpecError
    from .specdiff import SpecModel
    try:
        model = SpecModel(document, path)
        model.operations()
    except SpecError as exc:
        raise _spec_error(exc, path) from None
    return model


def _diff_command(args) -> int:
    import datetime
    from . import specdiff
    from .errors import SpecError
    old, _ = _load_document(args.old)
    new, _ = _load_document(args.new)
    rules = []
    if args.ignore:
        try:
            with open(args.ignore, encoding="utf-8") as handle:
                rules = specdiff.parse_ignore(handle.read(), args.ignore)
        except OSError as exc:
            raise _LifecycleError(f"{args.ignore}: cannot read: {exc.strerror}") from None
        except SpecError as exc:
            raise _LifecycleError(str(exc)) from None
    model_old, model_new = _model(old, args.old), _model(new, args.new)
    report = specdiff.diff(model_old, model_new, today=datetime.date.today(), ignore=rules,
                           old_name=args.old, new_name=args.new)
    render = {"text": specdiff.format_text, "markdown": specdiff.format_markdown, "json": specdiff.format_json}
    _write_output(render[args.format](report), args.output)
    return report.exit_code(args.fail_on)


def _docs_command(args) -> int:
    from . import docs
    from .errors import SpecError
    spec, mocks = _load_document(args.source)
    renderer = docs.render_html if args.format == "html" else docs.render_markdown
    try:
        text = renderer(spec, mocks=mocks, base_url=args.base_url or docs.DEFAULT_BASE_URL, name=args.source)
    except SpecError as exc:
        raise _spec_error(exc, args.source) from None
    _write_output(text, args.output)
    if args.output:
        print(f"wrote {args.output} ({len(text.encode())} bytes)", file=sys.stderr)
    return EXIT_OK


def _design_command(args, serve) -> int:
    import sqlite3
    from .errors import ConflictError, NotFoundError, SpecError
    from .workflow import NotAllowed, Workflow
    try:
        workflow = Workflow(args.db)
    except sqlite3.Error as exc:
        raise _LifecycleError(f"{args.db}: not a designs database: {exc}") from None
    try:
        return {**_DESIGN_ACTIONS, "serve": serve}[args.action](workflow, args)
    except NotFoundError as exc:
        raise _LifecycleError(f"{exc} in {args.db}") from None
    except (ConflictError, NotAllowed) as exc:
        breaking = getattr(exc, "changes", [])
        extra = "".join(f"\n  {fingerprint}" for fingerprint in breaking)
        raise _LifecycleError(f"refused: {exc}{extra}", EXIT_REFUSED) from None
    except SpecError as exc:
        raise _LifecycleError(f"{getattr(args, 'spec', None) or args.name}: {exc}") from None
    except ValueError as exc:
        raise _LifecycleError(str(exc)) from None
    finally:
        workflow.close()


def _design_spec(args) -> tuple[dict, dict | None]:
    spec, _ = _load_document(args.spec)
    mocks = None
    if args.mocks:
        try:
            mocks = load_config(args.mocks).raw
        except ConfigError as exc:
            raise _LifecycleError(str(exc)) from None
    return spec, mocks


def _design_create(workflow, args) -> int:
    spec, mocks = _design_spec(args)
    design = workflow.create(args.name, spec, user=args.user, title=args.title, reviewers=args.reviewer,
                             required_approvals=args.approvals, mocks=mocks)
    print(f"created {design['name']} v1 (draft); reviewers: {', '.join(design['reviewers']) or 'anyone'}")
    return EXIT_OK


def _design_update(workflow, args) -> int:
    spec, mocks = _design_spec(args)
    version = workflow.save(args.name, spec, user=args.user, mocks=mocks)
    print(f"saved {args.name} v{version['number']} ({version['state']}, api version {version['api_version']})")
    return EXIT_OK


def _design_submit(workflow, args) -> int:
    version = workflow.submit(args.name, args.version, user=args.user)
    summary = version["report"]["summary"]
    base = f"v{version['base_version']}" if version["base_version"] else "nothing approved yet"
    print(f"submitted {args.name} v{version['number']} for review; against {base}: "
          f"{summary['ERR']} breaking, {summary['WARN']} warnings, {summary['INFO']} info")
    for fingerprint in version.get("blocking", []):
        print(f"  breaking: {fingerprint}")
    return EXIT_OK


def _design_withdraw(workflow, args) -> int:
    version = workflow.withdraw(args.name, args.version, user=args.user)
    print(f"{args.name} v{version['number']}: back to draft")
    return EXIT_OK


def _design_approve(workflow, args) -> int:
    accept = list(args.accept)
    if args.accept_all_breaking:
        accept += [f for f in workflow.version(args.name, args.version).get("blocking", []) if f not in accept]
    version = workflow.approve(args.name, args.version, user=args.user, comment=args.comment, accept=accept)
    print(f"{args.name} v{version['number']}: {version['state']} "
          f"({version['approvals']}/{version['required_approvals']} approvals)")
    return EXIT_OK


def _design_reject(workflow, args) -> int:
    comments = []
    for item in args.at:
        pointer, sep, body = item.partition("=")
        if not sep:
            raise _LifecycleError(f"--at {item!r}: expected POINTER=TEXT, e.g. '/paths/~1pets/get=needs paging'")
        comments.append({"pointer": pointer, "body": body})
    version = workflow.reject(args.name, args.version, user=args.user, comment=args.comment, comments=comments)
    print(f"{args.name} v{version['number']}: rejected with {len(comments)} anchored comment(s)")
    return EXIT_OK


def _design_status(workflow, args) -> int:
    if args.version is None and args.format == "text":
        design = workflow.design(args.name)
        print(f"{design['name']}: {design['title']} (reviewers: {', '.join(design['reviewers']) or 'anyone'}, "
              f"{design['required_approvals']} approval(s) needed)")
        for version in design["versions"]:
            print(f"  v{version['number']}  {version['state']:<9} api {version['api_version']}  by {version['created_by']}")
    version = workflow.version(args.name, args.version)
    if args.format == "json":
        print(json.dumps(version, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"v{version['number']}: {version['state']}, {version['approvals']}/{version['required_approvals']} approvals")
    if version["report"]:
        summary = version["report"]["summary"]
        print(f"  changes against v{version['base_version']}: {summary['ERR']} breaking, "
              f"{summary['WARN']} warnings, {summary['INFO']} info"
              + ("; major version bumped" if version["report"]["major_bump"] else ""))
        for fingerprint in version.get("blocking", []):
            print(f"  blocking: {fingerprint}")
    for review in version["reviews"]:
        print(f"  {review['decision']} by {review['reviewer']}: {review['comment']}")
    for comment in version["comments"]:
        print(f"  comment by {comment['author']} at {comment['pointer'] or '/'}: {comment['body']}")
    return EXIT_OK


def _design_history(workflow, args) -> int:
    entries = workflow.history(args.name)
    if args.format == "json":
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return EXIT_OK
    for entry in entries:
        version = f" v{entry['version']}" if entry["version"] else ""
        print(f"{entry['at']}  {entry['actor']:<12} {entry['action']}{version}")
    return EXIT_OK


_DESIGN_ACTIONS = {"create": _design_create, "update": _design_update, "submit": _design_submit,
                   "withdraw": _design_withdraw,
                   "approve": _design_approve, "reject": _design_reject, "status": _design_status,
                   "history": _design_history}


def run(args, serve) -> int:
    """Run ``pymock diff|docs|design``; ``serve(workflow, args)`` is ``design serve`` (in cli.py,
    beside the other serving code). Returns the exit code; errors go to stderr."""
    commands = {"diff": _diff_command, "docs": _docs_command,
                "design": lambda a: _design_command(a, serve)}
    try:
        return commands[args.command](args)
    except _LifecycleError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return exc.code
