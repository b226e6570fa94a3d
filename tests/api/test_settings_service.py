"""``rdplan serve`` and ``rdplan worker`` refuse a database they cannot use with one clear
line naming ``RDPLAN_DATABASE_URL`` and exit 2 — not a traceback — whether the URL is not
one, names a driver that is not installed, or a PostgreSQL database that does not exist or
cannot be reached (a password in the URL is not shown)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import service_env

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]

COMMANDS = ("serve", "worker")


def rdplan(
    command: str, workdir: Path, port: int = 1, **settings: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "solver.cli", command]
    if command == "serve":  # port 1: never bound, it must stop before
        argv += ["--host", "127.0.0.1", "--port", str(port)]
    return subprocess.run(
        argv,
        cwd=workdir,
        env=service_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "Could not parse SQLAlchemy URL"),
        ("mysql://rdplan@127.0.0.1/rdplan", "its database driver is not installed"),
        ("postgresql://rdplan:s3cret@127.0.0.1:1/rdplan", "port 1 failed"),
        # a port or a query the driver cannot read: tracebacks, exit 1 (a QA pass)
        ("postgresql://rdplan:s3cret@127.0.0.1:notaport/x", "invalid literal for int()"),
        ("sqlite:///./q.db?timeout=abc", "could not convert string to float: 'abc'"),
    ],
)
def test_a_database_url_it_cannot_use_is_named_without_a_traceback(
    command: str, url: str, says: str, broker_url: str, tmp_path: Path
) -> None:
    r = rdplan(command, tmp_path, database_url=url, broker_url=broker_url)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "RDPLAN_DATABASE_URL" in lines[0], r.stderr
    assert says in lines[0] and "s3cret" not in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_postgresql_database_that_does_not_exist_is_named(
    command: str, pg_url: str, broker_url: str, tmp_path: Path
) -> None:
    missing = pg_url + "_missing"
    r = rdplan(command, tmp_path, database_url=missing, broker_url=broker_url)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("rdplan"), r.stderr
    assert "RDPLAN_DATABASE_URL" in r.stderr
    assert f'database "{missing.rsplit("/", 1)[1]}" does not exist' in r.stderr, r.stderr


#: The README's settings in seconds or MB.
FLOAT_SETTINGS = (
    "max_time_limit",
    "default_time_limit",
    "heartbeat_timeout",
    "cancel_grace",
    "progress_interval",
    "requeue_after",
    "memory_limit_mb",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_an_infinite_number_of_seconds_is_refused_by_name(
    command: str, broker_url: str, tmp_path: Path
) -> None:
    """``inf`` passed every bound (``gt=0``), and then broke the service: an infinite
    ``RDPLAN_HEARTBEAT_TIMEOUT`` made every sweep of the server fail (OverflowError), so a
    job whose message was lost stayed queued for ever; an infinite
    ``RDPLAN_PROGRESS_INTERVAL`` killed a job's heartbeat thread."""
    settings = dict.fromkeys(FLOAT_SETTINGS, "inf")
    r = rdplan(
        command, tmp_path, database_url="sqlite:///./rdplan.db", broker_url=broker_url, **settings
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for name in FLOAT_SETTINGS:
        assert f"RDPLAN_{name.upper()}='inf': Input should be a finite number" in r.stderr, r.stderr
    assert not (tmp_path / "rdplan.db").exists()  # refused before anything started


@pytest.mark.parametrize("command", COMMANDS)
def test_an_api_key_no_header_can_carry_is_refused_without_showing_the_keys(
    command: str, broker_url: str, tmp_path: Path
) -> None:
    """A key with an accented letter (or a space) could never be matched: the server reads
    header bytes as Latin-1, so every request with it got 401. It is refused at start, and
    the keys, secrets, are not echoed."""
    r = rdplan(
        command,
        tmp_path,
        database_url="sqlite:///./rdplan.db",
        broker_url=broker_url,
        api_keys="sécret,abc",
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "sécret" not in r.stderr and "abc" not in r.stderr
    assert "RDPLAN_API_KEYS: every key must be visible ASCII characters" in r.stderr, r.stderr
    assert not (tmp_path / "rdplan.db").exists()
    # keys of commas or spaces alone named none, and the service ran open (a QA pass)
    for keys in (",", " ", " , "):
        r = rdplan(
            command,
            tmp_path,
            database_url="sqlite:///./rdplan.db",
            broker_url=broker_url,
            api_keys=keys,
        )
        assert r.returncode == 2, r.stderr
        assert "RDPLAN_API_KEYS: names no key" in r.stderr, r.stderr
    assert not (tmp_path / "rdplan.db").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_heartbeat_timeout_shorter_than_two_beats_is_refused(
    command: str, broker_url: str, tmp_path: Path
) -> None:
    """A job beats every progress interval: with a timeout of 0.3 s and an interval of 2 s every
    solve longer than 2 s failed with "no heartbeat" (a QA pass). Refused at start, by name."""
    r = rdplan(
        command,
        tmp_path,
        database_url="sqlite:///./rdplan.db",
        broker_url=broker_url,
        heartbeat_timeout="0.3",
        progress_interval="2",
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert (
        "RDPLAN_HEARTBEAT_TIMEOUT='0.3': must be at least twice RDPLAN_PROGRESS_INTERVAL (2 s)"
        in r.stderr
    ), r.stderr
    assert not (tmp_path / "rdplan.db").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        # the worker printed a 73-line traceback; the server started, said ok on /healthz and
        # answered 503 to every solve (a QA pass)
        ("notabroker://x", "No such transport: notabroker"),
        # the same for these three (later QA passes): a traceback at start, or the worker's
        # three and exit 0, or jobs accepted that no worker could ever read
        (
            "redis://127.0.0.1:6379/13?socket_timeout=5",
            "its query names an option the connection does not take",
        ),
        ("redis://127.0.0.1:6379/abc", "a Redis database is a number (0-15 by default), not 'abc'"),
        ("memory://", "memory:// lives in one process, and workers run in others"),
    ],
)
def test_a_broker_url_that_cannot_work_is_refused_at_start(
    command: str, url: str, says: str, tmp_path: Path
) -> None:
    r = rdplan(command, tmp_path, database_url="sqlite:///./rdplan.db", broker_url=url)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"RDPLAN_BROKER_URL: {says}" in lines[0], r.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_seconds_past_a_year_are_refused_by_name(
    command: str, broker_url: str, tmp_path: Path
) -> None:
    """``RDPLAN_CANCEL_GRACE=1e11`` passed, and the dispatcher's every step then failed
    (timedelta out of range): no job ran while /healthz said ok (a QA pass)."""
    settings = dict.fromkeys(FLOAT_SETTINGS[:-1], "1e11")  # memory_limit_mb is not seconds
    r = rdplan(
        command, tmp_path, database_url="sqlite:///./rdplan.db", broker_url=broker_url, **settings
    )
    assert r.returncode == 2, r.stderr
    for name in FLOAT_SETTINGS[:-1]:
        assert f"RDPLAN_{name.upper()}=" in r.stderr, r.stderr
    assert "less than or equal to 31536000" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "rdplan.db").exists()


def test_a_blank_broker_url_is_none() -> None:
    """``RDPLAN_BROKER_URL=' '`` switched the service to Celery on amqp://localhost, and
    every solve was a 503 (a QA pass): blank is unset, the in-process workers."""
    from api.settings import Settings

    assert Settings(broker_url=" ").runner == "local"
    assert Settings(broker_url="redis://127.0.0.1:6379/0").runner == "celery"


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """uvicorn logged the bind error and exited 3, which the README's table does not list (a
    QA pass): ``serve`` names the address and exits 2, as for any setting it cannot use."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = rdplan("serve", tmp_path, port=port, database_url=f"sqlite:///{tmp_path / 'p.db'}")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"rdplan: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_a_database_it_cannot_write_is_refused_at_start(tmp_path: Path) -> None:
    """A database the service can read and not write started, said ok on /healthz, and
    answered every submission 500 (a QA pass): refused at start now, in one line."""
    from api.storage import migrate

    db = tmp_path / "ro.db"
    migrate(f"sqlite:///{db}")
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    r = rdplan("serve", tmp_path, database_url=read_only)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "RDPLAN_DATABASE_URL: cannot write to the database" in lines[0]
    assert "readonly" in lines[0] and not (tmp_path / "file:").exists()  # no stray lock folder
