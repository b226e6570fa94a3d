"""The ``rdplan`` command line (SPEC §5)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from solver.argtypes import (
    clashing_outputs,
    gap_fraction,
    port,
    positive_float,
    positive_int,
    read_input,
    seed,
    thread_count,
    writable_file,
)
from solver.plan import Plan, Status, read_plan_document
from solver.scenario import (
    FieldError,
    ScenarioError,
    error_message,
    json_schema,
    load_document,
    validate_document,
)


def _print_errors(errors: list[FieldError]) -> None:
    for e in errors:
        print(f"  {e.path or '<document>'}: {e.message}", file=sys.stderr)


def _write_json(doc: dict[str, Any], out: str | None) -> None:
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _silence(stream: Any) -> None:
    """Point a stream whose reader has gone (``| head``) at /dev/null, so that nothing more
    is written to it — not even the interpreter's flush at exit, which would print a
    traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def builds_csv(plan: Plan | dict[str, Any]) -> str:
    """The builds of a plan as CSV: one row per build, crews as ``pool:count`` pairs."""
    doc = plan.to_document() if isinstance(plan, Plan) else plan
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["year", "region", "site", "option", "crews", "crew_km"])
    for b in doc.get("builds", []):
        crews = " ".join(f"{c['pool']}:{c['count']}" for c in b.get("crews", []))
        km = sum(c["count"] * c["distance_km"] for c in b.get("crews", []))
        writer.writerow([b["year"], b["region"], b["site"], b["option"], crews, km])
    return buf.getvalue()


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """While ``active``, whatever is written to file descriptor 1 goes to stderr: the solvers'
    own logs (``--log``: CP-SAT and HiGHS print from C++ to stdout), so that a plan written to
    stdout stays a JSON document."""
    if not active:
        yield
        return
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        libc.fflush(None)  # C stdio's buffered log lines, before stdout is stdout again
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """An event Ctrl-C sets while the solve runs: the solver stops as at its time limit, and its
    best plan so far is written (CP-SAT did so on its own; HiGHS, CBC and the portfolio ended in
    a traceback, nothing written). A second Ctrl-C interrupts at once. SIGINT left ignored (a
    background job of a shell) stays ignored."""
    stop = threading.Event()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stop
        return

    def interrupted(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(OSError):
            print(
                "interrupted: stopping the solver, its best plan so far follows "
                "(Ctrl-C again to abort)",
                file=sys.stderr,
                flush=True,
            )

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class _ProgressView:
    """Live progress on stderr: a rich display on a terminal, plain lines otherwise."""

    def __init__(self, time_limit: float, quiet: bool = False):
        self.time_limit = time_limit
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0
        self._live: Any = None
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _ProgressView:
        if self.tty and not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]solving"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "solve", total=self.time_limit, status="building model"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, p: Any) -> None:
        if self.quiet:
            return
        inc = "-" if p.incumbent is None else f"{p.incumbent:,}"
        bnd = "-" if p.bound is None else f"{p.bound:,}"
        gap = "-" if p.gap is None else f"{100 * p.gap:.3f}%"
        text = f"incumbent {inc}  bound {bnd}  gap {gap}  elapsed {p.elapsed:.1f}s"
        if self._progress is not None:
            self._progress.update(
                self._task, completed=min(p.elapsed, self.time_limit), status=text
            )
        elif time.monotonic() - self._last_line >= 1.0:
            self._last_line = time.monotonic()
            try:
                print(text, file=sys.stderr, flush=True)
            except BrokenPipeError:
                # stderr's reader has gone: the solve goes on, silently.
                _silence(sys.stderr)
                self.quiet = True


def cmd_solve(args: argparse.Namespace) -> int:
    from solver.solve import SolverBugError, solve

    clash = clashing_outputs(
        {"scenario": args.scenario, "--baseline": args.baseline},
        {"--out": args.out, "--csv": args.csv},
    )
    if clash is not None:
        print(f"rdplan solve: {clash}", file=sys.stderr)
        return 2
    try:
        text = read_input(args.scenario)
    except OSError as exc:
        plan = Plan.invalid(
            [FieldError(path="", message=f"cannot read {args.scenario}: {exc.strerror}")]
        )
    else:
        scenario, errors = validate_document(text)
        if scenario is None:
            plan = Plan.invalid(errors)
        else:
            replan: dict[str, Any] = {}
            if args.baseline or args.freeze_through is not None:
                from solver.replan import apply_baseline, freeze_year_error, solve_arguments

                wrong = None
                if args.freeze_through is not None:
                    wrong = freeze_year_error(scenario, args.freeze_through)
                if wrong is not None:
                    message = f"--freeze-through {wrong}"
                    return _finish(
                        Plan.invalid([FieldError(path="freeze_through", message=message)]), args
                    )
                try:
                    # Parsed once here: apply_baseline and solve_arguments both read it.
                    base = _baseline_plan(args.baseline) if args.baseline else None
                    scenario = apply_baseline(scenario, base, args.freeze_through)
                    replan = solve_arguments(scenario, base, args.freeze_through)
                except (OSError, ScenarioError, ValueError) as exc:
                    errs = (
                        exc.errors
                        if isinstance(exc, ScenarioError)
                        else [FieldError(path="baseline", message=str(exc))]
                    )
                    plan = Plan.invalid(errs)
                    return _finish(plan, args)
            with (
                _stdout_to_stderr(args.log),
                _ProgressView(args.time_limit, args.quiet) as view,
                _stop_on_interrupt() as interrupt,
            ):
                try:
                    plan = solve(
                        scenario,
                        backend=args.backend,
                        time_limit=args.time_limit,
                        threads=args.threads,
                        seed=args.seed,
                        gap=args.gap,
                        on_progress=view,
                        cancel=interrupt,
                        log=args.log,
                        **replan,
                    )
                except SolverBugError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 1
    return _finish(plan, args)


def _baseline_plan(path: str) -> dict[str, Any]:
    """The ``--baseline`` plan document; :class:`ScenarioError` at ``baseline``, naming the
    file, when it cannot be read or is not a JSON object (not the scenario's error)."""
    try:
        return load_document(read_input(path))
    except OSError as exc:
        message = f"cannot read --baseline {path}: {exc.strerror}"
        raise ScenarioError([FieldError(path="baseline", message=message)]) from None
    except ScenarioError as exc:
        raise ScenarioError(
            [
                FieldError(path="baseline", message=f"--baseline {path}: {e.message}")
                for e in exc.errors
            ]
        ) from None


def _finish(plan: Plan, args: argparse.Namespace) -> int:
    doc = plan.to_document()
    if plan.status is Status.INVALID:
        errors = plan.errors or []
        fields = {re.split(r"[.\[]", e.path, maxsplit=1)[0] for e in errors}
        replan = bool(errors) and fields <= {"baseline", "freeze_through"}
        what = "re-plan (--baseline, --freeze-through)" if replan else "scenario"
        print(f"invalid {what}:", file=sys.stderr)
        _print_errors(errors)
    try:
        _write_json(doc, args.out)
    except BrokenPipeError:
        # The plan was to go to stdout and its reader has gone: it is not delivered.
        _silence(sys.stdout)
        with contextlib.suppress(BrokenPipeError):
            print("error: stdout was closed before the plan was written", file=sys.stderr)
        return 1
    except OSError as exc:
        if not args.out:
            raise
        # --out was writable when the command started (writable_file) and is not now (a full
        # disk, a folder removed): the solve's plan goes to stdout rather than being lost.
        print(
            f"error: cannot write {args.out}: {exc.strerror}; the plan follows on stdout",
            file=sys.stderr,
        )
        _write_json(doc, None)
        return 1
    # Without a plan too (the header alone): a CSV left from an earlier solve is not its builds.
    if getattr(args, "csv", None):
        try:
            Path(args.csv).write_text(builds_csv(plan), encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {args.csv}: {exc.strerror}", file=sys.stderr)
            return 1
    if plan.status is not Status.INVALID and not args.quiet:
        try:
            _summary(plan)
        except BrokenPipeError:
            _silence(sys.stderr)  # the plan is written; only the summary is lost
    return plan.status.exit_code


def _summary(plan: Plan) -> None:
    info = plan.solver
    where = (
        f" in {info.seconds:.2f}s on {info.backend} ({info.threads} thread{'s' if info.threads != 1 else ''})"
        if info
        else ""
    )
    limit = getattr(info, "gap_limit", None) if info else None
    if limit and plan.status is Status.FEASIBLE and plan.gap is not None and plan.gap <= limit:
        where += f", within the gap limit of {100 * limit:g}%"
    print(f"{plan.status.value}{where}", file=sys.stderr)
    if plan.status.has_plan and plan.terms is not None:
        t = plan.terms
        print(
            f"objective {plan.objective:,}  bound {plan.bound if plan.bound is None else f'{plan.bound:,}'}  gap {100 * (plan.gap or 0):.4f}%\n"
            f"benefit {t.benefit:,}  mobilization {t.mobilization:,} km·crews  training {t.training:,}  stability {t.stability}\n"
            f"{len(plan.builds)} builds, {len(plan.unbuilt)} unbuilt, {sum(r.trainees for r in plan.training):,} trainees",
            file=sys.stderr,
        )
    warm = getattr(info, "warm_start", None) if info else None
    if warm:
        from solver.solve import warm_start_summary

        print(f"warm start: {warm_start_summary(warm)}", file=sys.stderr)
    for c in plan.conflicts:
        print(f"  conflict {c['group']}: {c['message']}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        text = read_input(args.scenario)
    except OSError as exc:
        message = f"cannot read {args.scenario}: {exc.strerror}"
        print(f"invalid: {message}", file=sys.stderr)
        if args.json:  # what a reader of --json parses, whatever the error (solve's path "")
            _write_json(
                {"valid": False, "errors": [{"path": "", "message": message}], "warnings": []},
                None,
            )
        return 2
    scenario, errors = validate_document(text)
    if scenario is None:
        print(f"invalid: {len(errors)} error(s)", file=sys.stderr)
        _print_errors(errors)
        if args.json:
            # one shape, valid or not (as POST /v1/validate answers)
            _write_json(
                {"valid": False, "errors": [e.model_dump() for e in errors], "warnings": []}, None
            )
        return 2
    from solver.diagnostics import diagnose

    warnings = diagnose(scenario)
    if args.json:
        _write_json(
            {"valid": True, "errors": [], "warnings": [w.model_dump() for w in warnings]}, None
        )
    print(
        f"valid: {len(scenario.sites)} sites, {len(scenario.regions)} regions, {len(scenario.years)} years, {len(scenario.crews)} crew pools",
        file=sys.stderr,
    )
    for w in warnings:
        print(f"  warning {w.path}: {w.message}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from solver.evaluate import evaluate
    from solver.plan import PLAN_STATUSES

    clash = clashing_outputs(
        {"scenario": args.scenario, "plan": args.plan, "--baseline": args.baseline}, {}
    )
    if clash is not None:
        print(f"rdplan check: {clash}", file=sys.stderr)
        return 2
    try:
        scenario, errors = validate_document(read_input(args.scenario))
    except OSError as exc:
        print(f"cannot read {args.scenario}: {exc.strerror}", file=sys.stderr)
        return 2
    if scenario is None:
        print("invalid scenario:", file=sys.stderr)
        _print_errors(errors)
        return 2
    if args.baseline:  # a re-plan's plan counts its stability term against its baseline
        from solver.replan import apply_baseline

        try:
            scenario = apply_baseline(scenario, _baseline_plan(args.baseline))
        except ScenarioError as exc:
            print("invalid baseline:", file=sys.stderr)
            _print_errors(exc.errors)
            return 2
    # A plan document (SPEC §4), or every field at fault: a scenario given for the plan was
    # checked as a plan without builds ("breaks 4 rules", its weights as reported terms).
    plan = _read_plan(args.plan)
    if plan is None:
        return 1
    if plan.get("status") not in PLAN_STATUSES:
        _no_plan(args.plan, plan.get("status"), "check")
        return 1
    ev = evaluate(scenario, plan)
    if ev.holds:
        print(
            f"the plan holds: objective {ev.objective:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in ev.terms.model_dump().items())
            + ")",
            file=sys.stderr,
        )
        return 0
    print(f"the plan breaks {len(ev.violations)} rule(s):", file=sys.stderr)
    for v in ev.violations:
        print(f"  {v}", file=sys.stderr)
    terms = plan.get("terms")
    if not scenario.baseline and isinstance(terms, dict) and terms.get("stability"):
        print(
            "  (its stability term counts changes against a baseline this scenario has not:"
            " a re-plan's plan is checked with its --baseline)",
            file=sys.stderr,
        )
    return 1


def cmd_schema(args: argparse.Namespace) -> int:
    _write_json(json_schema(), args.out)
    return 0


def _settings_hold() -> bool:
    """Do the service's ``RDPLAN_*`` settings hold? If not, each bad one is named on stderr."""
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "RDPLAN_" + "_".join(str(part) for part in error["loc"]).upper()
            shown = "" if name == "RDPLAN_API_KEYS" else f"={error.get('input')!r}"  # secrets
            message = error_message(error)
            print(f"rdplan: {name}{shown}: {message}", file=sys.stderr)
        return False
    return True


def _database_holds() -> bool:
    """Can the service's database (``RDPLAN_DATABASE_URL``) be opened and migrated to the
    newest schema? If not, the reason is on stderr (the server's start-up would only log it
    in a traceback)."""
    from api.settings import get_settings
    from api.storage import DatabaseUnavailable, migrate

    try:
        migrate(get_settings().database_url)
    except DatabaseUnavailable as exc:
        print(f"rdplan: RDPLAN_DATABASE_URL: {exc}", file=sys.stderr)
        return False
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import run_server

    if not _settings_hold():
        return 2
    # before the database is migrated and a dispatcher might start on it: uvicorn said so in
    # its log after start-up, and exited 3
    taken = _address_problem(args.host, args.port)
    if taken is not None:
        print(f"rdplan: cannot listen on {args.host}:{args.port}: {taken}", file=sys.stderr)
        return 2
    if not _database_holds():
        return 2
    from api.settings import get_settings
    from api.worker import transport_problem

    broker = get_settings().broker_url
    problem = transport_problem(broker) if broker else None
    if problem is not None:
        print(f"rdplan: {problem}", file=sys.stderr)
        return 2
    run_server(host=args.host, port=args.port, migrated=True)
    return 0


def _address_problem(host: str, port: int) -> str | None:
    """Why ``serve`` cannot listen on ``host:port`` (a port taken, an address not of this
    machine), or None: every address the name resolves to bound and let go again, as
    asyncio's ``create_server`` under uvicorn binds them (SO_REUSEADDR, IPv6 sockets IPv6
    only; a review: ``localhost`` is ::1 and 127.0.0.1, either may be taken)."""
    import contextlib
    import socket

    probes: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            probe = socket.socket(family, kind, proto)
            probes.append(probe)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        for probe in probes:
            with contextlib.suppress(OSError):
                probe.close()
    return None


def cmd_worker(args: argparse.Namespace) -> int:
    from api.worker import run_worker

    if not _settings_hold():
        return 2
    return run_worker(concurrency=args.concurrency)


def cmd_generate(args: argparse.Namespace, rest: list[str]) -> int:
    from instances.generate import main as generate_main

    return generate_main(rest)


def _read_plan(path: str) -> dict[str, Any] | None:
    """A plan document from a user's file, or None after saying on stderr, field by field, why
    it is not one (:func:`solver.plan.read_plan_document`)."""
    try:
        doc, errors = read_plan_document(read_input(path))
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None
    if doc is None:
        print(f"{path} is not a plan document:", file=sys.stderr)
        _print_errors(errors)
    return doc


def _no_plan(path: str, status: Any, what: str) -> None:
    """Say on stderr that the plan file ``path`` is a verdict without a plan (``status``
    ``infeasible``, ``unknown`` or ``invalid``): it has no builds to ``what``."""
    print(f"{path} holds no plan (status {status!r}): it has no builds to {what}", file=sys.stderr)


def cmd_diff(args: argparse.Namespace) -> int:
    from solver.diff import NoBuildsError, diff_plans, format_diff

    clash = clashing_outputs(
        {"plan a": args.a, "plan b": args.b, "--scenario": args.scenario}, {"--out": args.out}
    )
    if clash is not None:
        print(f"rdplan diff: {clash}", file=sys.stderr)
        return 2
    a = _read_plan(args.a)
    b = _read_plan(args.b) if a is not None else None
    if a is None or b is None:
        return 2
    scenario = None
    if args.scenario:
        try:
            scenario, errors = validate_document(read_input(args.scenario))
        except OSError as exc:
            print(f"cannot read {args.scenario}: {exc.strerror}", file=sys.stderr)
            return 2
        if scenario is None:
            print("invalid scenario:", file=sys.stderr)
            _print_errors(errors)
            return 2
    try:
        diff = diff_plans(a, b, scenario)
    except NoBuildsError as exc:
        _no_plan(args.a if exc.side == "a" else args.b, exc.status, "compare")
        return 2
    if args.json:
        _write_json(diff, args.out)
    elif args.out:  # the report as the terminal shows it (it was printed, --out ignored)
        Path(args.out).write_text(format_diff(diff) + "\n", encoding="utf-8")
    else:
        print(format_diff(diff))
    return 0


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    from benchmarks.run import main as bench_main

    return bench_main(rest)


def cmd_batch(args: argparse.Namespace, rest: list[str]) -> int:
    from solver.variants import batch_main

    return batch_main(rest)


def build_parser() -> argparse.ArgumentParser:
    from solver.solve import BACKENDS, DEFAULT_BACKEND

    parser = argparse.ArgumentParser(
        prog="rdplan", description="Plan multi-year regional development programmes."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve a scenario and write its plan document")
    p.add_argument("scenario", help="scenario JSON file ('-' for stdin)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    p.add_argument("--time-limit", type=positive_float, default=60.0, help="seconds (default 60)")
    p.add_argument("--threads", type=thread_count, default=None, help="default: all cores")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument(
        "--gap",
        type=gap_fraction,
        default=0.0,
        help="stop once a plan is proved within this relative gap of the bound, a fraction as "
        "in the plan's gap field (0.001 = 0.1 %%; default 0: prove optimality)",
    )
    p.add_argument("--out", type=writable_file, help="write the plan JSON here instead of stdout")
    p.add_argument("--csv", type=writable_file, help="also write the builds as CSV here")
    p.add_argument("--baseline", help="a previous plan: stability reference and warm start")
    p.add_argument(
        "--freeze-through",
        type=int,
        default=None,
        help="fix every baseline build up to this year; with a plan document as --baseline, its"
        " training and crews in those years too",
    )
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    p.add_argument("--log", action="store_true", help="show the solver's own log")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("validate", help="check a scenario document and print every error")
    p.add_argument("scenario")
    p.add_argument(
        "--json", action="store_true", help="print errors and warnings as JSON on stdout"
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("check", help="check a plan against a scenario and recompute its objective")
    p.add_argument("scenario")
    p.add_argument("plan")
    p.add_argument(
        "--baseline",
        help="the previous plan a re-plan was solved against (solve --baseline): its stability"
        " term counts changes against it",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario document")
    p.add_argument("--out", type=writable_file)
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("serve", help="start the HTTP service on the embedded defaults")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run a Celery worker (RDPLAN_BROKER_URL)")
    p.add_argument("--concurrency", type=positive_int, default=1)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("diff", help="compare two plan documents")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--scenario", help="the scenario, for served-population curves")
    p.add_argument("--json", action="store_true", help="the diff as JSON")
    p.add_argument("--out", type=writable_file, help="write the diff here instead of stdout")
    p.set_defaults(func=cmd_diff)

    for name, helptext, func in (
        ("generate", "write a synthetic scenario (see --help)", cmd_generate),
        ("bench", "run the benchmark suite (see --help)", cmd_bench),
        ("batch", "solve scenario variants and compare them (see --help)", cmd_batch),
    ):
        p = sub.add_parser(name, help=helptext, add_help=False)
        p.set_defaults(func=func, passthrough=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if getattr(args, "passthrough", False):
            code = int(args.func(args, rest))
        else:
            code = int(args.func(args))
        sys.stdout.flush()  # here, where a failure is caught, not at the interpreter's exit
        return code
    except KeyboardInterrupt:
        # Ctrl-C outside a solve's own handling (a second one, another command): no traceback.
        with contextlib.suppress(OSError):
            print("rdplan: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, what a shell reports for a command interrupted by it
    except BrokenPipeError:
        # The reader went away (``rdplan diff A B | head``): stop quietly, as Unix tools do.
        # Python would report the pipe again while flushing stdout at exit, so point it at
        # /dev/null first (the Python docs' recipe for SIGPIPE).
        _stdout_to_devnull()
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it
    except OSError as exc:
        # An output that cannot be written (a full disk, /dev/full, a folder gone), where the
        # command has no answer of its own: one line, not a traceback. Reads are the
        # commands' own (exit 2, the file named).
        where = exc.filename or getattr(args, "out", None) or "stdout"
        with contextlib.suppress(OSError):
            print(f"rdplan: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        _stdout_to_devnull()  # what is left in stdout's buffer is lost
        return 1


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on it again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
