"""A Ctrl-C held while code that must not be interrupted runs, then given to its handler:
standard library only, so that the console script (:mod:`solver.entry`) holds it while it
imports everything else."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held_sigint() -> Iterator[threading.Event]:
    """A Ctrl-C held as an event, then given to the handler it was meant for on the way out (a
    KeyboardInterrupt, or the CLI's stop). Raised inside a Python callback of HiGHS it was lost
    there, and the solve ran on to its time limit (``rdplan batch`` interrupted in its LP went
    on for minutes, a CI run); raised inside an import it surfaced as another error. Elsewhere
    than on the main thread, or with SIGINT ignored, nothing is held."""
    held = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield held
        return
    signal.signal(signal.SIGINT, lambda signum, frame: held.set())
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)
    if held.is_set():
        previous(signal.SIGINT, None)
