"""A real Chroma server for tests: `chroma run --path <dir> --port <free>` from the venv, loopback only.

Every start waits for `/api/v2/heartbeat` with a timeout; `stop()` sends SIGTERM, waits, then kills,
so no server outlives its fixture. `restart()` keeps the port and the data directory (the same
server coming back, as after a crash or a deploy).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

CHROMA = Path(sys.executable).parent / "chroma"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ChromaServer:
    """One `chroma run` subprocess; use as a context manager or call `start`/`stop`."""

    def __init__(self, path: Path, log_path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChromaServer:
        command = [str(CHROMA), "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)]
        self._log = self._log_path.open("ab")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}; log: {self._log_path}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"chroma run was not ready after {READY_TIMEOUT_S:.0f} s; log: {self._log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
