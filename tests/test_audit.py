"""The audit log: chained, concurrent-safe, says where it was altered, keeps no secrets."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from federation.audit import AuditLog


def _write(path: str, worker: int) -> None:
    log = AuditLog(Path(path))
    for i in range(25):
        log.record(f"worker-{worker}", "test.append", str(i), {"i": i})


def test_appends_from_threads_and_processes_form_one_intact_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write, args=(str(path), w)) for w in range(3)]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: _write(str(path), w), range(10, 14)))
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    result = AuditLog(path).verify()
    assert result.intact, result.problems
    assert result.entries == 7 * 25
    assert [e.n for e in AuditLog(path).entries()] == list(range(1, 176))


def test_every_kind_of_alteration_is_located(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(6):
        log.record("alice", "sync.push", "SITE-A", {"batches": i})
    lines = log.path.read_text().splitlines()

    def verify_with(changed: list[str]) -> list[str]:
        log.path.write_text("\n".join(changed) + "\n")
        return [str(p) for p in log.verify().problems]

    edited = json.loads(lines[2])
    edited["details"]["batches"] = 99
    [problem] = verify_with([*lines[:2], json.dumps(edited), *lines[3:]])
    assert "entry 3 (line 3): content does not match its hash: field details changed" in problem
    # rewriting an entry *with* a fresh hash breaks the next entry's link
    from federation.audit.log import FIELDS, seal

    resealed = seal({k: edited[k] for k in ("n", "prev", *FIELDS)})
    problems = verify_with([*lines[:2], json.dumps(resealed), *lines[3:]])
    assert len(problems) == 1 and problems[0].startswith("entry 4 (line 4): its link")
    swapped = verify_with([lines[0], lines[2], lines[1], *lines[3:]])
    assert any("numbered 3, expected 2" in p for p in swapped)
    assert any("not a readable audit entry" in p
               for p in verify_with([*lines[:4], "{oops", *lines[5:]]))
    assert verify_with(lines) == []


def test_a_torn_last_line_is_cut_and_recorded_on_the_next_append(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("alice", "a.b", "x")
    with log.path.open("a") as handle:
        handle.write('{"n": 2, "act')  # the disk filled mid-write
    assert "torn" in str(log.verify().problems[0])
    log.record("bob", "c.d", "y")
    entries = log.entries()
    assert [e.action for e in entries] == ["a.b", "audit.torn-write-cut", "c.d"]
    assert log.verify().intact


def test_secrets_never_reach_the_log(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    secret = "site_" + "k" * 43
    log.record("admin", "site.register", "SITE-A",
               {"token": "anything", "note": f"issued {secret}", "auth": "Bearer abc.def",
                "nested": [{"password": "p"}]})
    text = log.path.read_text()
    assert secret not in text and "abc.def" not in text and '"p"' not in text
    assert log.entries()[0].details["token"] == "[redacted]"


def test_a_dashboard_login_is_recorded_without_its_token(tmp_path: Path) -> None:
    import httpx

    from federation.api.app import create_app
    from federation.config import FederationSettings
    from twinfed.serving import serve

    admin = {"Authorization": "Bearer adm"}
    with serve(create_app(FederationSettings(data=tmp_path, admin_token="adm"))) as url:
        token = httpx.post(f"{url}/users", headers=admin, timeout=30, json={
            "name": "qa-jane", "roles": ["quality"], "sponsors": ["SP-ACME"]}).json()["token"]
        refused = httpx.post(f"{url}/ui/login", data={"token": "wrong"}, timeout=30)
        logged_in = httpx.post(f"{url}/ui/login", data={"token": token}, timeout=30)
        entries = httpx.get(f"{url}/audit", params={"action": "auth.login"}, headers=admin,
                            timeout=30).json()
    assert refused.status_code == 401 and logged_in.status_code == 303
    assert [(e["actor"], e["subject"]) for e in entries] == [("qa-jane", "dashboard")]
    assert token not in json.dumps(entries)
