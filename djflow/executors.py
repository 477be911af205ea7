"""Executors run make calls: in this process, or in local worker processes.

The engine reads each make's inputs and writes its rows; an executor only calls the
function. The process executor therefore gets its inputs shipped with the call
(:class:`djflow.shipped.ShippedInput`), so the workers never touch the database.
"""

from __future__ import annotations

import itertools
import multiprocessing
import operator
import os
import pickle
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from .errors import PopulateError
from .hookspecs import hookimpl
from .shipped import opened_inputs

CHUNK_SECONDS = 0.05  # how much work, by the recent pace, one message to a worker carries at most
MAX_CHUNK = 32


@dataclass
class MakeCall:
    """One make to run: the function, the key and the injected arguments."""

    table: str
    key: dict
    make: Any  # a TableDef; calling it calls the make
    kwargs: dict = field(default_factory=dict)


@dataclass
class MakeOutcome:
    """What a make returned, or the exception it raised (with its formatted traceback)."""

    result: Any = None
    error: BaseException | None = None
    traceback: str = ""
    seconds: float = 0.0


def run_make(call: MakeCall) -> MakeOutcome:
    """Call one make and capture its result or its exception.

    Inputs shipped with the call become queries over an in-memory database first, so an
    executor anywhere (a worker process, another machine) only has to call this.
    """
    started = time.perf_counter()
    try:
        with opened_inputs(call.kwargs) as kwargs:
            result = call.make(**kwargs)
    except Exception as error:  # noqa: BLE001 - every failure of user code is recorded
        return MakeOutcome(error=error, traceback=traceback.format_exc(), seconds=time.perf_counter() - started)
    return MakeOutcome(result=result, seconds=time.perf_counter() - started)


def run_makes_in_worker(calls: list[MakeCall]) -> list[bytes]:
    """Run a chunk of makes in a worker process; each outcome comes back pickled on its own,
    so one result that cannot be pickled fails only its own key (with its message kept)."""
    pickled = []
    for call in calls:
        outcome = run_make(call)
        try:
            pickled.append(pickle.dumps(outcome))
        except Exception as error:  # noqa: BLE001 - e.g. an exception class defined inside the make
            failed = outcome.error if outcome.error is not None else error
            text = f"{type(failed).__name__}: {failed}"
            if outcome.error is None:
                text = f"the make's result cannot be sent back from the worker process: {text}"
            replacement = MakeOutcome(error=RuntimeError(text), traceback=outcome.traceback or traceback.format_exc(),
                                      seconds=outcome.seconds)
            pickled.append(pickle.dumps(replacement))
    return pickled


def exit_with_parent(parent: int) -> None:
    """In a worker process: exit when the process that started it is gone (e.g. killed with SIGKILL),
    instead of waiting forever for work that will never come."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="djflow-parent-watch", daemon=True).start()


class LocalExecutor:
    """Runs each make in the calling process, one after another."""

    name = "local"
    prefetch_inputs = False

    def map(self, calls: Iterable[MakeCall]) -> Iterator[tuple[MakeCall, MakeOutcome]]:
        for call in calls:
            yield call, run_make(call)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Runs makes in ``processes`` local worker processes (not daemonic: a make may start its own pool)."""

    name = "processes"
    prefetch_inputs = True

    def __init__(self, processes: int):
        self.processes = processes
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context(method),
            initializer=exit_with_parent, initargs=(os.getpid(),),
        )
        # fork every worker now, before populate starts its heartbeat thread: a process forked
        # while another thread is inside SQLite can inherit a held SQLite lock and hang forever
        try:
            self.pool.submit(os.getpid).result()
        except (BrokenProcessPool, OSError) as error:  # e.g. fork refused for lack of memory
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise PopulateError(f"could not start {processes} worker processes ({error}); "
                                "try fewer processes, or free some memory") from None
        self.drained = False

    def map(self, calls: Iterable[MakeCall]) -> Iterator[tuple[MakeCall, MakeOutcome]]:
        in_flight: dict[Future, list[MakeCall]] = {}
        calls = iter(calls)
        exhausted = False
        chunk = 1
        make_seconds: float | None = None
        while True:
            while not exhausted and len(in_flight) < 2 * self.processes:
                batch = list(itertools.islice(calls, chunk_size(chunk, operator.length_hint(calls, -1), self.processes)))
                if not batch:
                    exhausted = True
                    break
                try:
                    in_flight[self.pool.submit(run_makes_in_worker, batch)] = batch
                except BrokenProcessPool as error:
                    raise _worker_died([*batch, *itertools.chain(*in_flight.values())]) from error
            if not in_flight:
                self.drained = True
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                batch = in_flight.pop(future)
                try:
                    outcomes = [pickle.loads(data) for data in future.result()]
                except BrokenProcessPool as error:
                    # which key killed the worker is unknown: record no error, the keys run again next time
                    raise _worker_died([*batch, *itertools.chain(*in_flight.values())]) from error
                for call, outcome in zip(batch, outcomes):
                    make_seconds = outcome.seconds if make_seconds is None else 0.8 * make_seconds + 0.2 * outcome.seconds
                    yield call, outcome
            # quick makes travel in chunks of about CHUNK_SECONDS of work: fewer round trips to the workers
            chunk = max(1, min(MAX_CHUNK, int(CHUNK_SECONDS / max(make_seconds or 1.0, 1e-6))))

    def close(self) -> None:
        """Wait for the workers when every call finished; otherwise (an error, Ctrl-C) end them now.

        An abandoned call's result would be dropped anyway (workers never write), so a make
        that runs for an hour must not keep Ctrl-C waiting.
        """
        if self.drained:
            self.pool.shutdown(wait=True)
            return
        workers = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=5)


def chunk_size(chunk: int, calls_left: int, processes: int) -> int:
    """How many calls the next message to a worker carries: ``chunk``, or fewer as the work runs out.

    ``calls_left`` is -1 when unknown. The last chunks shrink towards one call each, so the
    workers finish together instead of one computing a whole chunk while the others wait.
    """
    if calls_left < 0:
        return chunk
    return max(1, min(chunk, -(-calls_left // (2 * processes))))


def _worker_died(calls: list[MakeCall]) -> PopulateError:
    keys = ", ".join(str(call.key) for call in calls)
    return PopulateError(
        f"a worker process died (killed, out of memory, or a crash in native code) while computing "
        f"{calls[0].table} for one of these keys: {keys}; nothing of theirs was written and they run again next time"
    )




@hookimpl
def register_executors(register):
    """The built-in executors: ``local`` (one process) and ``processes`` (local workers)."""
    register("local", lambda processes: LocalExecutor())
    register("processes", ProcessExecutor)
