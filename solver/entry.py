"""The ``rdplan`` console script: :func:`solver.cli.main`, with a Ctrl-C in its first ~0.4 s,
while its modules are imported, answered as one anywhere else (``rdplan: interrupted``, exit
130) instead of a traceback (a QA pass): the signal is held until the imports are done, since
a KeyboardInterrupt raised inside one can surface as another error (pydantic-core's Rust
import of ``datetime`` panicked on it). Nothing heavy is imported here before that guard."""

from __future__ import annotations

import sys

from solver.interrupts import held_sigint


def main() -> int:
    try:
        with held_sigint():
            from solver.cli import main as cli_main
        return cli_main()
    except KeyboardInterrupt:  # solver.cli answers those while a command runs; this is before
        print("rdplan: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT
