"""Run a real ``oxigraph serve`` (the ``oxigraph`` package on PyPI) for tests, on loopback.

Use :func:`running_oxigraph` in a fixture::

    @pytest.fixture(scope="session")
    def oxigraph_url(tmp_path_factory):
        with running_oxigraph(tmp_path_factory.mktemp("oxigraph")) as server:
            yield server.base_url

The executable is looked up beside the running Python first (the project's venv), then on
``PATH``; when it is missing the error says how to install it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def oxigraph_executable() -> Path:
    """Path of the ``oxigraph`` CLI, or RuntimeError saying how to install it."""
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("oxigraph")
    if found:
        return Path(found)
    raise RuntimeError("the oxigraph server CLI must be installed for these tests; install it "
                       f"with `{sys.executable} -m pip install oxigraph`")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OxigraphServer:
    """One ``oxigraph serve --location DIR --bind 127.0.0.1:PORT`` process."""

    def __init__(self, location: Path, *, port: int | None = None) -> None:
        self.location = location
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = location.parent / f"{location.name}-oxigraph.log"

    def start(self, wait_s: float = 30.0) -> None:
        """Start the server and wait until it answers a query."""
        self.location.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(oxigraph_executable()), "serve", "--location", str(self.location),
                 "--bind", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_s
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited with {self._process.returncode}: "
                                   f"{self._log.read_text(errors='replace')[-2000:]}")
            try:
                answer = httpx.get(f"{self.base_url}/query", params={"query": "ASK {}"},
                                   timeout=1.0)
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oxigraph serve did not answer on {self.base_url} "
                                   f"within {wait_s:g} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_oxigraph(location: Path, *, port: int | None = None) -> Iterator[OxigraphServer]:
    """An :class:`OxigraphServer` started for the block and stopped after it."""
    server = OxigraphServer(location, port=port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
