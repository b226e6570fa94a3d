"""The Dockerfile without a Docker engine (none runs here, so ``docker build`` is impossible).

1. Static checks of the Dockerfile itself: slim base images, a non-root ``USER``, ``CMD`` is
   ``rdplan serve`` (with no ``ENTRYPOINT``), a ``HEALTHCHECK`` on the served port.
2. A *simulation* of the runtime stage, not a build: the image's exact ``CMD`` runs with the
   runtime stage's ``ENV`` (``/opt/venv/bin`` stands for this checkout's virtualenv, ``/data``
   for a temporary directory, also ``HOME`` as for the image's user), as an unprivileged
   user (uid 65534 via ``setpriv`` when the tests run as root, like the image's ``USER``) in
   a network namespace of its own (the container's loopback: port 8000 is free there). The
   exact ``HEALTHCHECK`` command must fail before the service is up and exit 0 once it is;
   then a tiny solve must finish, so the unprivileged service writes its database and forks
   its worker processes. Where uid 65534 cannot run this virtualenv's interpreter (here it is
   a symlink into root's 0700 home), a virtualenv on a world-executable python of the same
   version, seeing this one's packages, stands in for ``/opt/venv``.

   What this cannot check: that the image builds, its Python and its installed packages.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.service import CLEAN_ENV, pid_alive, wait_for

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
NOBODY = 65534


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile: instructions with their continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        logical.append((current + line).strip())
        current = ""
    if current:
        logical.append(current.strip())
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]  # --platform=...
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form (JSON array) CMD / HEALTHCHECK CMD."""
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """The options (``--timeout`` ...) and the exec-form command of the stage's HEALTHCHECK."""
    spec = stage.last("HEALTHCHECK")
    assert spec is not None, "the runtime stage has no HEALTHCHECK"
    assert spec.upper() != "NONE"
    options, _, command = spec.partition("CMD")
    opts = dict(o.removeprefix("--").split("=", 1) for o in options.split())
    return opts, exec_form(command.strip())


def env_of(stage: Stage) -> dict[str, str]:
    """The stage's ``ENV`` (``k=v`` pairs, or the legacy ``ENV k v``)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        words = shlex.split(args)
        if words and "=" not in words[0]:
            env[words[0]] = args.split(None, 1)[1] if len(words) > 1 else ""
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def seconds(spec: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if spec.endswith(unit):
            return float(spec[: -len(unit)]) * units[unit]
    return float(spec)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_dockerfile_runtime_stage_is_slim_non_root_serving_with_a_healthcheck(
    stages: list[Stage], runtime: Stage
) -> None:
    for stage in stages:
        repo, _, tag = stage.image.partition(":")
        assert repo == "python" and tag.endswith("-slim"), f"not a slim base: {stage.image}"
    assert runtime.name is None or runtime.name != stages[0].name
    # the runtime stage copies the built virtualenv, not the sources and a compiler
    assert any(a.startswith("--from=") for a in runtime.all("COPY")), runtime.all("COPY")

    user = runtime.last("USER")
    assert user is not None, "the runtime stage runs as root (no USER)"
    name = user.split(":")[0]
    assert name not in ("root", "0"), f"USER {user} is root"
    if name.isdigit():
        assert int(name) != 0
    else:  # a named user: the runtime stage creates it, with a uid other than 0
        useradds = [
            shlex.split(cmd.split("useradd", 1)[1].split("&&", 1)[0])
            for run in runtime.all("RUN")
            for cmd in run.split("&&")
            if "useradd" in cmd
        ]
        mine = [words for words in useradds if words and words[-1] == name]
        assert mine, f"USER {name} is not created by a useradd of the runtime stage"
        words = mine[-1]
        uid = next((w.split("=", 1)[1] for w in words if w.startswith("--uid=")), None)
        if uid is None and "--uid" in words:
            uid = words[words.index("--uid") + 1]
        assert uid is None or int(uid) != 0, f"useradd gives {name} uid 0"

    assert runtime.last("ENTRYPOINT") is None, "an ENTRYPOINT would wrap the CMD"
    cmd_args = runtime.last("CMD")
    assert cmd_args is not None
    cmd = exec_form(cmd_args)
    assert cmd[:2] == ["rdplan", "serve"], cmd
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0", "a container must listen beyond loopback"
    port = cmd[cmd.index("--port") + 1]
    assert runtime.last("EXPOSE") == port

    opts, check = healthcheck(runtime)
    assert {"interval", "timeout"} <= opts.keys(), opts
    assert seconds(opts["timeout"]) < seconds(opts["interval"])
    assert f"127.0.0.1:{port}/healthz" in " ".join(check), check

    workdir = runtime.last("WORKDIR")
    assert workdir is not None and workdir in (runtime.last("VOLUME") or "")
    assert env_of(runtime)["RDPLAN_DATABASE_URL"] == f"sqlite:///{workdir}/rdplan.db"


# -- the simulation of the runtime stage ----------------------------------------------


@dataclass
class Sandbox:
    """Where the simulated container's processes run: a user, a network, a data directory."""

    as_user: list[str]  # setpriv prefix (empty: this process is unprivileged already)
    in_net: list[str]  # nsenter prefix (empty: this machine's network)
    data: Path
    env: dict[str, str]
    holder: subprocess.Popen[bytes] | None = None

    def argv(self, command: list[str]) -> list[str]:
        return [*self.in_net, *self.as_user, *command]

    def run(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command),
            cwd=self.data,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _network_namespace() -> subprocess.Popen[bytes] | None:
    """A process holding a fresh network namespace with its loopback up (root only)."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        return None
    if not shutil.which("ip"):
        return None
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "600"], start_new_session=True)
    # Until unshare has run, /proc/PID/ns/net is still ours: setting "lo up" there would do
    # nothing for the new namespace (a race that left its loopback down).
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 10
    while holder.poll() is None and time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{holder.pid}/ns/net") != ours:
                break
        except OSError:
            pass
        time.sleep(0.01)
    else:
        holder.kill()
        holder.wait()
        return None
    up = subprocess.run(
        ["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--", "ip", "link", "set", "lo", "up"],
        capture_output=True,
        text=True,
    )
    if up.returncode != 0 or holder.poll() is not None:
        holder.kill()
        holder.wait()
        return None
    return holder


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
#: Can an interpreter start (and so re-start itself, as multiprocessing does) as this user?
SELF_EXEC = "import subprocess, sys; subprocess.run([sys.executable, '-c', ''], check=True)"


def _usable(python: str, as_user: list[str]) -> bool:
    with suppress(OSError, subprocess.SubprocessError):
        return (
            subprocess.run(
                [*as_user, python, "-c", SELF_EXEC], capture_output=True, timeout=60, cwd="/"
            ).returncode
            == 0
        )
    return False


def _opt_venv(root: Path, as_user: list[str]) -> Path | None:
    """The bin directory standing in for the image's ``/opt/venv/bin``, for ``as_user``.

    This virtualenv's own one when that user can run its interpreter. Otherwise (here: the
    interpreter is a symlink into root's 0700 home) a virtualenv made in ``root`` on a
    world-executable python of the same version, which sees this virtualenv's installed
    packages (rdplan included) through a ``.pth`` file and gets an ``rdplan`` script like
    pip's. ``None`` when there is no such python."""
    venv_bin = Path(sys.executable).parent
    if _usable(sys.executable, as_user):
        return venv_bin
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for base in (f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"):
        if not (Path(base).exists() and _usable(base, as_user)):
            continue
        standin = root / "opt-venv"
        made = subprocess.run(
            [base, "-m", "venv", "--without-pip", str(standin)], capture_output=True, text=True
        )
        if made.returncode != 0:
            continue
        purelib, platlib = sysconfig.get_path("purelib"), sysconfig.get_path("platlib")
        lines = {f"import site; site.addsitedir({d!r})" for d in (purelib, platlib)}
        site_dir = standin / "lib" / f"python{version}" / "site-packages"
        (site_dir / "rdplan-checkout.pth").write_text("\n".join(sorted(lines)) + "\n")
        script = (venv_bin / "rdplan").read_text().split("\n", 1)[1]
        rdplan = standin / "bin" / "rdplan"
        rdplan.write_text(f"#!{standin / 'bin' / 'python'}\n{script}")
        rdplan.chmod(0o755)
        return standin / "bin"
    return None


@pytest.fixture
def sandbox(runtime: Stage) -> Iterator[Sandbox]:
    workdir = runtime.last("WORKDIR") or "/data"
    # not under pytest's tmp root, which is 0700
    root_dir = Path(tempfile.mkdtemp(prefix="rdplan-runtime-"))
    root_dir.chmod(0o755)
    data = root_dir / "data"
    data.mkdir(mode=0o700)
    holder: subprocess.Popen[bytes] | None = None
    try:
        as_user: list[str] = []
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip(
                    "running as root without setpriv: cannot start the service unprivileged"
                )
            os.chown(data, NOBODY, NOBODY)
            as_user = AS_NOBODY
        opt_venv_bin = _opt_venv(root_dir, as_user)
        if opt_venv_bin is None:
            pytest.skip(
                f"no python {sys.version_info[0]}.{sys.version_info[1]} that uid {NOBODY} may run "
                "(this virtualenv's interpreter is not reachable for that user)"
            )

        env = {k: v for k, v in CLEAN_ENV.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        for key, value in env_of(runtime).items():
            value = value.replace("/opt/venv/bin", str(opt_venv_bin))
            value = value.replace("$PATH", env.get("PATH", ""))
            env[key] = value.replace(f"{workdir}/", f"{data}/")
        env["HOME"] = str(data)  # the image's user has its home in the volume

        holder = _network_namespace()
        if holder is None and not _port_free(8000):
            pytest.skip(
                "no network namespace could be made (not root, or no unshare/nsenter/ip) and "
                "127.0.0.1:8000, which the Dockerfile's HEALTHCHECK names, is taken here"
            )
        box = Sandbox(
            as_user=as_user,
            in_net=[] if holder is None else ["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--"],
            data=data,
            env=env,
            holder=holder,
        )
        probe = box.run(["python", "-c", "import api.main, solver.solve"], timeout=60)
        if probe.returncode != 0:
            pytest.skip(
                f"this checkout or its virtualenv cannot be imported by uid {NOBODY} "
                f"(a directory that is not world-readable?):\n{probe.stderr[-2000:]}"
            )
        yield box
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        shutil.rmtree(root_dir, ignore_errors=True)


def test_runtime_stage_simulated_unprivileged_passes_its_healthcheck(
    runtime: Stage, sandbox: Sandbox, tiny_doc: dict[str, object]
) -> None:
    """A simulation, not a docker build: the image's CMD as an unprivileged user, then the
    Dockerfile's exact HEALTHCHECK command, which must exit 0 (and fail with no server)."""
    cmd = exec_form(runtime.last("CMD") or "[]")
    opts, check = healthcheck(runtime)
    timeout = seconds(opts.get("timeout", "30s"))

    before = sandbox.run(check, timeout=timeout + 5)
    assert before.returncode != 0, "the HEALTHCHECK passes with no server: it checks nothing"

    log = sandbox.data / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            sandbox.argv(cmd),
            cwd=sandbox.data,
            env=sandbox.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        last_check: list[str] = []

        def healthy() -> bool:
            if server.poll() is not None:
                raise AssertionError(
                    f"`{' '.join(cmd)}` exited with {server.returncode}:\n{log.read_text()}"
                )
            probe = sandbox.run(check, timeout=timeout + 5)
            last_check[:] = [str(probe.stderr)[-2000:]]
            return probe.returncode == 0

        # Docker's start period: failures do not count until the service is up
        start_period = seconds(opts.get("start-period", "0s"))
        try:
            wait_for(healthy, max(60.0, start_period), "the HEALTHCHECK to pass", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nlast HEALTHCHECK stderr:\n{''.join(last_check)}\n"
                f"server log:\n{log.read_text()}"
            ) from None
        result = sandbox.run(check, timeout=timeout + 5)
        assert result.returncode == 0, result.stderr

        if sandbox.as_user:  # the service really runs unprivileged and owns its data
            status = Path(f"/proc/{server.pid}/status").read_text()
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            assert uids.split()[1:] == [str(NOBODY)] * 4, uids
            database = sandbox.data / "rdplan.db"
            assert database.exists() and database.stat().st_uid == NOBODY

        # and it solves: a worker process forked by the unprivileged server writes the plan
        port = cmd[cmd.index("--port") + 1]
        solve = textwrap.dedent(
            f"""
            import json, sys, time, urllib.request
            base = "http://127.0.0.1:{port}"
            body = json.dumps({{"scenario": json.load(sys.stdin), "options": {{"time_limit": 10}}}})
            req = urllib.request.Request(base + "/v1/solves", data=body.encode(),
                                         headers={{"content-type": "application/json"}})
            job = json.load(urllib.request.urlopen(req, timeout=10))
            for _ in range(300):
                job = json.load(urllib.request.urlopen(base + "/v1/solves/" + job["id"], timeout=10))
                if job["status"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.2)
            print(json.dumps(job))
            """
        )
        done = subprocess.run(
            sandbox.argv(["python", "-c", solve]),
            input=json.dumps(tiny_doc),
            cwd=sandbox.data,
            env=sandbox.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["status"] == "done" and job["result"]["objective"] == 1855, job
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(server.pid), 10, "the simulated container to stop")
