"""The design workflow: named APIs with versions, reviews, approvals and an audit trail.

Layer 1: state in SQLite through the standard ``sqlite3`` module (a file, or ``":memory:"``);
no sockets, no threads started. Every change is one ``BEGIN IMMEDIATE`` transaction, so a crash
leaves the database as it was before or after the change, never in between, and several
processes can share one file. The clock is injected.

A *design* is a named API. Each *version* holds a spec (and optionally its mocks) and moves
through ``draft`` -> ``in_review`` -> ``approved`` or ``rejected``; a rejected version goes back
to ``draft`` when it is revised, keeping the reviewers' comments; an approved version is
read-only and saving a changed spec starts the next version. Submitting compares the spec with
the last approved version (``pymock.specdiff``) and keeps the report; a version with breaking
(ERR) changes is approved only if its major version went up or an approver accepted every
breaking change by its fingerprint. Comments are anchored to JSON pointers into the spec.

>>> flow = Workflow(":memory:", clock=lambda: 0.0)
>>> spec = {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1.0.0"}, "paths": {}}
>>> flow.create("pets", spec, user="ann", reviewers=["bob"])["versions"][0]["state"]
'draft'
>>> flow.submit("pets", user="ann")["state"]
'in_review'
>>> flow.approve("pets", user="bob", comment="ship it")["state"]
'approved'
>>> [entry["action"] for entry in flow.history("pets")]
['create', 'submit', 'approve']

Must not import the HTTP server, sockets, or any layer-2 module.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import sqlite3
import threading
import time

from .errors import ConflictError, NotFoundError, PymockError, SpecError
from .specdiff import SpecModel, diff

__all__ = ["Workflow", "STATES", "ApprovalBlocked", "NotAllowed", "major_version"]

STATES = ("draft", "in_review", "approved", "rejected")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS designs(
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
    reviewers TEXT NOT NULL, required_approvals INTEGER NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS versions(
    id INTEGER PRIMARY KEY, design_id INTEGER NOT NULL REFERENCES designs(id),
    number INTEGER NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL, mocks TEXT,
    api_version TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, round INTEGER NOT NULL DEFAULT 0, base_version INTEGER,
    report TEXT, submitted_at REAL, decided_at REAL, UNIQUE(design_id, number));
CREATE TABLE IF NOT EXISTS reviews(
    id INTEGER PRIMARY KEY, version_id INTEGER NOT NULL REFERENCES versions(id),
    round INTEGER NOT NULL, reviewer TEXT NOT NULL, decision TEXT NOT NULL,
    comment TEXT NOT NULL, accepted TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS comments(
    id INTEGER PRIMARY KEY, version_id INTEGER NOT NULL REFERENCES versions(id),
    review_id INTEGER REFERENCES reviews(id), author TEXT NOT NULL, pointer TEXT NOT NULL,
    body TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
    id INTEGER PRIMARY KEY, design_id INTEGER NOT NULL REFERENCES designs(id),
    version INTEGER, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
    at REAL NOT NULL);
"""


class ApprovalBlocked(ConflictError):
    """An approval refused because breaking changes are neither accepted nor behind a major bump."""

    def __init__(self, message: str, changes: list):
        self.changes = list(changes)
        super().__init__(message)


class NotAllowed(PymockError, PermissionError):
    """The user may not do this (not a reviewer, or reviewing their own version)."""


def major_version(text: str) -> int | None:
    """The major number of a version like ``2.1.0`` or ``v3`` (None when there is none).

    >>> major_version("2.1.0"), major_version("v3"), major_version("beta")
    (2, 3, None)
    """
    match = re.match(r"^\s*v?(\d+)", str(text or ""))
    return int(match.group(1)) if match else None


def _iso(at) -> str | None:
    if at is None:
        return None
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _user(user) -> str:
    if not isinstance(user, str) or not user.strip():
        raise ValueError("say who you are: a non-empty user name is required (--user, or 'user' in the body)")
    return user.strip()


def _check_spec(spec, name: str = "the spec") -> SpecModel:
    model = SpecModel(spec, name)
    model.operations()          # resolves every operation now: a broken $ref fails here, not later
    return model


def _pointer_exists(document, pointer: str) -> bool:
    if pointer == "":
        return True
    if not pointer.startswith("/"):
        return False
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


class Workflow:
    """The designs in one SQLite database (a path, or ``":memory:"``)."""

    def __init__(self, path: str = ":memory:", *, clock=time.time):
        self.path = str(path)
        self.clock = clock
        self._connect()
        found = self._db.execute("PRAGMA user_version").fetchone()[0]
        if found > _SCHEMA_VERSION:
            raise ConflictError(f"{self.path} was written by a newer pymock (schema {found}); upgrade pymock")
        if found < _SCHEMA_VERSION:   # a new file: create the tables (no write at all otherwise)
            with self._tx() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _connect(self) -> None:
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")   # a committed decision survives a power cut

    @property
    def _db(self) -> sqlite3.Connection:
        if self._pid != os.getpid() and self.path != ":memory:":
            self._connect()       # a forked worker: a SQLite connection must not cross a fork
        return self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _tx(self, mode: str = "IMMEDIATE"):
        """One transaction: all of a write is saved, or none of it; a read sees one snapshot."""
        with self._lock:
            db = self._db
            db.execute(f"BEGIN {mode}")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _audit(self, db, design_id: int, version, actor: str, action: str, **detail) -> None:
        db.execute("INSERT INTO audit(design_id, version, actor, action, detail, at) VALUES (?,?,?,?,?,?)",
                   (design_id, version, actor, action, json.dumps(detail, sort_keys=True), self.clock()))

    # ------------------------------------------------------------ reading

    def _design_row(self, db, name: str):
        row = db.execute("SELECT * FROM designs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError("design", name)
        return row

    def _version_row(self, db, design, number=None):
        if number in (None, "latest"):
            row = db.execute("SELECT * FROM versions WHERE design_id = ? ORDER BY number DESC LIMIT 1",
                             (design["id"],)).fetchone()
        else:
            try:
                number = int(number)
            except (TypeError, ValueError):
                raise NotFoundError("version", f"{design['name']} v{number}") from None
            row = db.execute("SELECT * FROM versions WHERE design_id = ? AND number = ?",
                             (design["id"], number)).fetchone()
        if row is None:
            raise NotFoundError("version", f"{design['name']} v{number}")
        return row

    def designs(self) -> list[dict]:
        with self._tx("DEFERRED") as db:
            rows = db.execute("SELECT name FROM designs ORDER BY name").fetchall()
            return [self._design_summary(db, self._design_row(db, r["name"])) for r in rows]

    def design(self, name: str) -> dict:
        with self._tx("DEFERRED") as db:
            design = self._design_row(db, name)
            out = self._design_summary(db, design)
            out["versions"] = [self._version_summary(v) for v in db.execute(
                "SELECT * FROM versions WHERE design_id = ? ORDER BY number", (design["id"],))]
            return out

    def _design_summary(self, db, design) -> dict:
        latest = db.execute("SELECT number, state, api_version FROM versions WHERE design_id = ? "
                            "ORDER BY number DESC LIMIT 1", (design["id"],)).fetchone()
        approved = db.execute("SELECT MAX(number) FROM versions WHERE design_id = ? AND state = 'approved'",
                              (design["id"],)).fetchone()[0]
        return {"name": design["name"], "title": design["title"], "reviewers": json.loads(design["reviewers"]),
                "required_approvals": design["required_approvals"], "created_by": design["created_by"],
                "created_at": _iso(design["created_at"]), "latest_version": latest["number"] if latest else None,
                "latest_state": latest["state"] if latest else None, "approved_version": approved}

    @staticmethod
    def _version_summary(row) -> dict:
        return {"number": row["number"], "state": row["state"], "api_version": row["api_version"],
                "created_by": row["created_by"], "updated_at": _iso(row["updated_at"])}

    def version(self, name: str, number=None) -> dict:
        """One version in full: spec, mocks, the diff report, reviews and comments."""
        with self._tx("DEFERRED") as db:
            design = self._design_row(db, name)
            return self._version_view(db, design, self._version_row(db, design, number))

    def _version_view(self, db, design, row) -> dict:
        reviews = [{"reviewer": r["reviewer"], "decision": r["decision"], "comment": r["comment"],
                    "accepted": json.loads(r["accepted"]), "round": r["round"], "at": _iso(r["at"])}
                   for r in db.execute("SELECT * FROM reviews WHERE version_id = ? ORDER BY id", (row["id"],))]
        comments = [{"id": c["id"], "author": c["author"], "pointer": c["pointer"], "body": c["body"],
                     "review": c["review_id"], "at": _iso(c["at"])}
                    for c in db.execute("SELECT * FROM comments WHERE version_id = ? ORDER BY id", (row["id"],))]
        current = [r for r in reviews if r["round"] == row["round"]]
        report = json.loads(row["report"]) if row["report"] else None
        view = {"design": design["name"], "number": row["number"], "state": row["state"],
                "api_version": row["api_version"], "created_by": row["created_by"],
                "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
                "submitted_at": _iso(row["submitted_at"]), "decided_at": _iso(row["decided_at"]),
                "round": row["round"], "base_version": row["base_version"],
                "approvals": sum(1 for r in current if r["decision"] == "approve"),
                "required_approvals": design["required_approvals"],
                "report": report, "reviews": reviews, "comments": comments,
                "spec": json.loads(row["spec"]), "mocks": json.loads(row["mocks"]) if row["mocks"] else None}
        if report is not None:
            accepted = {fp for r in current if r["decision"] == "approve" for fp in r["accepted"]}
            view["blocking"] = [] if report.get("major_bump") else sorted(
                {c["fingerprint"] for c in report["changes"] if c["level"] == "ERR"} - accepted)
        return view

    def history(self, name: str) -> list[dict]:
        """The audit trail, oldest first: who did what, to which version, when."""
        with self._tx("DEFERRED") as db:
            design = self._design_row(db, name)
            return [{"id": r["id"], "at": _iso(r["at"]), "actor": r["actor"], "action": r["action"],
                     "version": r["version"], "detail": json.loads(r["detail"])}
                    for r in db.execute("SELECT * FROM audit WHERE design_id = ? ORDER BY id", (design["id"],))]

    def diff(self, name: str, number=None, against=None):
        """A ``specdiff.Report`` from ``against`` (default: the last approved version before it)."""
        with self._tx("DEFERRED") as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            base = (self._version_row(db, design, against) if against is not None
                    else self._last_approved(db, design, row["number"]))
        if base is None:
            base_spec, base_name = {"openapi": "3.0.3", "info": {"title": "", "version": ""}, "paths": {}}, "(nothing approved)"
        else:
            base_spec, base_name = json.loads(base["spec"]), f"{name} v{base['number']}"
        return diff(base_spec, json.loads(row["spec"]), today=self._today(),
                    old_name=base_name, new_name=f"{name} v{row['number']}")

    def _today(self) -> datetime.date:
        return datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).date()

    @staticmethod
    def _last_approved(db, design, before: int):
        return db.execute("SELECT * FROM versions WHERE design_id = ? AND state = 'approved' AND number < ? "
                          "ORDER BY number DESC LIMIT 1", (design["id"], before)).fetchone()

    # ------------------------------------------------------------ writing

    def create(self, name: str, spec, *, user: str, title: str | None = None, reviewers=(),
               required_approvals: int = 1, mocks=None) -> dict:
        """A new design whose version 1 is a draft holding ``spec``."""
        user = _user(user)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"invalid design name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        reviewers = [r.strip() for r in reviewers if isinstance(r, str) and r.strip()] if reviewers else []
        if isinstance(required_approvals, bool) or not isinstance(required_approvals, int) or required_approvals < 1:
            raise ValueError(f"required_approvals must be a whole number of at least 1, not {required_approvals!r}")
        if reviewers and required_approvals > len(reviewers):
            raise ValueError(f"{required_approvals} approvals are required but only {len(reviewers)} reviewer(s) are named")
        model = _check_spec(spec, f"design {name}")
        with self._tx() as db:
            if db.execute("SELECT 1 FROM designs WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"a design named {name!r} already exists; save a new version of it instead")
            now = self.clock()
            cursor = db.execute("INSERT INTO designs(name, title, reviewers, required_approvals, created_by, created_at) "
                                "VALUES (?,?,?,?,?,?)", (name, title or model.title, json.dumps(reviewers),
                                                         required_approvals, user, now))
            self._insert_version(db, cursor.lastrowid, 1, spec, mocks, model, user)
            self._audit(db, cursor.lastrowid, 1, user, "create", api_version=model.api_version,
                        reviewers=reviewers, required_approvals=required_approvals)
        return self.design(name)

    def _insert_version(self, db, design_id: int, number: int, spec, mocks, model, user) -> None:
        now = self.clock()
        db.execute("INSERT INTO versions(design_id, number, state, spec, mocks, api_version, created_by, "
                   "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                   (design_id, number, "draft", json.dumps(spec), json.dumps(mocks) if mocks is not None else None,
                    model.api_version, user, now, now))

    def save(self, name: str, spec, *, user: str, mocks=None, number=None) -> dict:
        """Save a changed spec: edits a draft, revises a rejected version (back to draft), and
        after an approval starts the next version. Returns the version saved."""
        user = _user(user)
        model = _check_spec(spec, f"design {name}")
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            if row["state"] == "in_review":
                raise ConflictError(f"{name} v{row['number']} is in review; withdraw it first or wait for the decision")
            if row["state"] == "approved":
                if number is not None:
                    raise ConflictError(f"{name} v{row['number']} is approved and read-only; "
                                        "save without a version number to start the next version")
                latest = self._version_row(db, design)
                if latest["number"] != row["number"]:   # pragma: no cover - latest is what we read
                    raise ConflictError("a newer version exists")
                number = row["number"] + 1
                self._insert_version(db, design["id"], number, spec, mocks, model, user)
                self._audit(db, design["id"], number, user, "new-version", based_on=row["number"],
                            api_version=model.api_version)
            else:
                number = row["number"]
                db.execute("UPDATE versions SET spec = ?, mocks = COALESCE(?, mocks), api_version = ?, state = 'draft', "
                           "updated_at = ? WHERE id = ?", (json.dumps(spec), json.dumps(mocks) if mocks is not None else None,
                                                           model.api_version, self.clock(), row["id"]))
                self._audit(db, design["id"], number, user, "revise" if row["state"] == "rejected" else "update",
                            api_version=model.api_version)
        return self.version(name, number)

    def new_version(self, name: str, spec, *, user: str, mocks=None) -> dict:
        """Start the next version explicitly (the latest must not be a draft or in review)."""
        user = _user(user)
        model = _check_spec(spec, f"design {name}")
        with self._tx() as db:
            design = self._design_row(db, name)
            latest = self._version_row(db, design)
            if latest["state"] in ("draft", "in_review"):
                raise ConflictError(f"{name} v{latest['number']} is still {latest['state'].replace('_', ' ')}; "
                                    "change that version instead of starting another")
            number = latest["number"] + 1
            self._insert_version(db, design["id"], number, spec, mocks, model, user)
            self._audit(db, design["id"], number, user, "new-version", based_on=latest["number"],
                        api_version=model.api_version)
        return self.version(name, number)

    def submit(self, name: str, number=None, *, user: str) -> dict:
        """Ask for review; the breaking-change report against the last approved version is kept."""
        user = _user(user)
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            if row["state"] not in ("draft", "rejected"):
                raise ConflictError(f"{name} v{row['number']} is {row['state'].replace('_', ' ')}; only a draft "
                                    "(or a rejected version) can be submitted")
            base = self._last_approved(db, design, row["number"])
            report = self._report(name, row, base)
            db.execute("UPDATE versions SET state = 'in_review', round = round + 1, base_version = ?, report = ?, "
                       "submitted_at = ?, decided_at = NULL WHERE id = ?",
                       (base["number"] if base else None, json.dumps(report), self.clock(), row["id"]))
            self._audit(db, design["id"], row["number"], user, "submit", base_version=base["number"] if base else None,
                        breaking=report["summary"]["ERR"], major_bump=report["major_bump"])
        return self.version(name, row["number"])

    def _report(self, name: str, row, base) -> dict:
        if base is None:
            return {"base_version": None, "summary": {"ERR": 0, "WARN": 0, "INFO": 0, "ignored": 0, "breaking": False},
                    "changes": [], "major_bump": False}
        report = diff(json.loads(base["spec"]), json.loads(row["spec"]), today=self._today(),
                      old_name=f"{name} v{base['number']}", new_name=f"{name} v{row['number']}")
        before, after = major_version(base["api_version"]), major_version(row["api_version"])
        return {"base_version": base["number"], "summary": report.summary(),
                "changes": [c.as_dict() for c in report.changes],
                "major_bump": before is not None and after is not None and after > before}

    def withdraw(self, name: str, number=None, *, user: str) -> dict:
        """Take a version out of review (back to draft); its reviews so far stay on record."""
        user = _user(user)
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            if row["state"] != "in_review":
                raise ConflictError(f"{name} v{row['number']} is not in review")
            db.execute("UPDATE versions SET state = 'draft' WHERE id = ?", (row["id"],))
            self._audit(db, design["id"], row["number"], user, "withdraw")
        return self.version(name, row["number"])

    def _reviewer_check(self, db, design, row, user: str, verb: str) -> None:
        if row["state"] != "in_review":
            raise ConflictError(f"{design['name']} v{row['number']} is {row['state'].replace('_', ' ')}, not in review; "
                                f"only a submitted version can be {verb}d")
        reviewers = json.loads(design["reviewers"])
        if reviewers and user not in reviewers:
            raise NotAllowed(f"{user} is not a reviewer of {design['name']} (reviewers: {', '.join(reviewers)})")
        if user == row["created_by"]:
            raise NotAllowed(f"{user} wrote {design['name']} v{row['number']} and cannot {verb} it; ask a reviewer")

    def approve(self, name: str, number=None, *, user: str, comment: str = "", accept=()) -> dict:
        """Approve. ``accept`` lists fingerprints of breaking changes this approver accepts.

        Raises ``ApprovalBlocked`` (nothing stored but the audit entry) when breaking changes
        remain that are neither accepted nor covered by a major version bump.
        """
        user = _user(user)
        accept = [a for a in (accept or []) if isinstance(a, str)]
        blocked = None
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            self._reviewer_check(db, design, row, user, "approve")
            view = self._version_view(db, design, row)
            if any(r["reviewer"] == user and r["round"] == row["round"] and r["decision"] == "approve"
                   for r in view["reviews"]):
                raise ConflictError(f"{user} already approved {name} v{row['number']}")
            breaking = {c["fingerprint"] for c in view["report"]["changes"] if c["level"] == "ERR"}
            unknown = sorted(set(accept) - breaking)
            if unknown:
                raise ValueError(f"not breaking changes of {name} v{row['number']}: {unknown} "
                                 "(copy fingerprints from the version's report)")
            missing = sorted(set(view["blocking"]) - set(accept))
            if missing:
                self._audit(db, design["id"], row["number"], user, "approve-blocked", unaccepted=missing)
                blocked = ApprovalBlocked(
                    f"{name} v{row['number']} has {len(missing)} breaking change(s) against v{row['base_version']}: "
                    f"bump the major version (now {row['api_version'] or 'unset'}) or accept each one", missing)
            else:
                self._record_review(db, row, user, "approve", comment, accept, ())
                approvals = view["approvals"] + 1
                if approvals >= design["required_approvals"]:
                    db.execute("UPDATE versions SET state = 'approved', decided_at = ? WHERE id = ?",
                               (self.clock(), row["id"]))
                self._audit(db, design["id"], row["number"], user, "approve", comment=comment, accepted=sorted(accept),
                            approvals=approvals, required=design["required_approvals"])
        if blocked is not None:
            raise blocked            # after the commit: the blocked attempt stays in the audit trail
        return self.version(name, row["number"])

    def reject(self, name: str, number=None, *, user: str, comment: str, comments=()) -> dict:
        """Reject with a comment and optional ``comments`` anchored to JSON pointers:
        ``[{"pointer": "/paths/~1pets/get", "body": "..."}]``."""
        user = _user(user)
        if not isinstance(comment, str) or not comment.strip():
            raise ValueError("a rejection needs a comment saying what to change")
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            self._reviewer_check(db, design, row, user, "reject")
            anchored = self._anchored(json.loads(row["spec"]), comments)
            self._record_review(db, row, user, "reject", comment, (), anchored)
            db.execute("UPDATE versions SET state = 'rejected', decided_at = ? WHERE id = ?", (self.clock(), row["id"]))
            self._audit(db, design["id"], row["number"], user, "reject", comment=comment,
                        comments=[c["pointer"] for c in anchored])
        return self.version(name, row["number"])

    def _anchored(self, spec: dict, comments) -> list[dict]:
        out = []
        for index, item in enumerate(comments or []):
            if not isinstance(item, dict) or not isinstance(item.get("body"), str) or not item["body"].strip():
                raise ValueError(f"comments[{index}]: expected {{\"pointer\": \"/paths/...\", \"body\": \"text\"}}")
            pointer = item.get("pointer", "")
            if not isinstance(pointer, str) or not _pointer_exists(spec, pointer):
                raise SpecError(f"comments[{index}].pointer {pointer!r} does not point into the spec", str(pointer))
            out.append({"pointer": pointer, "body": item["body"].strip()})
        return out

    def _record_review(self, db, row, user, decision, comment, accepted, anchored) -> None:
        now = self.clock()
        cursor = db.execute("INSERT INTO reviews(version_id, round, reviewer, decision, comment, accepted, at) "
                            "VALUES (?,?,?,?,?,?,?)", (row["id"], row["round"], user, decision, comment or "",
                                                       json.dumps(sorted(accepted)), now))
        for item in anchored:
            db.execute("INSERT INTO comments(version_id, review_id, author, pointer, body, at) VALUES (?,?,?,?,?,?)",
                       (row["id"], cursor.lastrowid, user, item["pointer"], item["body"], now))

    def comment(self, name: str, number=None, *, user: str, pointer: str, body: str) -> dict:
        """A discussion comment on any version, anchored to a JSON pointer into its spec."""
        user = _user(user)
        with self._tx() as db:
            design = self._design_row(db, name)
            row = self._version_row(db, design, number)
            item = self._anchored(json.loads(row["spec"]), [{"pointer": pointer, "body": body}])[0]
            cursor = db.execute("INSERT INTO comments(version_id, review_id, author, pointer, body, at) "
                                "VALUES (?,?,?,?,?,?)", (row["id"], None, user, item["pointer"], item["body"], self.clock()))
            self._audit(db, design["id"], row["number"], user, "comment", pointer=item["pointer"])
            comment_id = cursor.lastrowid
        return {"id": comment_id, "design": name, "version": row["number"], "author": user, **item}
