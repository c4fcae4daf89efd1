"""An append-only, hash-chained audit log (JSON lines, SHA-256 chain).

Each line is one entry: ``n`` (1, 2, ...), ``at``, ``actor``, ``action``, ``subject``,
``details``, ``fields`` (a short digest of each of those five, so ``verify`` can say *which*
field was changed), ``prev`` (the hash of entry ``n-1``; 64 zeros for the first) and
``hash`` (SHA-256 of the canonical JSON of everything else). Changing any byte of an entry
breaks its hash; rewriting an entry *and* its hash breaks the next entry's ``prev``;
deleting or reordering entries breaks the numbering. Cutting entries off the end leaves a
valid shorter chain: the head file (``<log>.head``, the last ``n`` and hash, rewritten after
every append) catches that, and ``verify --expect-head`` checks against a head kept
elsewhere (the only defence against someone who can rewrite both files).

Appends are serialised across threads and processes (``flock`` on ``<log>.lock``) and
fsync'd. A torn last line (the disk filled mid-write) was never acknowledged: the next
append cuts it off and records that it did. Secrets never reach the log: detail keys that
name a token, secret or password, and values that look like twinfed credentials, are
replaced by ``[redacted]`` before hashing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
FIELDS = ("at", "actor", "action", "subject", "details")
_SECRET_KEY = re.compile(r"token|secret|password|authori[sz]ation|credential|api[_-]?key", re.I)
_SECRET_VALUE = re.compile(r"\b(?:site|user)_[A-Za-z0-9_\-]{20,}|Bearer\s+\S+", re.I)
_MAX_TEXT = 4000
_TAIL_BYTES = 65536


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def _digest(value: object) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()


def scrub(value: Any, key: str = "") -> Any:
    """``value`` with secrets replaced and long texts cut (applied before hashing)."""
    if key and _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [scrub(v) for v in items]
    if isinstance(value, str):
        text = _SECRET_VALUE.sub("[redacted]", value)
        return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... [{len(text)} chars]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


def seal(body: dict[str, Any]) -> dict[str, Any]:
    """Add ``fields`` and ``hash`` to an entry body holding n, prev and :data:`FIELDS`."""
    sealed = dict(body)
    sealed["fields"] = {name: _digest(body[name])[:16] for name in FIELDS}
    sealed["hash"] = _digest(sealed)
    return sealed


@dataclass(frozen=True)
class AuditEntry:
    n: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class Problem:
    """One place where the log no longer matches what was written."""

    entry: int
    line: int
    what: str

    def __str__(self) -> str:
        return f"entry {self.entry} (line {self.line}): {self.what}"


@dataclass(frozen=True)
class Verification:
    entries: int
    head: str
    problems: list[Problem]

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditLog:
    """The federation's audit log at ``path`` (created on first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self._lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()

    # -- writing -----------------------------------------------------------------------
    def record(self, actor: str, action: str, subject: str = "",
               details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry and return it (durable when this returns)."""
        with self._locked():
            n, prev = self._tail()
            body = {"n": n + 1, "at": datetime.now(UTC).isoformat(), "actor": scrub(actor),
                    "action": scrub(action), "subject": scrub(subject),
                    "details": scrub(dict(details or {})), "prev": prev}
            entry = seal(body)
            line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self._write_head(entry["n"], entry["hash"])
        return _entry(entry)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _tail(self) -> tuple[int, str]:
        """Number and hash of the last whole entry; cuts off (and records) a torn line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        with self.path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
            torn = b""
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                torn = tail[cut + 1:]
                handle.truncate(size - len(torn))
                handle.flush()
                os.fsync(handle.fileno())
                tail = tail[:cut + 1]
        lines = tail.splitlines()
        if lines:
            last = json.loads(lines[-1])
            n, prev = int(last["n"]), str(last["hash"])
        elif size - len(torn) > 0:  # one last line longer than the window: read it all
            last = json.loads(self.path.read_bytes().splitlines()[-1])
            n, prev = int(last["n"]), str(last["hash"])
        else:
            n, prev = 0, GENESIS
        if torn:
            repair = seal({"n": n + 1, "at": datetime.now(UTC).isoformat(),
                           "actor": "federation", "action": "audit.torn-write-cut",
                           "subject": str(self.path.name),
                           "details": {"bytes_cut": len(torn)}, "prev": prev})
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(repair, sort_keys=True, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            n, prev = repair["n"], repair["hash"]
        return n, prev

    def _write_head(self, n: int, digest: str) -> None:
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")
        temporary.write_text(json.dumps({"n": n, "hash": digest}) + "\n", encoding="utf-8")
        os.replace(temporary, self.head_path)

    # -- reading -----------------------------------------------------------------------
    def entries(self, *, action: str | None = None, actor: str | None = None,
                subject: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Entries (oldest first) matching the filters; ``limit`` keeps the newest."""
        if not self.path.exists():
            return []
        found = []
        with self.path.open(encoding="utf-8") as handle:
            for raw in handle:
                try:
                    entry = _entry(json.loads(raw))
                except (ValueError, KeyError, TypeError):
                    continue
                if ((action is None or entry.action == action
                     or entry.action.startswith(action + "."))
                        and (actor is None or entry.actor == actor)
                        and (subject is None or entry.subject == subject)):
                    found.append(entry)
        return found[-limit:] if limit else found

    def verify(self, expect_head: str | None = None) -> Verification:
        """Check every entry, link and number; say where the log was altered."""
        problems: list[Problem] = []
        prev, expected_n, count = GENESIS, 1, 0
        lines = self.path.read_bytes().split(b"\n") if self.path.exists() else []
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            problems.append(Problem(expected_n + len(lines) - 1, len(lines),
                                    "the last line is torn (not newline-terminated): a "
                                    "write that never completed"))
        for number, raw in enumerate(lines, start=1):
            try:
                entry = json.loads(raw)
                body = {k: entry[k] for k in ("n", "prev", *FIELDS)}
                stored_hash, stored_fields = entry["hash"], entry["fields"]
            except (ValueError, KeyError, TypeError):
                problems.append(Problem(expected_n, number, "not a readable audit entry "
                                        "(the line was edited or corrupted)"))
                expected_n += 1
                continue
            n = body["n"]
            if n != expected_n:
                what = (f"numbered {n}, expected {expected_n}: "
                        + (f"{n - expected_n} entr{'y' if n - expected_n == 1 else 'ies'} "
                           f"before it missing" if isinstance(n, int) and n > expected_n
                           else "entries were reordered, duplicated or renumbered"))
                problems.append(Problem(expected_n, number, what))
            resealed = seal(body)
            changed = [name for name in FIELDS
                       if stored_fields.get(name) != resealed["fields"][name]]
            if resealed["hash"] != stored_hash or changed:
                detail = (f"field{'s' if len(changed) > 1 else ''} {', '.join(changed)} "
                          "changed after it was written" if changed
                          else "its hash or field digests were edited")
                problems.append(Problem(n, number, f"content does not match its hash: {detail}"
                                        f" (recorded {str(stored_hash)[:12]}..., content "
                                        f"gives {resealed['hash'][:12]}...)"))
            if body["prev"] != prev:
                problems.append(Problem(n, number, "its link to the previous entry is broken "
                                        f"(prev {str(body['prev'])[:12]}... but entry "
                                        f"{expected_n - 1} hashes to {prev[:12]}...): an "
                                        "earlier entry was rewritten, removed or inserted"))
            prev = str(stored_hash)
            expected_n = (n if isinstance(n, int) else expected_n) + 1
            count += 1
        head = self._read_head()
        if head is not None and not problems:
            if head["n"] > count:
                problems.append(Problem(count + 1, len(lines) + 1,
                                        f"the head file records {head['n']} entries but the "
                                        f"log holds {count}: entries were cut off the end"))
            elif head["n"] == count and head["hash"] != prev:
                problems.append(Problem(count, len(lines), "the last entry's hash differs "
                                        "from the one in the head file"))
        if expect_head is not None and expect_head != prev:
            problems.append(Problem(count, len(lines), f"the log ends in {prev[:12]}..., not "
                                    f"in the expected head {expect_head[:12]}..."))
        return Verification(entries=count, head=prev, problems=problems)

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            return {"n": int(head["n"]), "hash": str(head["hash"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _entry(raw: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(n=int(raw["n"]), at=str(raw["at"]), actor=str(raw["actor"]),
                      action=str(raw["action"]), subject=str(raw["subject"]),
                      details=dict(raw["details"]), prev=str(raw["prev"]),
                      hash=str(raw["hash"]))
