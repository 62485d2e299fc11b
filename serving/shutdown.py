"""A bounded stop: after SIGTERM the worker drains for a grace period, then exits whatever is still running.

Uvicorn stops accepting connections on SIGTERM and waits for open requests; BentoML's process manager waits a
day before it kills a worker. A request stuck on an unreachable registry, or a solver thread that cannot be
interrupted, would keep the process alive until an orchestrator's SIGKILL. The watchdog installed here wraps the
current SIGTERM handler (uvicorn's): the handler still runs, so draining starts as before, and a daemon thread
ends the process with exit status 0 once ``grace_seconds`` have passed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

logger = logging.getLogger(__name__)


def exit_after_grace_on_sigterm(grace_seconds: float) -> bool:
    """Wrap this process's SIGTERM handler with the watchdog; False when it cannot (not the main thread)."""
    previous = signal.getsignal(signal.SIGTERM)
    fired = threading.Event()

    def on_sigterm(signum, frame):
        if not fired.is_set():
            fired.set()
            logger.info("SIGTERM: draining for at most %.0f s", grace_seconds)
            threading.Thread(target=_exit_after, args=(grace_seconds,), name="shopml-stop", daemon=True).start()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os._exit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # signal handlers can only be set from the main thread
        logger.warning("no SIGTERM watchdog: the service was created outside the main thread")
        return False
    return True


def _exit_after(grace_seconds: float) -> None:
    time.sleep(grace_seconds)
    logger.warning("still running %.0f s after SIGTERM: exiting now", grace_seconds)
    logging.shutdown()
    os._exit(0)
