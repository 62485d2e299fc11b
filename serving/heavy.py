"""The heavy lane: route plans and allocations run in a separate process pool, never beside the light routes.

A solver holds a core (and, through OR-Tools, often the interpreter lock) for up to its time limit. Run in the
service's own threads, four 10 s plans stalled ``/v1/audiences`` for 17 s. Here each plan runs in one of
``serve_heavy_workers`` spawned processes; at most ``serve_heavy_queue`` more wait for a worker, and a request
beyond that is answered 429 with ``Retry-After`` at once instead of queueing without bound. Tasks (submitted,
then polled) wait for a place instead: they are asynchronous already.

The jobs are module-level functions that take and return plain JSON-safe dicts, so nothing but data crosses
the process boundary; an error in a job comes back as the (status, body) the service would have answered.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from serving.errors import ServingError

logger = logging.getLogger(__name__)

JobResult = tuple[int, dict[str, Any]]
"""(HTTP status, JSON body) of a job: 200 and the plan, or the error status and body."""


class HeavyLane:
    """A bounded process pool for solver work: ``workers`` run, ``queue`` wait, the rest get 429."""

    def __init__(self, workers: int = 1, queue: int = 4, retry_after_seconds: int = 5):
        self.workers = max(1, int(workers))
        self.capacity = self.workers + max(0, int(queue))
        self.retry_after_seconds = retry_after_seconds
        self._places = threading.BoundedSemaphore(self.capacity)
        self._pool_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                import multiprocessing

                # spawn: the service process has threads (loaders, the event loop); forking it is unsafe
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_solver_process)
            return self._pool

    def warm_up(self) -> None:
        """Start the workers and import the solvers in them, so that the first plan does not pay for it."""
        for _ in range(self.workers):
            self._executor().submit(_warm_up)

    @property
    def in_flight(self) -> int:
        return self.capacity - self._places._value  # type: ignore[attr-defined]  # BoundedSemaphore's count

    def submit(self, job: Callable[..., JobResult], *args: Any, wait: bool = False) -> Future:
        """Run ``job(*args)`` in the pool; the future's result is the job's (status, body).

        Without ``wait`` a full lane raises a 429 :class:`ServingError` with ``Retry-After``; with it the caller
        blocks until a place frees (tasks).
        """
        if not self._places.acquire(blocking=wait):
            raise ServingError(
                f"the solver is busy ({self.in_flight} plans running or waiting); retry in "
                f"{self.retry_after_seconds} s, or submit a task (POST /v1/routes/plan-task/submit)",
                status=429, headers={"Retry-After": str(self.retry_after_seconds)},
            )
        try:
            future = self._executor().submit(job, *args)
        except BrokenProcessPool:
            self._reset()
            future = self._executor().submit(job, *args)
        except BaseException:
            self._places.release()
            raise
        future.add_done_callback(lambda _: self._places.release())
        return future

    def result(self, future: Future) -> dict[str, Any]:
        """The body of a finished job (blocking), or the :class:`ServingError` it answered with."""
        try:
            outcome = future.result()
        except BrokenProcessPool as exc:
            raise self._broken() from exc
        return _body(outcome)

    async def awaited(self, future: Future) -> dict[str, Any]:
        """:meth:`result` for the event loop: awaits the job without holding a request thread."""
        import asyncio

        try:
            outcome = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            raise self._broken() from exc
        return _body(outcome)

    def _broken(self) -> ServingError:
        self._reset()
        return ServingError("the solver process stopped unexpectedly; retry the request", status=503)

    def _reset(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            logger.warning("the solver pool broke (a worker died); starting a new one")
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _body(outcome: JobResult) -> dict[str, Any]:
    status, body = outcome
    if status != 200:
        raise ServingError(body.get("error", "the request failed"), status=status, detail=body.get("detail"))
    return body


# --- jobs (run in the pool's processes) ---------------------------------------------------------------------------


def _solver_process() -> None:
    """Set up a solver process: a lower CPU priority (``nice`` 10), so that on a busy machine the request
    threads get the core first, and death with its parent: Linux kills it when the service process dies,
    however it dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so a crashed worker leaves no solver behind."""
    import contextlib
    import ctypes
    import signal
    import sys

    with contextlib.suppress(OSError):
        os.nice(10)

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _warm_up() -> JobResult:
    import optimization.allocation  # noqa: F401
    import optimization.routing  # noqa: F401

    return 200, {}


def plan_routes_job(request: dict[str, Any]) -> JobResult:
    """A verified route plan for a validated :class:`serving.schemas.RoutePlanRequest` (as a dict)."""
    from optimization.routing import Options, RouteRequest, plan_routes

    return _answer(lambda: plan_routes(RouteRequest(**{**request, "options": Options(**request["options"])})))


def allocate_job(request: dict[str, Any]) -> JobResult:
    """A verified allocation for a validated :class:`serving.schemas.StockAllocateRequest` (as a dict)."""
    from optimization.allocation import AllocationRequest, allocate
    from optimization.allocation.options import AllocationOptions

    def solve():
        try:
            return allocate(AllocationRequest(**{**request, "options": AllocationOptions(**request["options"])}))
        except (ArithmeticError, ValueError) as exc:
            if type(exc).__name__ == "ValidationError":
                raise
            raise ServingError(f"the allocation cannot be solved: {exc}") from exc

    return _answer(solve)


def _answer(solve: Callable[[], Any]) -> JobResult:
    from serving.errors import describe

    try:
        return 200, json_safe(solve().to_dict())
    except Exception as exc:  # noqa: BLE001 - mapped like any request error; unknown ones are logged as 500
        return describe(exc)


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
