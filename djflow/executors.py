"""Executors run make calls: in this process, or in local worker processes.

The engine reads each make's inputs and writes its rows; an executor only calls the
function. The process executor therefore gets inputs fetched in advance
(:class:`djflow.fetched.FetchedRelation`), so the workers never touch the database.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from .hookspecs import hookimpl


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
    """Call one make and capture its result or its exception."""
    started = time.perf_counter()
    try:
        result = call.make(**call.kwargs)
    except Exception as error:  # noqa: BLE001 - every failure of user code is recorded
        return MakeOutcome(error=error, traceback=traceback.format_exc(), seconds=time.perf_counter() - started)
    return MakeOutcome(result=result, seconds=time.perf_counter() - started)


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
        self.pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context(method))

    def map(self, calls: Iterable[MakeCall]) -> Iterator[tuple[MakeCall, MakeOutcome]]:
        in_flight: dict[Future, MakeCall] = {}
        calls = iter(calls)
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < 2 * self.processes:
                call = next(calls, None)
                if call is None:
                    exhausted = True
                    break
                in_flight[self.pool.submit(run_make, call)] = call
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                call = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:  # noqa: BLE001 - e.g. a result that cannot be pickled
                    outcome = MakeOutcome(error=error, traceback=traceback.format_exc())
                yield call, outcome

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


ExecutorFactory = Callable[[int], Any]


@hookimpl
def register_executors(register):
    """The built-in executors: ``local`` (one process) and ``processes`` (local workers)."""
    register("local", lambda processes: LocalExecutor())
    register("processes", ProcessExecutor)
