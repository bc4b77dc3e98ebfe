"""Where flows and tasks run: in Prefect when a Prefect API is configured, else in this process.

    @flow("bars", workers=4)            # instead of prefect's @flow(name=..., task_runner=...)
    def ingest_period_bars(...): ...
    @task(name="fetch", cache_policy=NO_CACHE_POLICY, ...)
    async def fetch(...): ...

A `Flow` called inside a Prefect flow run is a Prefect subflow; called with a Prefect API
configured (PREFECT_API_URL, a profile, a test harness) it is a Prefect flow run, with its task
runs, logs and summary artifact in the UI. Otherwise it runs the same function locally: tasks
submitted to a thread pool of the flow's size (`Task.submit` returns a `concurrent.futures.Future`,
which has the calls jobs.py uses of a Prefect future), tasks called inline, no artifact. No
temporary Prefect server is started and Prefect is not even imported (~3 s on a busy 2-core box),
so a command with nothing to do takes about as long as `kisdb --help`.

Prefect's task options (names, timeouts, retries) apply under Prefect only; locally a fetch is
bounded by its requests' own HTTP timeouts, and a task is never retried (the connector retries
each request; tasks.py says why a task retry would multiply that).

Deployments need Prefect's own flow objects: `Flow.prefect` builds one (pipelines/flows.py holds
them for prefect.yaml).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property, partial, update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar

from pipelines.config import prefect_api_configured
from pipelines.run_names import current_run_name

P = ParamSpec("P")
R = TypeVar("R")

# Prefect's NO_CACHE, named without importing Prefect: frames go in and out of tasks, and hashing
# a big frame for a cache key costs ~0.4 s a call.
NO_CACHE_POLICY = "no-cache"

# The thread pool of the local flow run in progress (None: not in a local run).
_local_pool: ContextVar[ThreadPoolExecutor | None] = ContextVar("kisdb_local_pool", default=None)


def prefect_run_active() -> bool:
    """Inside a Prefect flow run (a deployment's run, a flow called with an API configured)."""
    if "prefect" not in sys.modules:  # not loaded: no run can be active
        return False
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def use_prefect() -> bool:
    """Whether a flow called now runs in Prefect: inside a Prefect run, or outside any local run
    with a Prefect API configured."""
    if prefect_run_active():
        return True
    return _local_pool.get() is None and prefect_api_configured()


def _options(options: dict[str, Any]) -> dict[str, Any]:
    if options.get("cache_policy") == NO_CACHE_POLICY:
        from prefect.cache_policies import NO_CACHE

        options = {**options, "cache_policy": NO_CACHE}
    return options


class Flow(Generic[P, R]):
    """A flow function that runs in Prefect or locally (see the module docstring)."""

    def __init__(
        self, fn: Callable[P, R], name: str, workers: int | None, options: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.name = name
        self.workers = workers
        self.options = options
        update_wrapper(self, fn)

    @cached_property
    def prefect(self) -> Any:
        """The Prefect flow of this function (built on first use: it imports Prefect)."""
        from prefect import flow
        from prefect.task_runners import ThreadPoolTaskRunner

        runner = (
            {}
            if self.workers is None
            else {"task_runner": ThreadPoolTaskRunner(max_workers=self.workers)}
        )
        # Runs named after what they do ("bars 005930..(+49) D 2026-12-02"), not at random.
        named = {"flow_run_name": partial(current_run_name, self.name)}
        return flow(name=self.name, **runner, **(named | self.options))(self.fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if use_prefect():
            return self.prefect(*args, **kwargs)  # type: ignore[no-any-return]
        with _local_run(self.workers):
            return self.fn(*args, **kwargs)


@contextmanager
def _local_run(workers: int | None) -> Iterator[None]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kisdb-task")
    token = _local_pool.set(pool)
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _local_pool.reset(token)
        # Ctrl-C / SIGTERM: drop what has not started and do not wait for the running fetches
        # (the run's client is closed: their waits end now, a read in progress at its timeout).
        pool.shutdown(wait=not interrupted, cancel_futures=True)


def flow(
    name: str, *, workers: int | None = None, **options: Any
) -> Callable[[Callable[P, R]], Flow[P, R]]:
    """Decorate a flow function: at most `workers` concurrent tasks (None: the thread pool's
    default); `options` go to Prefect's @flow."""

    def decorate(fn: Callable[P, R]) -> Flow[P, R]:
        return Flow(fn, name, workers, options)

    return decorate


class Task(Generic[P, R]):
    """A task function: a Prefect task inside a Prefect flow run, else a plain call."""

    def __init__(self, fn: Callable[P, R], options: dict[str, Any]) -> None:
        self.fn = fn
        self.options = options
        update_wrapper(self, fn)

    @cached_property
    def prefect(self) -> Any:
        from prefect import task

        return task(**_options(self.options))(self.fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if prefect_run_active():
            return self.prefect(*args, **kwargs)  # type: ignore[no-any-return]
        return self._local(*args, **kwargs)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """A future of the task's result: Prefect's in a Prefect run, else the local pool's."""
        if prefect_run_active():
            return self.prefect.submit(*args, **kwargs)
        pool = _local_pool.get()
        if pool is None:
            raise RuntimeError(f"{self.fn.__name__}.submit() outside a flow run")
        future: Future[Any] = pool.submit(self._local, *args, **kwargs)
        return future

    def _local(self, *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(self.fn):
            return asyncio.run(self.fn(*args, **kwargs))
        return self.fn(*args, **kwargs)


def task(**options: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Decorate a task function; `options` go to Prefect's @task (`cache_policy=NO_CACHE_POLICY`
    for Prefect's NO_CACHE)."""

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return Task(fn, options)

    return decorate
