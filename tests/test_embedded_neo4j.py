"""The embedded Neo4j launcher, for real: JVM, Bolt, the ``neo4j`` driver, crash recovery.

One two-instance launcher is shared by the module (tests run in file order and leave it
running); the daemon and failure tests start their own.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from site_node.neo4j_embedded import (
    STATE_FILE,
    EmbeddedNeo4j,
    LauncherError,
    daemon_status,
    default_launcher_dir,
    ensure_launcher_built,
    launcher_is_built,
    start_daemon,
    stop_daemon,
)

neo4j = pytest.importorskip("neo4j")

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None or shutil.which("mvn") is None,
    reason="the embedded Neo4j launcher needs java (17+) and mvn on PATH",
)

SITES = ("site_a", "site_b")


def run(uri: str, query: str, **params: Any) -> list[dict[str, Any]]:
    """Run one auto-committed query and return its records as dicts."""
    with neo4j.GraphDatabase.driver(uri, auth=None) as driver:
        records, _, _ = driver.execute_query(query, params, database_="neo4j")
    return [record.data() for record in records]


def count_marked(uri: str, marker: str) -> int:
    rows = run(uri, "MATCH (n:Probe {marker: $m}) RETURN count(n) AS c", m=marker)
    return int(rows[0]["c"])


@pytest.fixture(scope="module")
def launcher_dir() -> Path:
    path = default_launcher_dir()
    ensure_launcher_built(path)
    return path


@pytest.fixture(scope="module")
def neo(tmp_path_factory: pytest.TempPathFactory, launcher_dir: Path) -> Iterator[EmbeddedNeo4j]:
    launcher = EmbeddedNeo4j(
        list(SITES), tmp_path_factory.mktemp("neo4j"), launcher_dir, heap="512m"
    )
    launcher.start()
    try:
        yield launcher
    finally:
        launcher.stop()


def test_build_is_cached(launcher_dir: Path) -> None:
    stamp = launcher_dir / "target" / ".twinfed-build-stamp"
    before = stamp.stat().st_mtime_ns
    started = time.monotonic()
    ensure_launcher_built(launcher_dir)
    assert time.monotonic() - started < 2.0
    assert stamp.stat().st_mtime_ns == before
    assert launcher_is_built(launcher_dir)


def test_two_instances_start_and_accept_writes(neo: EmbeddedNeo4j) -> None:
    assert neo.running and neo.pid is not None
    assert set(neo.uris) == set(SITES)
    for name, uri in neo.uris.items():
        assert uri == f"bolt://127.0.0.1:{neo.instances[name]}"
        rows = run(
            uri, "CREATE (n:Probe {marker: $m, site: $s}) RETURN n.site AS site", m="hello", s=name
        )
        assert rows == [{"site": name}]
        assert (neo.home(name) / "data" / "databases" / "neo4j").is_dir()


def test_instances_are_isolated(neo: EmbeddedNeo4j) -> None:
    a, b = (neo.uris[s] for s in SITES)
    run(a, "CREATE (:Probe {marker: 'only-in-a'})")
    assert count_marked(a, "only-in-a") == 1
    assert count_marked(b, "only-in-a") == 0


def test_data_survives_clean_stop_and_restart(neo: EmbeddedNeo4j) -> None:
    uris_before = neo.uris
    run(neo.uris["site_a"], "CREATE (:Probe {marker: 'clean-stop'})")
    run(neo.uris["site_b"], "UNWIND range(1, 100) AS i CREATE (:Probe {marker: 'clean-b', i: i})")

    code = neo.stop()
    assert not neo.running and neo.pid is None and neo.uris == {}
    assert code is not None
    assert sorted(neo.stopped_instances) == sorted(SITES)

    assert neo.start() == uris_before
    assert count_marked(neo.uris["site_a"], "clean-stop") == 1
    assert count_marked(neo.uris["site_b"], "clean-b") == 100
    assert count_marked(neo.uris["site_b"], "clean-stop") == 0


def test_committed_data_survives_sigkill(neo: EmbeddedNeo4j) -> None:
    uri = neo.uris["site_a"]
    with neo4j.GraphDatabase.driver(uri, auth=None) as driver, driver.session() as session:
        session.execute_write(
            lambda tx: tx.run(
                "UNWIND range(1, 50) AS i CREATE (:Probe {marker: 'crash', i: i})"
            ).consume()
        )

    neo.kill()
    assert not neo.running
    assert neo.stopped_instances == []  # no clean shutdown happened

    neo.start()
    assert count_marked(neo.uris["site_a"], "crash") == 50
    assert count_marked(neo.uris["site_a"], "clean-stop") == 1


def test_start_twice_is_refused(neo: EmbeddedNeo4j) -> None:
    with pytest.raises(LauncherError, match="already running"):
        neo.start()


def test_port_in_use_is_reported(tmp_path: Path, launcher_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        launcher = EmbeddedNeo4j({"busy": port}, tmp_path, launcher_dir, heap="256m")
        with pytest.raises(LauncherError) as info:
            launcher.start(timeout=60)
    message = str(info.value)
    assert str(port) in message
    assert "FAILED busy" in message or "busy:" in message
    assert not launcher.running


def test_missing_java_is_reported(tmp_path: Path, launcher_dir: Path) -> None:
    launcher = EmbeddedNeo4j(["x"], tmp_path, launcher_dir, java="no-such-java-17")
    with pytest.raises(LauncherError, match="no-such-java-17"):
        launcher.start()


def test_invalid_instances_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid instance name"):
        EmbeddedNeo4j(["bad name"], tmp_path)
    with pytest.raises(ValueError, match="share a port"):
        EmbeddedNeo4j({"a": 7700, "b": 7700}, tmp_path)
    with pytest.raises(TypeError):
        EmbeddedNeo4j("site_a", tmp_path)
    assert EmbeddedNeo4j(["a", "b"], tmp_path, port_base=7800).instances == {"a": 7800, "b": 7801}


def test_daemon_lifecycle(tmp_path: Path, launcher_dir: Path) -> None:
    data = tmp_path / "daemon"
    assert daemon_status(data) is None
    assert stop_daemon(data) is False

    uris = start_daemon(["solo"], data, None, launcher_dir, heap="512m")
    try:
        state = json.loads((data / STATE_FILE).read_text())
        assert state["instances"] == uris and isinstance(state["pid"], int)
        assert "ALL READY" in (data / "launcher.log").read_text()

        status = daemon_status(data)
        assert status is not None
        assert status["running"] and status["healthy"]
        assert status["instances"]["solo"] == {"uri": uris["solo"], "reachable": True}
        run(uris["solo"], "CREATE (:Probe {marker: 'daemon'})")

        with pytest.raises(LauncherError, match="already running"):
            start_daemon(["solo"], data, None, launcher_dir)
    finally:
        stopped = stop_daemon(data)
    assert stopped is True
    assert not (data / STATE_FILE).exists()
    assert daemon_status(data) is None
    assert "STOPPED solo" in (data / "launcher.log").read_text()


def test_stale_daemon_state_is_detected(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state = {"pid": gone.pid, "instances": {"x": "bolt://127.0.0.1:1"}, "started_at": "then"}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))

    status = daemon_status(tmp_path)
    assert status is not None
    assert status["running"] is False and status["healthy"] is False
    assert status["instances"]["x"]["reachable"] is False
    assert stop_daemon(tmp_path) is False
    assert not (tmp_path / STATE_FILE).exists()
