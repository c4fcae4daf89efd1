"""Run real Neo4j Community DBMS instances without Docker: the embedded launcher.

``deploy/neo4j/`` is a small Maven project whose ``twinfed.neo4j.Launcher`` starts one or more
independent Neo4j Community DBMS instances (embedded) inside one JVM, each with its own home
directory and a Bolt connector on ``127.0.0.1`` (auth off, HTTP off, small page cache). This
module builds it (once, cached), starts and stops it, and tracks a detached "daemon" launcher
for the CLI.

Launcher protocol (stdout, one line each): ``READY <name> <bolt-uri>`` per instance, then
``ALL READY``; ``FAILED <name> <reason>`` when an instance cannot start (the JVM then exits
non-zero); ``STOPPED <name>`` per instance on a clean shutdown (SIGTERM/SIGINT).

Two ways to run it:

* :class:`EmbeddedNeo4j` - owned by this process (tests, fixtures, ``run``). The JVM runs in
  its own process group, and exits by itself if this process dies (it watches its stdin).
* :func:`start_daemon` / :func:`stop_daemon` / :func:`daemon_status` - detached, survives the
  calling process; state in ``DATA_DIR/launcher.json``, output in ``DATA_DIR/launcher.log``.

Only the standard library and the ``neo4j`` driver (for health checks) are used. Functions take
the launcher directory as a parameter; the ``TWINFED_NEO4J_LAUNCHER_DIR`` environment variable
is read only by :func:`default_launcher_dir`, meant for the CLI and test fixtures.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from bioprocess.errors import StoreUnavailableError

__all__ = [
    "DEFAULT_HEAP",
    "DEFAULT_PAGE_CACHE",
    "ENV_LAUNCHER_DIR",
    "LAUNCHER_DIR",
    "LAUNCHER_MAIN_CLASS",
    "EmbeddedNeo4j",
    "LauncherError",
    "bolt_reachable",
    "daemon_status",
    "default_launcher_dir",
    "ensure_launcher_built",
    "free_port",
    "free_ports",
    "launcher_command",
    "launcher_is_built",
    "start_daemon",
    "stop_daemon",
]

LAUNCHER_DIR: Path = Path(__file__).resolve().parents[1] / "deploy" / "neo4j"
"""The launcher's Maven project in this repository."""

ENV_LAUNCHER_DIR = "TWINFED_NEO4J_LAUNCHER_DIR"
"""Environment variable overriding :data:`LAUNCHER_DIR` (read by the CLI/fixtures only)."""

LAUNCHER_MAIN_CLASS = "twinfed.neo4j.Launcher"
DEFAULT_HEAP = "1g"
DEFAULT_PAGE_CACHE = "64m"
STATE_FILE = "launcher.json"
LOG_FILE = "launcher.log"

_HOST = "127.0.0.1"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_SIZE_RE = re.compile(r"(\d+)([kKmMgG]?)")
_STAMP = ".twinfed-build-stamp"
_BUILD_LOCK = ".twinfed-build.lock"
_OUTPUT_LINES = 200
_TAIL_LINES = 25

# Flags the Neo4j server scripts also pass on Java 17+ (Netty/unsafe access), plus a modest,
# predictable memory profile: SerialGC suits a small dev/test JVM on a 2-core machine.
_JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)


class LauncherError(StoreUnavailableError):
    """The embedded Neo4j launcher could not be built, started, or stopped.

    The message says what went wrong and what to do, and ends with the last lines of the
    Maven or JVM output when there are any.
    """


# --------------------------------------------------------------------------------------------
# small helpers


def default_launcher_dir() -> Path:
    """:data:`LAUNCHER_DIR`, or ``$TWINFED_NEO4J_LAUNCHER_DIR`` if set (CLI/fixtures only)."""
    override = os.environ.get(ENV_LAUNCHER_DIR)
    return Path(override).expanduser().resolve() if override else LAUNCHER_DIR


def free_port(host: str = _HOST) -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = _HOST) -> list[int]:
    """``count`` distinct TCP ports on ``host`` that are free right now."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def bolt_reachable(uri: str, timeout: float = 5.0) -> bool:
    """True if a Bolt server answers at ``uri`` (no auth), checked with the ``neo4j`` driver."""
    from neo4j import GraphDatabase  # lazy: building/starting does not need the driver

    try:
        with GraphDatabase.driver(
            uri, auth=None, connection_timeout=timeout, max_connection_pool_size=1
        ) as driver:
            driver.verify_connectivity()
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True


def _tail(lines: Sequence[str] | str, n: int = _TAIL_LINES) -> str:
    if isinstance(lines, str):
        lines = lines.splitlines()
    cleaned = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in lines]
    cleaned = [line for line in cleaned if line]
    if not cleaned:
        return ""
    return "\n  | " + "\n  | ".join(cleaned[-n:])


def _parse_size(size: str) -> int:
    match = _SIZE_RE.fullmatch(size.strip())
    if not match:
        raise ValueError(f"invalid size {size!r}; use e.g. '512m' or '1g'")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    return int(match.group(1)) * mult


def _check_names(names: Sequence[str]) -> None:
    for name in names:
        if not _NAME_RE.fullmatch(name):
            raise ValueError(
                f"invalid instance name {name!r}: use letters, digits, '_', '.', '-' "
                "(first a letter or digit, at most 63 characters)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate instance names in {list(names)}")


def _resolve_instances(
    instances: Mapping[str, int] | Sequence[str], port_base: int | None
) -> dict[str, int]:
    """Name -> port, from an explicit mapping or from names plus ``port_base`` (or free ports)."""
    if isinstance(instances, str):
        raise TypeError("instances must be a mapping name -> port or a list of names, not a str")
    if isinstance(instances, Mapping):
        resolved = {str(k): int(v) for k, v in instances.items()}
    else:
        names = [str(n) for n in instances]
        ports = (
            free_ports(len(names))
            if port_base is None
            else [port_base + i for i in range(len(names))]
        )
        resolved = dict(zip(names, ports, strict=True))
    if not resolved:
        raise ValueError("at least one instance is required")
    _check_names(list(resolved))
    for name, port in resolved.items():
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} of instance {name!r} is out of range")
    if len(set(resolved.values())) != len(resolved):
        raise ValueError(f"instances share a port: {resolved}")
    return resolved


# --------------------------------------------------------------------------------------------
# building


def _build_inputs(launcher_dir: Path) -> Iterator[Path]:
    yield launcher_dir / "pom.xml"
    src = launcher_dir / "src"
    if src.is_dir():
        for path in src.rglob("*"):
            if path.is_file():
                yield path


def launcher_is_built(launcher_dir: Path) -> bool:
    """True if ``target/`` holds a complete build newer than ``pom.xml`` and every source."""
    target = launcher_dir / "target"
    stamp = target / _STAMP
    lib = target / "lib"
    main_class = target / "classes" / Path(*LAUNCHER_MAIN_CLASS.split(".")).with_suffix(".class")
    if not (stamp.is_file() and main_class.is_file() and lib.is_dir()):
        return False
    if not any(lib.glob("neo4j-*.jar")):
        return False
    built = stamp.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in _build_inputs(launcher_dir))


def ensure_launcher_built(
    launcher_dir: Path,
    *,
    quiet: bool = True,
    mvn: str = "mvn",
    timeout: float = 1800.0,
) -> None:
    """Build the launcher with ``mvn -q -B package -DskipTests`` unless the build is current.

    Current means ``target/`` has a successful build (stamp file written here) that is newer
    than ``pom.xml`` and every file under ``src/``. Concurrent callers are serialised with a
    file lock. With ``quiet=False`` Maven's output is echoed to stderr as it runs.

    Raises:
        LauncherError: Maven is not installed, fails, or times out (with its last lines).
    """
    launcher_dir = Path(launcher_dir)
    if not (launcher_dir / "pom.xml").is_file():
        raise LauncherError(
            f"no launcher project at {launcher_dir} (pom.xml missing); pass the path of "
            f"deploy/neo4j or set {ENV_LAUNCHER_DIR}"
        )
    if launcher_is_built(launcher_dir):
        return
    mvn_path = shutil.which(mvn)
    if mvn_path is None:
        raise LauncherError(
            f"Maven ({mvn!r}) is not on PATH, and the embedded Neo4j launcher in {launcher_dir} "
            "is not built yet; install Maven 3.8+ and a JDK 17+ (Debian: apt-get install maven "
            "openjdk-17-jdk-headless), or set NEO4J_URI to use an existing Neo4j"
        )
    target = launcher_dir / "target"
    target.mkdir(exist_ok=True)
    import fcntl  # POSIX only, like the rest of the process handling here

    with open(target / _BUILD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if launcher_is_built(launcher_dir):  # somebody else built it while we waited
            return
        (target / _STAMP).unlink(missing_ok=True)
        cmd = [mvn_path, "-B", "package", "-DskipTests"]
        if quiet:
            cmd.insert(1, "-q")
        lines = _run_maven(cmd, launcher_dir, echo=not quiet, timeout=timeout)
        (target / _STAMP).write_text(
            datetime.now(UTC).isoformat(timespec="seconds") + "\n", encoding="utf-8"
        )
        if not launcher_is_built(launcher_dir):
            raise LauncherError(
                f"Maven finished but {target} is incomplete (no launcher classes or no "
                f"lib/neo4j-*.jar); run `mvn -B package -DskipTests` in {launcher_dir}"
                + _tail(lines)
            )


def _run_maven(cmd: list[str], cwd: Path, *, echo: bool, timeout: float) -> list[str]:
    output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise LauncherError(f"cannot run Maven ({cmd[0]}): {exc}") from exc

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if echo:
                sys.stderr.write(line)
                sys.stderr.flush()

    reader = threading.Thread(target=pump, name="twinfed-mvn-output", daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        reader.join(5)
        raise LauncherError(
            f"Maven build of the Neo4j launcher in {cwd} did not finish within {timeout:.0f}s "
            "(first builds download ~120 MB into ~/.m2)" + _tail(list(output))
        ) from exc
    reader.join(10)
    if code != 0:
        raise LauncherError(
            f"Maven build of the Neo4j launcher failed (exit {code}): {' '.join(cmd)} in {cwd}; "
            "check network access to Maven Central and that JDK 17+ is the active java"
            + _tail(list(output))
        )
    return list(output)


# --------------------------------------------------------------------------------------------
# command line of the JVM


def _java_path(java: str) -> str:
    found = shutil.which(java)
    if found is None:
        raise LauncherError(
            f"Java ({java!r}) not found; the embedded Neo4j launcher needs Java 17+ "
            "(Debian: apt-get install openjdk-17-jre-headless), or set NEO4J_URI to use an "
            "existing Neo4j"
        )
    return found


def launcher_command(
    instances: Mapping[str, int],
    data_dir: Path,
    launcher_dir: Path,
    *,
    java: str = "java",
    heap: str = DEFAULT_HEAP,
    page_cache: str = DEFAULT_PAGE_CACHE,
    exit_on_stdin_eof: bool = False,
    fast_start: bool = True,
    jvm_args: Sequence[str] = (),
) -> list[str]:
    """The ``java ... twinfed.neo4j.Launcher ...`` command line for ``instances``.

    ``fast_start`` limits the JIT to C1 (``-XX:TieredStopAtLevel=1``): on a small machine the
    JVM is ready sooner and uses less memory, at the cost of peak Cypher throughput; turn it
    off for benchmarks. ``jvm_args`` come after the defaults, so they can override them.
    """
    heap_bytes = _parse_size(heap)
    _parse_size(page_cache)
    initial = "256m" if heap_bytes >= 256 << 20 else heap
    target = Path(launcher_dir).resolve() / "target"
    classpath = os.pathsep.join([str(target / "classes"), str(target / "lib" / "*")])
    cmd = [java, f"-Xms{initial}", f"-Xmx{heap}", *_JVM_FLAGS]
    if fast_start:
        cmd.append("-XX:TieredStopAtLevel=1")
    cmd += jvm_args
    cmd += ["-cp", classpath, LAUNCHER_MAIN_CLASS, "--data", str(Path(data_dir).resolve())]
    for name, port in instances.items():
        cmd += ["--instance", f"{name}:{port}"]
    cmd += ["--page-cache", page_cache]
    if exit_on_stdin_eof:
        cmd.append("--exit-on-stdin-eof")
    return cmd


class _Protocol:
    """Parses launcher output lines into READY/FAILED/STOPPED state."""

    def __init__(self) -> None:
        self.ready: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.stopped: list[str] = []
        self.all_ready = False
        self.eof = False

    def feed(self, line: str) -> None:
        parts = line.strip().split(" ", 2)
        if parts == ["ALL", "READY"]:
            self.all_ready = True
        elif parts[0] == "READY" and len(parts) == 3:
            self.ready[parts[1]] = parts[2]
        elif parts[0] == "FAILED" and len(parts) >= 2:
            self.failed[parts[1]] = parts[2] if len(parts) == 3 else "(no reason given)"
        elif parts[0] == "STOPPED" and len(parts) >= 2:
            self.stopped.append(parts[1])

    def failure_text(self) -> str:
        return "; ".join(f"{name}: {reason}" for name, reason in self.failed.items())


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (falls back to the process)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------------------------
# the launcher owned by this process


class EmbeddedNeo4j:
    """One launcher JVM hosting independent Neo4j DBMS instances, owned by this process.

    Args:
        instances: ``{name: port}``, or a list of names that get ``port_base + i`` (or free
            ports, picked once here, when ``port_base`` is None).
        data_dir: root data directory; instance ``name`` lives in ``data_dir/name``.
        launcher_dir: the launcher's Maven project (usually :data:`LAUNCHER_DIR`).
        java: the ``java`` executable (17+).
        heap: JVM max heap, e.g. ``"1g"``.
        port_base: first port when ``instances`` is a list of names.
        page_cache: Neo4j page cache per instance, e.g. ``"64m"``.
        build: run :func:`ensure_launcher_built` on :meth:`start`.
        fast_start: C1-only JIT (quicker start, less memory; see :func:`launcher_command`).
        jvm_args: extra JVM options (after the defaults, so they can override them).

    Use as a context manager (``with EmbeddedNeo4j(...) as neo: neo.uris``) or call
    :meth:`start`/:meth:`stop`. It can be restarted after :meth:`stop` or :meth:`kill`; the
    instances keep their data directories and ports.
    """

    def __init__(
        self,
        instances: Mapping[str, int] | Sequence[str],
        data_dir: Path,
        launcher_dir: Path = LAUNCHER_DIR,
        java: str = "java",
        heap: str = DEFAULT_HEAP,
        *,
        port_base: int | None = None,
        page_cache: str = DEFAULT_PAGE_CACHE,
        build: bool = True,
        fast_start: bool = True,
        jvm_args: Sequence[str] = (),
    ) -> None:
        self.instances: dict[str, int] = _resolve_instances(instances, port_base)
        self.data_dir = Path(data_dir)
        self.launcher_dir = Path(launcher_dir)
        self.java = java
        self.heap = heap
        self.page_cache = page_cache
        self.build = build
        self.fast_start = fast_start
        self.jvm_args = tuple(jvm_args)
        _parse_size(heap)
        _parse_size(page_cache)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._changed = threading.Event()
        self._output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
        self._protocol = _Protocol()
        self._uris: dict[str, str] = {}

    # -- properties ----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the launcher JVM while it runs, else None."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the launcher JVM process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def uris(self) -> dict[str, str]:
        """Bolt URI per instance name (empty until :meth:`start` succeeded)."""
        return dict(self._uris)

    @property
    def output(self) -> list[str]:
        """The last lines the JVM printed (stdout and stderr), oldest first."""
        return list(self._output)

    @property
    def stopped_instances(self) -> list[str]:
        """Names the launcher reported ``STOPPED`` for during the last shutdown."""
        return list(self._protocol.stopped)

    def home(self, name: str) -> Path:
        """The Neo4j home directory of instance ``name`` (``logs/debug.log`` is there)."""
        if name not in self.instances:
            raise KeyError(name)
        return self.data_dir / name

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> dict[str, str]:
        """Start the JVM and wait for ``ALL READY``; returns ``{name: bolt_uri}``.

        The Maven build (if needed) is not counted in ``timeout``.

        Raises:
            LauncherError: already running; build failure; Java missing; an instance reported
                ``FAILED`` (e.g. port in use); the JVM exited early; or ``timeout`` elapsed.
                The JVM is not left running in any of these cases.
        """
        if self.running:
            raise LauncherError(f"launcher already running (pid {self.pid}); stop() it first")
        if self.build:
            ensure_launcher_built(self.launcher_dir)
        java = _java_path(self.java)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = launcher_command(
            self.instances,
            self.data_dir,
            self.launcher_dir,
            java=java,
            heap=self.heap,
            page_cache=self.page_cache,
            exit_on_stdin_eof=True,
            fast_start=self.fast_start,
            jvm_args=self.jvm_args,
        )
        protocol = self._protocol = _Protocol()
        self._uris = {}
        self._output.clear()
        changed = self._changed = threading.Event()
        try:
            proc = self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise LauncherError(f"cannot start the launcher JVM ({cmd[0]}): {exc}") from exc
        self._reader = threading.Thread(
            target=self._pump,
            args=(proc, protocol, changed),
            name="twinfed-neo4j-output",
            daemon=True,
        )
        self._reader.start()

        try:
            return self._await_ready(proc, protocol, changed, timeout)
        except BaseException:  # KeyboardInterrupt included: never leave the JVM behind
            if self.running:
                self.stop()
            raise

    def _await_ready(
        self,
        proc: subprocess.Popen[bytes],
        protocol: _Protocol,
        changed: threading.Event,
        timeout: float,
    ) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        what = self._describe()
        while True:
            if protocol.failed:
                self._abort(grace=30.0)
                raise LauncherError(
                    f"{what} failed: {protocol.failure_text()}" + _tail(self.output)
                )
            if protocol.all_ready:
                missing = set(self.instances) - set(protocol.ready)
                if missing:
                    self._abort()
                    raise LauncherError(
                        f"{what} said ALL READY without READY for {sorted(missing)}"
                        + _tail(self.output)
                    )
                self._uris = {name: protocol.ready[name] for name in self.instances}
                return dict(self._uris)
            if protocol.eof:
                code = proc.wait()
                self._finish(proc)
                raise LauncherError(
                    f"{what} exited with status {code} before it was ready" + _tail(self.output)
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abort(grace=0.0)
                raise LauncherError(
                    f"{what} did not report ALL READY within {timeout:.0f}s; see the instances' "
                    f"logs/debug.log under {self.data_dir}" + _tail(self.output)
                )
            changed.wait(timeout=min(remaining, 0.5))
            changed.clear()

    def stop(self, timeout: float = 30.0) -> int | None:
        """Shut the instances down cleanly (SIGTERM), SIGKILL after ``timeout`` seconds.

        Returns the JVM's exit status, or None if it was not running. Idempotent.
        """
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        self._finish(proc)
        return proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the JVM (no clean shutdown; for crash tests). Returns its exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self._finish(proc)
        return proc.returncode

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"EmbeddedNeo4j({self.instances!r}, data_dir={str(self.data_dir)!r}, {state})"

    # -- internals -----------------------------------------------------------------------

    def _describe(self) -> str:
        listing = ", ".join(f"{n}:{p}" for n, p in self.instances.items())
        return f"embedded Neo4j launcher ({listing})"

    def _pump(
        self, proc: subprocess.Popen[bytes], protocol: _Protocol, changed: threading.Event
    ) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._output.append(line)
            protocol.feed(line)
            changed.set()
        protocol.eof = True
        changed.set()

    def _abort(self, grace: float = 10.0) -> None:
        """Stop a launcher that failed to start; never leaves the JVM running."""
        proc = self._proc
        if proc is None:
            return
        # After FAILED the launcher shuts down by itself; give it time to close its stores.
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.stop()
            return
        self._finish(proc)

    def _finish(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout=10)
        if proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()
        self._uris = {}


# --------------------------------------------------------------------------------------------
# the detached launcher (CLI "daemon" mode)


def _read_state(data_dir: Path) -> dict[str, Any] | None:
    path = Path(data_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LauncherError(f"unreadable launcher state file {path}: {exc}; delete it") from exc
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int):
        raise LauncherError(f"malformed launcher state file {path}; delete it")
    return state


def _write_state(data_dir: Path, state: Mapping[str, Any]) -> None:
    path = Path(data_dir) / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (reaps it if it is our exited child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_launcher(pid: int) -> bool:
    """True if ``pid`` is alive and (where /proc tells) runs the launcher main class."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return LAUNCHER_MAIN_CLASS.encode() in cmdline


def _spawn_detached(cmd: Sequence[str], log_path: Path) -> int:
    """Start ``cmd`` in a new session, stdin from /dev/null, stdout+stderr to ``log_path``.

    ``os.posix_spawn`` rather than ``subprocess``: no ``Popen`` object that would warn about
    (or try to reap) a child that is meant to outlive us.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        return os.posix_spawn(
            cmd[0], list(cmd), dict(os.environ), file_actions=actions, setsid=True
        )
    except OSError as exc:
        raise LauncherError(f"cannot start the launcher JVM ({cmd[0]}): {exc}") from exc


def _reap(pid: int) -> int | None:
    """Exit status of our child ``pid`` if it has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if _pid_alive(pid) else -1
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return not _pid_alive(pid)


def start_daemon(
    names: Sequence[str] | Mapping[str, int],
    data_dir: Path,
    port_base: int | None = None,
    launcher_dir: Path = LAUNCHER_DIR,
    *,
    java: str = "java",
    heap: str = DEFAULT_HEAP,
    page_cache: str = DEFAULT_PAGE_CACHE,
    timeout: float = 120.0,
    build: bool = True,
    fast_start: bool = True,
) -> dict[str, str]:
    """Start a detached launcher that outlives this process; returns ``{name: bolt_uri}``.

    Instance ``names`` get ports ``port_base + i`` (free ports if ``port_base`` is None), or
    pass a ``{name: port}`` mapping. Output goes to ``data_dir/launcher.log``; state (pid,
    instances, started_at) to ``data_dir/launcher.json``. Stop it with :func:`stop_daemon`.

    Raises:
        LauncherError: a launcher is already running for ``data_dir``, or it failed to start
            (the log's last lines are in the message; nothing is left running).
    """
    data_dir = Path(data_dir).resolve()
    instances = _resolve_instances(names, port_base)
    data_dir.mkdir(parents=True, exist_ok=True)
    state = _read_state(data_dir)
    if state is not None:
        if _is_launcher(state["pid"]):
            raise LauncherError(
                f"a Neo4j launcher is already running for {data_dir} (pid {state['pid']}, "
                f"{state.get('instances')}); stop it first (`twinfed neo4j stop`)"
            )
        (data_dir / STATE_FILE).unlink(missing_ok=True)  # stale
    if build:
        ensure_launcher_built(launcher_dir)
    cmd = launcher_command(
        instances,
        data_dir,
        launcher_dir,
        java=_java_path(java),
        heap=heap,
        page_cache=page_cache,
        fast_start=fast_start,
    )
    log_path = data_dir / LOG_FILE
    if log_path.exists():
        os.replace(log_path, log_path.with_name(LOG_FILE + ".1"))
    pid = _spawn_detached(cmd, log_path)
    uris = {name: f"bolt://{_HOST}:{port}" for name, port in instances.items()}
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    state = {
        "pid": pid,
        "instances": uris,
        "started_at": started_at,
        "ready": False,
        "data_dir": str(data_dir),
        "log": str(log_path),
    }
    _write_state(data_dir, state)

    protocol = _Protocol()
    deadline = time.monotonic() + timeout
    problem: str | None = None
    exit_code: int | None = None
    with open(log_path, "rb") as reader:
        pending = b""
        while True:
            chunk = reader.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    protocol.feed(raw.decode("utf-8", "replace"))
            if protocol.failed:
                problem = f"failed: {protocol.failure_text()}"
                break
            if protocol.all_ready:
                break
            if exit_code is None:
                exit_code = _reap(pid)
            if exit_code is not None and not chunk:
                problem = f"exited with status {exit_code} before it was ready"
                break
            if time.monotonic() > deadline:
                problem = f"did not report ALL READY within {timeout:.0f}s"
                break
            if not chunk:
                time.sleep(0.05)

    if problem is not None:
        if _pid_alive(pid):
            _signal_group(pid, signal.SIGTERM)  # the launcher stops whatever it started
            if not _wait_dead(pid, 30.0):
                _signal_group(pid, signal.SIGKILL)
                _wait_dead(pid, 10.0)
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        raise LauncherError(
            f"embedded Neo4j launcher for {data_dir} {problem}; log: {log_path}" + _tail(log_text)
        )
    state["instances"] = {name: protocol.ready.get(name, uri) for name, uri in uris.items()}
    state["ready"] = True
    _write_state(data_dir, state)
    return dict(state["instances"])


def stop_daemon(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the detached launcher of ``data_dir`` (SIGTERM, then SIGKILL after ``timeout``).

    Returns True if a running launcher was stopped, False if none was running (a stale state
    file is removed in that case too).
    """
    data_dir = Path(data_dir).resolve()
    state = _read_state(data_dir)
    if state is None:
        return False
    pid = state["pid"]
    was_running = _is_launcher(pid)
    if was_running:
        _signal_group(pid, signal.SIGTERM)
        if not _wait_dead(pid, timeout):
            _signal_group(pid, signal.SIGKILL)
            if not _wait_dead(pid, 10.0):
                raise LauncherError(f"launcher pid {pid} survived SIGKILL; check `ps -p {pid}`")
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return was_running


def daemon_status(data_dir: Path, *, timeout: float = 5.0) -> dict[str, Any] | None:
    """State of the detached launcher of ``data_dir``, or None if none was started there.

    The returned dict has ``pid``, ``started_at``, ``log``, ``running`` (the pid is alive and
    is the launcher), ``instances`` (``{name: {"uri": ..., "reachable": bool}}``, each Bolt
    port checked with the ``neo4j`` driver when running) and ``healthy`` (running and every
    instance reachable). A stale state file (launcher gone) gives ``running: False``.
    """
    data_dir = Path(data_dir).resolve()
    state = _read_state(data_dir)
    if state is None:
        return None
    running = _is_launcher(state["pid"])
    instances: dict[str, dict[str, Any]] = {}
    for name, uri in dict(state.get("instances") or {}).items():
        reachable = running and bolt_reachable(uri, timeout=timeout)
        instances[name] = {"uri": uri, "reachable": reachable}
    return {
        "pid": state["pid"],
        "started_at": state.get("started_at"),
        "log": state.get("log", str(data_dir / LOG_FILE)),
        "data_dir": str(data_dir),
        "running": running,
        "instances": instances,
        "healthy": running and bool(instances) and all(i["reachable"] for i in instances.values()),
    }


# --------------------------------------------------------------------------------------------
# tiny CLI: python -m site_node.neo4j_embedded {build,start,stop,status,run}


def _print(data: Mapping[str, Any], stream: IO[str] = sys.stdout) -> None:
    stream.write(json.dumps(data, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; ``--help`` lists the sub-commands."""
    parser = argparse.ArgumentParser(
        prog="python -m site_node.neo4j_embedded",
        description="Embedded Neo4j Community launcher (one JVM, one DBMS per site).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the launcher (Maven) if it is not current")
    for name, help_text in (
        ("start", "start a detached launcher"),
        ("run", "run a launcher in the foreground until Ctrl-C"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--data", type=Path, default=Path(".twinfed/neo4j"))
        cmd.add_argument(
            "--instance",
            "-i",
            action="append",
            default=None,
            metavar="NAME[:PORT]",
            help="instance name, optionally with its port (repeatable; default: site-a)",
        )
        cmd.add_argument(
            "--port-base",
            type=int,
            default=None,
            help="ports for instances without one: PORT_BASE+i (default: free)",
        )
        cmd.add_argument("--heap", default=DEFAULT_HEAP)
        cmd.add_argument("--timeout", type=float, default=120.0)
    for name, help_text in (
        ("stop", "stop the detached launcher"),
        ("status", "show the detached launcher's state"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--data", type=Path, default=Path(".twinfed/neo4j"))
    args = parser.parse_args(argv)
    launcher_dir = default_launcher_dir()

    try:
        if args.command == "build":
            ensure_launcher_built(launcher_dir, quiet=False)
            print(f"launcher built: {launcher_dir / 'target'}")
            return 0
        if args.command in ("start", "run"):
            instances = _cli_instances(args.instance or ["site-a"], args.port_base)
            if args.command == "start":
                uris = start_daemon(
                    instances, args.data, None, launcher_dir, heap=args.heap, timeout=args.timeout
                )
                _print(uris)
                return 0
            neo = EmbeddedNeo4j(instances, args.data, launcher_dir, heap=args.heap)
            with neo:
                _print(neo.uris)
                with contextlib.suppress(KeyboardInterrupt):
                    while neo.running:
                        time.sleep(0.5)
            return 0
        if args.command == "stop":
            if stop_daemon(args.data):
                print(f"stopped the Neo4j launcher of {args.data.resolve()}")
            else:
                print(f"no Neo4j launcher is running for {args.data.resolve()}")
            return 0
        status = daemon_status(args.data)
        if status is None:
            print(f"no Neo4j launcher was started for {args.data.resolve()}")
            return 3
        _print(status)
        return 0 if status["healthy"] else 1
    except (LauncherError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cli_instances(specs: Sequence[str], port_base: int | None) -> dict[str, int]:
    named: dict[str, int | None] = {}
    for spec in specs:
        name, sep, port = spec.partition(":")
        named[name] = int(port) if sep else None
    if all(p is not None for p in named.values()):
        return {n: int(p) for n, p in named.items() if p is not None}
    auto = _resolve_instances([n for n, p in named.items() if p is None], port_base)
    return {n: (p if p is not None else auto[n]) for n, p in named.items()}


if __name__ == "__main__":
    raise SystemExit(main())
