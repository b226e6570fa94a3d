"""Real processes for the service tests: ``rdplan serve`` and ``rdplan worker``, and an SSE reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

from api.states import pid_alive  # noqa: F401  (re-exported for the tests)

T = TypeVar("T")

#: Variables the service reads; the tests set them explicitly and drop inherited ones.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("RDPLAN_", "CELERY_"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


class Process:
    """A child process in its own session (so its whole group can be killed), logging to a file."""

    def __init__(self, argv: list[str], workdir: Path, env: dict[str, str], log_name: str):
        self.argv, self.workdir, self.env = argv, workdir, env
        self.log_path = workdir / log_name
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    @contextmanager
    def running(self) -> Iterator[Self]:
        """Started for a ``with`` block (a fixture's life), stopped after it."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def log_tail(self, n: int = 60) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def kill(self) -> None:
        """SIGKILL the process itself only (a crash: its children must cope)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill_group(self) -> None:
        """SIGKILL the process and every process of its group at once (a machine-level crash)."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """End the process and everything left in its group (teardown)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of the group (worker processes)


class Server(Process):
    """``rdplan serve`` on a free loopback port."""

    def __init__(self, workdir: Path, env: dict[str, str], api_key: str | None = None):
        self.port = free_port()
        super().__init__(
            [
                sys.executable,
                "-m",
                "solver.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            workdir,
            env,
            "server.log",
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key

    def start(self, timeout: float = 60.0) -> None:
        super().start()

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with suppress(httpx.HTTPError):
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            return False

        wait_for(healthy, timeout, "the server to answer /healthz", interval=0.2)

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def client(self, api_key: str | None = "default") -> httpx.Client:
        key = self.api_key if api_key == "default" else api_key
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


class Worker(Process):
    """``rdplan worker``: a real Celery worker on the test broker."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        super().__init__(
            [sys.executable, "-m", "solver.cli", "worker", "--concurrency", "1"],
            workdir,
            env,
            "worker.log",
        )

    def start_process(self) -> None:
        """Start the process without waiting for it to be ready (it may refuse to start)."""
        super().start()

    def start(self, timeout: float = 60.0) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return b" ready." in f.read()

        wait_for(ready, timeout, "the Celery worker to be ready", interval=0.2)


def sse_events(
    client: httpx.Client,
    path: str,
    timeout: float = 60.0,
    headers: dict[str, str] | dict[bytes, bytes] | None = None,
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(event, id, data)`` of a server-sent event stream until the server closes it."""
    event, event_id = "message", ""
    data: list[str] = []
    with client.stream(
        "GET", path, timeout=httpx.Timeout(timeout, read=timeout), headers=headers
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                continue  # comment / ping
            if not line:
                if data:
                    yield event, event_id, json.loads("\n".join(data))
                event, event_id, data = "message", "", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
