"""Faults with real processes: the federation (``twinfed federation serve``) and a site sync
process are SIGKILLed mid-sync, connections are cut, deliveries duplicated and reordered,
the federation's disk fills up and a site goes offline. After each, the federation must hold
every batch the site has, exactly once, with the site's content hash — and say so.

Restarting a site's Neo4j mid-ingest is covered by ``tests/test_ingest_survives_crash.py``
(SIGKILL of the embedded Neo4j while ``twinfed site ingest`` runs: each batch whole or
absent). The counts (faults injected, items lost, duplicates) are printed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

import site_node.sync.client as sync_client
from bioprocess.errors import StoreUnavailableError, TwinfedError
from federation.api.app import create_app
from federation.audit import audit_log_in
from federation.config import FederationSettings
from site_node.export.service import export_site
from site_node.ingest.service import ingest_bundle
from site_node.sync.client import FederationClient, build_pushes, sync_site
from tests.conftest import clean_database
from twinfed.serving import serve

ADMIN = "admin-token-for-fault-tests"
TF = "https://w3id.org/twinfed/ontology#"
SITES = {"SITE-A": "site_a", "SITE-B": "site_b", "SITE-C": "site_c"}
COUNTS = {"faults_injected": 0, "items_checked": 0, "items_lost": 0, "items_duplicated": 0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FederationProcess:
    """``twinfed federation serve`` in its own process (optionally in a private mount
    namespace whose data directory is a small tmpfs)."""

    def __init__(self, data: Path, *, tmpfs_mb: int | None = None,
                 stale_after_h: float = 24) -> None:
        self.data, self.tmpfs_mb = data, tmpfs_mb
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TWINFED_FED_ADMIN_TOKEN": ADMIN,
                    "TWINFED_FED_STALE_AFTER_H": str(stale_after_h)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FederationProcess:
        serve_cmd = [sys.executable, "-c", "from twinfed.cli import main; main()",
                     "federation", "serve", "--data", str(self.data), "--port", str(self.port)]
        if self.tmpfs_mb:
            self.data.mkdir(parents=True, exist_ok=True)
            script = (f"mount -t tmpfs -o size={self.tmpfs_mb}m tmpfs '{self.data}' && "
                      'exec "$@"')
            serve_cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                         "sh", *serve_cmd]
        self.process = subprocess.Popen(serve_cmd, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the federation exited: "
                                   + self.process.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the federation did not start within 180 s")

    @property
    def root(self) -> Path:
        """The data directory as this process sees it (its own mount namespace)."""
        assert self.process is not None
        return Path(f"/proc/{self.process.pid}/root") / str(self.data).lstrip("/") \
            if self.tmpfs_mb else self.data

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        COUNTS["faults_injected"] += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN}"},
                            timeout=120)


def _site_batches(driver: Driver) -> dict[str, str]:
    records, _, _ = driver.execute_query(
        "MATCH (b:Batch) RETURN b.batch_id AS id, b.content_hash AS hash")
    return {r["id"]: r["hash"] for r in records}


def _site_rev(driver: Driver) -> int:
    return driver.execute_query("MATCH (s:Site) RETURN s.rev AS rev")[0][0]["rev"]


def _federation_batches(admin: httpx.Client, site: str) -> dict[str, list[str]]:
    query = (f"SELECT ?id ?hash WHERE {{ GRAPH ?g {{ ?b <{TF}batchId> ?id ; "
             f"<{TF}contentHash> ?hash }} FILTER(STRSTARTS(STR(?g), "
             f"\"https://w3id.org/twinfed/site/{site}/batch/\")) }}")
    response = admin.get("/sparql", params={"query": query},
                         headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    found: dict[str, list[str]] = {}
    for row in response.json()["results"]["bindings"]:
        found.setdefault(row["id"]["value"], []).append(row["hash"]["value"])
    return found


def _assert_complete(admin: httpx.Client, site: str, driver: Driver) -> None:
    """Every site batch at the federation once, with the site's hash; ack = site rev."""
    expected = _site_batches(driver)
    held = _federation_batches(admin, site)
    lost = [b for b, h in expected.items() if held.get(b) != [h]]
    duplicated = [b for b, hashes in held.items() if len(hashes) > 1]
    COUNTS["items_checked"] += len(expected)
    COUNTS["items_lost"] += len([b for b in lost if b not in duplicated])
    COUNTS["items_duplicated"] += len(duplicated)
    assert not lost and not duplicated, f"lost {lost}, duplicated {duplicated}"
    assert set(held) == set(expected), f"unexpected batches {set(held) - set(expected)}"
    state = admin.get(f"/sync/{site}/state").json()
    assert state["acknowledged_rev"] == _site_rev(driver) and state["batches"] == len(expected)


@pytest.fixture(scope="module")
def sites(_drivers: dict[str, Driver], campaign_dir: Path) -> dict[str, Driver]:
    for site, db in SITES.items():
        driver = _drivers[db]
        clean_database(driver)
        for bundle in sorted(campaign_dir.glob(f"{site}*")):
            assert ingest_bundle(driver, bundle, site_code=site, max_file_bytes=2**30).ok
    return {site: _drivers[db] for site, db in SITES.items()}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FederationProcess]:
    process = FederationProcess(tmp_path_factory.mktemp("fault-fed") / "data",
                                stale_after_h=0.0015).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def tokens(federation: FederationProcess) -> dict[str, str]:
    with federation.admin() as admin:
        return {site: admin.post("/sites", json={"code": site}).json()["token"]
                for site in SITES}


def _acknowledged(federation: FederationProcess, site: str) -> int:
    try:
        with federation.admin() as admin:
            return admin.get(f"/sync/{site}/state", timeout=5).json()["acknowledged_rev"]
    except (httpx.TransportError, ValueError, KeyError):
        return -1


def _wait_for_first_ack(federation: FederationProcess, site: str, busy: object) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and busy():  # type: ignore[operator]
        rev = _acknowledged(federation, site)
        if rev > 0:
            return rev
        time.sleep(0.05)
    raise AssertionError(f"no push of {site} was acknowledged while the sync ran")


def _sync(federation: FederationProcess, token: str, driver: Driver, site: str,
          **kwargs: object) -> sync_client.SyncResult:
    client = FederationClient(federation.url, token)
    try:
        return sync_site(driver, client, site_code=site, api_base="http://site.example",
                         software_version="t", **kwargs)  # type: ignore[arg-type]
    finally:
        client.close()


def test_sigkill_of_the_federation_mid_sync_then_sync_resumes(
        federation: FederationProcess, tokens: dict[str, str], sites: dict[str, Driver],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "BATCHES_PER_PUSH", 1)  # six pushes: room to land a kill
    driver, outcome = sites["SITE-A"], {}

    def run() -> None:
        try:
            outcome["result"] = _sync(federation, tokens["SITE-A"], driver, "SITE-A",
                                      retries=0)
        except TwinfedError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    acknowledged = _wait_for_first_ack(federation, "SITE-A", worker.is_alive)
    federation.kill()
    worker.join(timeout=120)
    assert isinstance(outcome.get("error"), StoreUnavailableError), outcome
    assert 0 < acknowledged < _site_rev(driver), "the kill did not land mid-sync"
    federation.start()
    resumed = _sync(federation, tokens["SITE-A"], driver, "SITE-A")
    assert resumed.pushes and resumed.acknowledged_rev == _site_rev(driver)
    with federation.admin() as admin:
        _assert_complete(admin, "SITE-A", driver)


_SITE_PROCESS = """
import sys
from neo4j import GraphDatabase
import site_node.sync.client as c
c.BATCHES_PER_PUSH = 1
url, token, uri, site = sys.argv[1:5]
with GraphDatabase.driver(uri) as driver:
    client = c.FederationClient(url, token)
    c.sync_site(driver, client, site_code=site, api_base="http://site.example",
                software_version="t")
"""


def test_sigkill_of_a_site_mid_push_then_its_next_sync_completes(
        federation: FederationProcess, tokens: dict[str, str], sites: dict[str, Driver],
        neo4j_uris: dict[str, str]) -> None:
    driver = sites["SITE-B"]
    process = subprocess.Popen([sys.executable, "-c", _SITE_PROCESS, federation.url,
                                tokens["SITE-B"], neo4j_uris["site_b"], "SITE-B"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        acknowledged = _wait_for_first_ack(federation, "SITE-B", lambda: process.poll() is None)
        process.send_signal(signal.SIGKILL)
        COUNTS["faults_injected"] += 1
    finally:
        process.kill()
        process.wait(timeout=30)
    assert 0 < acknowledged < _site_rev(driver), "the kill did not land mid-sync"
    assert _sync(federation, tokens["SITE-B"], driver, "SITE-B").pushes
    with federation.admin() as admin:
        _assert_complete(admin, "SITE-B", driver)


class CuttingProxy:
    """A TCP proxy that cuts the first connections: halfway through the request, or after
    forwarding the whole request but before any of the response (the push is stored, the
    site never hears so)."""

    def __init__(self, upstream_port: int, plan: list[str]) -> None:
        self.upstream_port, self.plan = upstream_port, list(plan)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            mode = self.plan.pop(0) if self.plan else "pass"
            threading.Thread(target=self._serve, args=(downstream, mode), daemon=True).start()

    def _serve(self, downstream: socket.socket, mode: str) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        if mode == "pass":
            threading.Thread(target=_pump, args=(upstream, downstream), daemon=True).start()
            _pump(downstream, upstream)
            return
        request = _read_request(downstream)
        if mode == "cut-request":
            upstream.sendall(request[:len(request) // 2])
        else:  # cut-response: the federation gets everything, the site gets nothing
            upstream.sendall(request)
            upstream.recv(1)  # the federation has answered, so it has acted
        self.cuts += 1
        COUNTS["faults_injected"] += 1
        for sock in (downstream, upstream):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_dropped_connections_are_retried_without_loss_or_duplicates(
        federation: FederationProcess, tokens: dict[str, str], sites: dict[str, Driver],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "BATCHES_PER_PUSH", 3)
    monkeypatch.setattr(sync_client.time, "sleep", lambda s: None)  # retry at once
    driver = sites["SITE-C"]
    # connection 1 is the state call; 2 and 3 carry the first push, 4 its retry; ...
    proxy = CuttingProxy(federation.port, ["pass", "cut-request", "cut-response", "pass",
                                           "cut-response", "pass"])
    # one connection per request, so the proxy's plan applies request by request
    client = FederationClient(proxy.url, tokens["SITE-C"], transport=httpx.HTTPTransport(
        limits=httpx.Limits(max_keepalive_connections=0)))
    try:
        result = sync_site(driver, client, site_code="SITE-C", api_base="http://site.example",
                           software_version="t", retries=3)
    finally:
        client.close()
        proxy.close()
    assert proxy.cuts == 3
    assert result.acknowledged_rev == _site_rev(driver)
    assert "duplicate" in {ack.outcome for ack in result.pushes}  # a stored push, retried
    with federation.admin() as admin:
        _assert_complete(admin, "SITE-C", driver)


def test_duplicate_and_reordered_deliveries_lose_and_duplicate_nothing(
        tmp_path: Path, sites: dict[str, Driver], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_client, "BATCHES_PER_PUSH", 2)
    driver = sites["SITE-A"]
    export = export_site(driver, site_code="SITE-A", api_base="http://site.example",
                         software_version="t")
    first, second, third = build_pushes(export, "SITE-A", 0, "t")
    settings = FederationSettings(data=tmp_path, admin_token=ADMIN)
    with serve(create_app(settings)) as url, httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120) as admin:
        token = admin.post("/sites", json={"code": "SITE-A"}).json()["token"]
        site = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                            timeout=120)

        def deliver(push: object) -> tuple[int, str]:
            COUNTS["faults_injected"] += 1
            response = site.post("/sync/SITE-A/pushes",
                                 content=push.model_dump_json(),  # type: ignore[attr-defined]
                                 headers={"Content-Type": "application/json"})
            body = response.json()
            return response.status_code, body.get("outcome") or body.get("detail", "")

        order = [second, first, first, third, second, first, third, third]
        outcomes = [deliver(p) for p in order]
        assert [code for code, _ in outcomes] == [409, 200, 200, 409, 200, 200, 200, 200]
        assert "acknowledged only revision 0" in outcomes[0][1]
        assert [o for c, o in outcomes if c == 200] == [
            "stored", "duplicate", "stored", "duplicate", "stored", "duplicate"]
        # the same push id with other content is refused, not silently applied
        forged = third.model_copy(update={"deleted_batches": [first.batches[0].batch_id]})
        code, detail = deliver(forged)
        assert code == 409 and "already used" in detail
        _assert_complete(admin, "SITE-A", driver)
        stored = [h for h in admin.get("/sites/SITE-A/pushes").json()
                  if h["outcome"] == "stored"]
        assert len(stored) == 3
        site.close()
    entries = audit_log_in(tmp_path).entries()
    outcomes = [e.details["outcome"] for e in entries if e.action == "sync.push"]
    assert outcomes.count("stored") == 3 and outcomes.count("duplicate") == 3
    assert outcomes.count("refused-out-of-order") == 2 and "refused-reused-id" in outcomes
    assert len([e for e in entries if e.action == "alignment.change"]) == 1  # first alignment
    assert audit_log_in(tmp_path).verify().intact


def test_a_full_disk_at_the_federation_refuses_cleanly_and_sync_resumes(
        tmp_path: Path, sites: dict[str, Driver]) -> None:
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs '{tmp_path}'"],
            capture_output=True).returncode != 0:
        pytest.skip("no private tmpfs possible here (unshare --mount + mount tmpfs refused)")
    driver = sites["SITE-B"]
    federation = FederationProcess(tmp_path / "data", tmpfs_mb=48).start()
    try:
        with federation.admin() as admin:
            token = admin.post("/sites", json={"code": "SITE-B"}).json()["token"]
            filler = federation.root / "filler"
            with filler.open("wb") as handle:  # fill the federation's disk to the last byte
                try:
                    while True:
                        handle.write(b"\0" * 1048576)
                        handle.flush()
                except OSError:
                    pass
            COUNTS["faults_injected"] += 1
            client = FederationClient(federation.url, token)
            try:
                with pytest.raises(TwinfedError) as refused:
                    sync_site(driver, client, site_code="SITE-B", api_base="http://x",
                              software_version="t", retries=0)
            finally:
                client.close()
            message = str(refused.value)
            assert "(507)" in message or "(503)" in message, message
            assert "Traceback" not in message
            state = admin.get("/sync/SITE-B/state")  # reads keep working on a full disk
            assert state.status_code == 200 and state.json()["acknowledged_rev"] == 0
            assert admin.get("/sites").status_code == 200
            filler.unlink()
            try:  # the same store, once space is back
                _sync(federation, token, driver, "SITE-B")
            except TwinfedError:  # RocksDB stays read-only after ENOSPC until reopened
                federation.stop()
                pytest.fail("sync did not resume after the disk was freed")
            _assert_complete(admin, "SITE-B", driver)
    finally:
        federation.stop()


def test_an_offline_site_is_marked_stale_while_the_federation_keeps_answering(
        federation: FederationProcess, tokens: dict[str, str], sites: dict[str, Driver],
        capsys: pytest.CaptureFixture[str]) -> None:
    with federation.admin() as admin:
        before = {s["code"]: s for s in admin.get("/sites").json()}
        time.sleep(0.0015 * 3600 + 0.5)  # no site syncs: each passes the stale threshold
        sites_now = {s["code"]: s for s in admin.get("/sites").json()}
        held = _federation_batches(admin, "SITE-A")  # SITE-A's node is gone; its data is not
        answer = admin.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert answer.status_code == 200
    assert set(answer.headers["x-twinfed-stale-sites"].split(",")) == set(SITES)
    assert before["SITE-A"]["last_sync"] is not None
    for site in SITES:
        status = sites_now[site]
        assert status["stale"] is True and status["lag_hours"] > 0.0015
        assert status["last_sync"] == before[site]["last_sync"]
    assert set(held) == set(_site_batches(sites["SITE-A"]))
    with capsys.disabled():
        print(f"\nfaults: injected {COUNTS['faults_injected']}, items checked "
              f"{COUNTS['items_checked']}, items lost {COUNTS['items_lost']}, duplicated "
              f"{COUNTS['items_duplicated']}")
    assert COUNTS["items_lost"] == 0 and COUNTS["items_duplicated"] == 0
