"""The federation's registry: sites and their credentials, users with roles and sponsor
scopes, and the sync ledger (pushes, acknowledged revisions, failures).

SQLite in WAL mode: small, transactional, in the federation's data directory. Tokens are
random (``secrets.token_urlsafe``), shown once, and stored as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bioprocess.errors import ConflictError, NotFoundError, TwinfedError

ROLES = frozenset({"site_admin", "engineer", "quality", "tech_transfer", "auditor", "admin"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sites (
  code TEXT PRIMARY KEY, name TEXT, created_at TEXT NOT NULL,
  token_hash TEXT, token_issued_at TEXT, revoked_at TEXT,
  acknowledged_rev INTEGER NOT NULL DEFAULT 0, last_push_at TEXT,
  last_failure_at TEXT, last_failure TEXT, failures INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, roles TEXT NOT NULL,
  sponsors TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pushes (
  push_id TEXT NOT NULL, site TEXT NOT NULL, received_at TEXT NOT NULL,
  outcome TEXT NOT NULL, since_rev INTEGER, to_rev INTEGER, batches INTEGER, deleted INTEGER,
  detail TEXT, PRIMARY KEY (site, push_id, received_at));
CREATE TABLE IF NOT EXISTS push_receipts (
  site TEXT NOT NULL, push_id TEXT NOT NULL, digest TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (site, push_id));
"""


class AuthError(TwinfedError):
    http_status = 401
    problem_type = "unauthorized"
    title = "Unauthorized"


class ForbiddenError(TwinfedError):
    http_status = 403
    problem_type = "forbidden"
    title = "Forbidden"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (roles, sponsor scope) or a site credential."""

    name: str
    roles: frozenset[str]
    #: Sponsors whose data the caller may see; ``None`` means every sponsor (admin, auditor).
    sponsors: frozenset[str] | None
    site: str | None = None

    @property
    def is_site(self) -> bool:
        return self.site is not None


@dataclass(frozen=True)
class SiteStatus:
    code: str
    name: str | None
    active: bool
    acknowledged_rev: int
    last_push_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str | None
    failures: int


class Registry:
    """Thread-safe access to the registry database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # -- sites -------------------------------------------------------------------------
    def register_site(self, code: str, name: str | None = None) -> str:
        """Register ``code`` and return its new credential (shown once)."""
        token = "site_" + secrets.token_urlsafe(32)
        with self._lock:
            exists = self._db.execute("SELECT revoked_at FROM sites WHERE code = ?",
                                      (code,)).fetchone()
            if exists is not None and exists[0] is None:
                raise ConflictError(f"site '{code}' is already registered; rotate its "
                                    "credential instead")
            self._db.execute(
                "INSERT INTO sites (code, name, created_at, token_hash, token_issued_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET "
                "token_hash = excluded.token_hash, token_issued_at = excluded.token_issued_at, "
                "revoked_at = NULL, name = coalesce(excluded.name, sites.name)",
                (code, name, _now(), hash_token(token), _now()))
        return token

    def rotate_site_credential(self, code: str) -> str:
        self.site_status(code)
        token = "site_" + secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute("UPDATE sites SET token_hash = ?, token_issued_at = ?, "
                             "revoked_at = NULL WHERE code = ?", (hash_token(token), _now(), code))
        return token

    def revoke_site(self, code: str) -> None:
        self.site_status(code)
        with self._lock:
            self._db.execute("UPDATE sites SET token_hash = NULL, revoked_at = ? WHERE code = ?",
                             (_now(), code))

    def site_status(self, code: str) -> SiteStatus:
        row = self._db.execute(
            "SELECT code, name, revoked_at, acknowledged_rev, last_push_at, last_failure_at, "
            "last_failure, failures FROM sites WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise NotFoundError(f"site '{code}' is not registered")
        return _site_status(row)

    def sites(self) -> list[SiteStatus]:
        rows = self._db.execute(
            "SELECT code, name, revoked_at, acknowledged_rev, last_push_at, last_failure_at, "
            "last_failure, failures FROM sites ORDER BY code").fetchall()
        return [_site_status(r) for r in rows]

    # -- users -------------------------------------------------------------------------
    def add_user(self, name: str, roles: set[str], sponsors: set[str] | None) -> str:
        unknown = set(roles) - ROLES
        if unknown or not roles:
            raise ConflictError(f"roles must be among {sorted(ROLES)}; got {sorted(roles)}")
        token = "user_" + secrets.token_urlsafe(32)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users (name, token_hash, roles, sponsors, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, hash_token(token), json.dumps(sorted(roles)),
                     json.dumps(None if sponsors is None else sorted(sponsors)), _now()))
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"user '{name}' already exists") from exc
        return token

    def ensure_admin(self, token: str) -> None:
        """Install the bootstrap admin token (idempotent)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO users (name, token_hash, roles, sponsors, created_at) "
                "VALUES ('admin', ?, '[\"admin\"]', 'null', ?) ON CONFLICT(name) DO UPDATE "
                "SET token_hash = excluded.token_hash", (hash_token(token), _now()))

    # -- authentication ----------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthError("a bearer token is required (Authorization: Bearer <token>)")
        digest = hash_token(token)
        site = self._db.execute("SELECT code FROM sites WHERE token_hash = ?",
                                (digest,)).fetchone()
        if site is not None:
            return Principal(name=f"site:{site[0]}", roles=frozenset({"site"}),
                             sponsors=frozenset(), site=site[0])
        user = self._db.execute("SELECT name, roles, sponsors FROM users WHERE token_hash = ?",
                                (digest,)).fetchone()
        if user is None:
            raise AuthError("the token is unknown or was revoked")
        sponsors = json.loads(user[2])
        roles = frozenset(json.loads(user[1]))
        all_sponsors = "admin" in roles or "auditor" in roles
        return Principal(name=user[0], roles=roles,
                         sponsors=None if all_sponsors or sponsors is None
                         else frozenset(sponsors))

    # -- sync ledger -------------------------------------------------------------------
    def push_outcome(self, site: str, push_id: str) -> str | None:
        row = self._db.execute(
            "SELECT outcome FROM pushes WHERE site = ? AND push_id = ? AND outcome = 'stored'",
            (site, push_id)).fetchone()
        return row[0] if row else None

    def push_receipt(self, site: str, push_id: str) -> str | None:
        """Content digest of a stored push (replay protection), or None."""
        row = self._db.execute("SELECT digest FROM push_receipts WHERE site = ? AND "
                               "push_id = ?", (site, push_id)).fetchone()
        return row[0] if row else None

    def last_push_created_at(self, site: str) -> datetime | None:
        """The site's own creation time of its newest stored push."""
        row = self._db.execute("SELECT max(created_at) FROM push_receipts WHERE site = ?",
                               (site,)).fetchone()
        return _parse(row[0]) if row and row[0] else None

    def record_push(self, site: str, push_id: str, *, outcome: str, since_rev: int,
                    to_rev: int, batches: int, deleted: int, detail: str | None = None,
                    digest: str | None = None, created_at: datetime | None = None) -> None:
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO pushes (push_id, site, received_at, outcome, since_rev, to_rev, "
                    "batches, deleted, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (push_id, site, now, outcome, since_rev, to_rev, batches, deleted, detail))
                if outcome == "stored":
                    self._db.execute(
                        "UPDATE sites SET acknowledged_rev = max(acknowledged_rev, ?), "
                        "last_push_at = ? WHERE code = ?", (to_rev, now, site))
                    if digest is not None:
                        self._db.execute(
                            "INSERT OR IGNORE INTO push_receipts (site, push_id, digest, "
                            "created_at) VALUES (?, ?, ?, ?)",
                            (site, push_id, digest,
                             (created_at or datetime.now(UTC)).astimezone(UTC).isoformat()))
                elif outcome == "refused":
                    self._db.execute(
                        "UPDATE sites SET last_failure_at = ?, last_failure = ?, "
                        "failures = failures + 1 WHERE code = ?", (now, detail, site))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def request_resync(self, site: str) -> int:
        """Make the site's next sync send everything again; returns the revision it had.

        The acknowledged revision goes back to 0 and the site's stored pushes become
        ``superseded`` (kept in the ledger, no longer replay-protected), so re-sent pushes
        are processed, not answered as duplicates. Graphs whose content and alignment are
        unchanged are then left as they are by the inbox; the others are replaced.
        """
        previous = self.site_status(site).acknowledged_rev
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE sites SET acknowledged_rev = 0 WHERE code = ?", (site,))
                self._db.execute("UPDATE pushes SET outcome = 'superseded' WHERE site = ? AND "
                                 "outcome = 'stored'", (site,))
                self._db.execute("DELETE FROM push_receipts WHERE site = ?", (site,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return previous

    def push_history(self, site: str, limit: int = 50) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT push_id, received_at, outcome, since_rev, to_rev, batches, deleted, detail "
            "FROM pushes WHERE site = ? ORDER BY received_at DESC LIMIT ?",
            (site, limit)).fetchall()
        keys = ("push_id", "received_at", "outcome", "since_rev", "to_rev", "batches",
                "deleted", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def _site_status(row: tuple) -> SiteStatus:
    return SiteStatus(code=row[0], name=row[1], active=row[2] is None, acknowledged_rev=row[3],
                      last_push_at=_parse(row[4]), last_failure_at=_parse(row[5]),
                      last_failure=row[6], failures=row[7])
