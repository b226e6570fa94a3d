"""argparse types of rdplan's commands: a bad value is refused at once, named, with exit 2."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path


def read_input(path: str) -> bytes:
    """A file's bytes ('-': stdin's): the JSON readers decode them, and name a file that is not
    UTF-8 text as one that is not JSON, with the other errors."""
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def gap_fraction(text: str) -> float:
    """A relative gap tolerance, as the plan document's ``gap``: a fraction in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in [0, 1) (0.001 is 0.1 %), not {text}"
        )
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def thread_count(text: str) -> int:
    """``--threads``: at least 1, at most this machine's cores (as the service caps it). More
    threads than cores only slow a solve down: a thousand made a 0.02-s solve time out, and
    more ran past their time limit or out of memory."""
    from solver.backends.base import default_threads

    value, cores = positive_int(text), default_threads()
    if value > cores:
        raise argparse.ArgumentTypeError(
            f"this machine has {cores} core(s): at most {cores} threads, not {text}"
        )
    return value


def writable_file(text: str) -> str:
    """argparse type of a file a command writes (``--out``, ``--csv``): refused at once when it
    names a folder, or its folder is missing or read-only, so that a solve does not run for
    minutes only to fail at its end."""
    if text == "-":  # stdin's name among inputs; it wrote a file named "-"
        raise argparse.ArgumentTypeError(
            "'-' is not a file: give a file name (a plan, a diff or the schema goes to stdout"
            " when --out is left out)"
        )
    path = Path(text)
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: there is no folder {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    # Permissions do not say it all (root passes every check, /proc takes no new file): the
    # file opened for writing as the command will, left as it was (created and removed when
    # new, opened to append nothing when there).
    existed = path.exists()
    if existed and not path.is_file():
        return text  # a FIFO, /dev/null: opened and closed here, a FIFO's reader would quit
    try:
        with open(path, "a" if existed else "x", encoding="utf-8"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write {text}: {exc.strerror or exc}") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()
    return text


def clashing_outputs(inputs: dict[str, str | None], outputs: dict[str, str | None]) -> str | None:
    """Why an output file (``{"--out": path}``) would overwrite an input (``{"scenario": path}``,
    stdin's ``-`` aside) or another output, or why two inputs are both stdin (``-``: the second
    read an empty document), or None: a command run so would replace what it read, or one
    output by the other."""
    stdin = [name for name, value in inputs.items() if value == "-"]
    if len(stdin) > 1:
        return f"{' and '.join(stdin)} are both '-': stdin can be read once, give a file for all but one"
    files = {k: Path(v).resolve() for k, v in {**inputs, **outputs}.items() if v and v != "-"}
    for out, path in outputs.items():
        for other, where in files.items():
            if path and other != out and _same_file(Path(path).resolve(), where):
                return f"{out} {path} is also the {other} file: it would be overwritten; choose another file"
    return None


def _same_file(a: Path, b: Path) -> bool:
    """One file by path, or by inode where both exist (a hard link: two paths, one file)."""
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError("must lie in 0..2147483647")
    return value


def port(text: str) -> int:
    """``serve --port``: a TCP port (0: any free one); 99999 ended in an OverflowError."""
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port lies in 0..65535, not {text}")
    return value
