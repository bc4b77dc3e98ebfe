"""App-key leases across machines: one Prefect global concurrency slot per app key (limit 1).

    with lease_first_free([k.key_id for k in keys]) as key_id:   # the first free key
        with use_runtime(config=config.with_key(key)) as rt, shared_token_cache(rt.settings):
            ...  # this process's limiter now owns the key's whole per-second budget

KIS counts its per-second budget and its one-token-per-minute rule per app key, not per machine.
Our limiter and token cache are per machine (a locked file under KISDB_HOME), so scale-out makes
the key itself the unit of exclusion: a flow run that calls KIS first takes the key's slot, and
nobody else on any machine uses that key until it is released. Many keys -> many workers in
parallel; a run that finds its preferred key busy takes another free one rather than wait.

The slot is a Prefect lease, renewed in the background while held; if the holder's machine dies,
the lease expires after `lease_duration` seconds and the key is free again. Losing the lease while
still running cancels the holder (`raise_on_lease_renewal_failure`), since someone else may
already be using the key.

The token travels with the lease: `shared_token_cache` copies the key's token cache from a Prefect
Secret block into the local cache file before the first call and back after the last, so a token
issued on one machine is reused on the next (no second issuance inside KIS's one-per-minute window).
It also records when the key was released, and the next holder waits out the previous holder's
last rate window (about a second) before it sends, so a hand-over never doubles the rate.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError  # not re-exported
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from connectors.kis.auth import Auth
from connectors.kis.filelock import write_private
from connectors.kis.settings import Settings

log = logging.getLogger(__name__)

LIMIT_PREFIX = "kis-app-key-"
TOKEN_BLOCK_PREFIX = "kis-token-"
# The limiter's window is capacity / (budget * utilisation) ~ 1.05 s; wait a little longer.
HANDOFF_SECONDS = 1.1
# How often a waiting flow run tries the keys again: the longest a freed key stays idle.
POLL_SECONDS = 0.5


def limit_name(key_id: str) -> str:
    """The global concurrency limit guarding one app key (key_id: its fingerprint, not a secret)."""
    return f"{LIMIT_PREFIX}{key_id}"


def ensure_limit(name: str, limit: int = 1) -> None:
    """Create the limit (or set it back to `limit`); tolerate a concurrent creator."""
    # ObjectAlreadyExists: another worker created it between our read and our create (limit 1 too).
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.upsert_global_concurrency_limit_by_name(name, limit)


@contextmanager
def lease_first_free(
    key_ids: Sequence[str],
    *,
    timeout: float | None = None,
    lease_duration: float = 60.0,
    poll: float = POLL_SECONDS,
) -> Iterator[str]:
    """Hold the slot of the first of `key_ids` that is free (earlier ones win a tie) for the
    duration of the block, waiting up to `timeout` seconds; yields the key id held.

    Each round tries every key once without waiting, then sleeps ~`poll` seconds. Prefect's own
    wait would sleep the Retry-After its server hands out (about the holders' average occupancy,
    up to 30 s), leaving a key idle long after its holder let go.
    """
    ids = list(dict.fromkeys(key_ids))
    if not ids:
        raise ValueError("no app keys to lease")
    for key_id in ids:
        ensure_limit(limit_name(key_id))
    started = time.monotonic()
    while True:
        for key_id in ids:
            with ExitStack() as stack:
                if not _try_hold(stack, limit_name(key_id), lease_duration):
                    continue
                log.info("leased app key %s after %.1f s", key_id, time.monotonic() - started)
                yield key_id
                return
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            raise TimeoutError(f"no free app key among {len(ids)} after {waited:.1f} s")
        pause = poll * random.uniform(0.5, 1.5)  # jitter: waiters do not poll in step
        time.sleep(pause if timeout is None else max(0.0, min(pause, timeout - waited)))


def _try_hold(stack: ExitStack, name: str, lease_duration: float) -> bool:
    """Take the limit's only slot now if it is free (one request, no waiting)."""
    try:
        stack.enter_context(
            concurrency(
                name,
                occupy=1,
                max_retries=0,  # a busy slot answers 423 at once instead of sleeping
                lease_duration=lease_duration,
                strict=True,  # a missing limit must never mean "no limit"
                raise_on_lease_renewal_failure=True,
            )
        )
    except ConcurrencySlotAcquisitionError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423:
            return False  # held by someone else
        raise
    return True


@contextmanager
def lease_app_key(
    key_id: str, *, timeout: float | None = None, lease_duration: float = 60.0
) -> Iterator[None]:
    """Hold one app key's slot for the duration of the block (waits up to `timeout` seconds)."""
    with lease_first_free([key_id], timeout=timeout, lease_duration=lease_duration):
        yield


def token_block_name(settings: Settings) -> str:
    if settings.app_key is None:
        raise ValueError("settings carry no app key")
    return f"{TOKEN_BLOCK_PREFIX}{settings.env}-{settings.app_key.fingerprint()}"


def _read_block(name: str) -> dict[str, Any]:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    except (ValueError, ObjectNotFound):
        return {}
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _write_block(name: str, data: dict[str, Any]) -> None:
    from prefect.blocks.system import Secret

    Secret(value=json.dumps(data)).save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]


def merge_caches(local: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """The newer token of the two, and the later issuance attempt (for the 1/min rule)."""
    newer = (
        shared if float(shared.get("issued_at", 0)) > float(local.get("issued_at", 0)) else local
    )
    merged = dict(newer)
    attempts = [float(d["last_attempt"]) for d in (local, shared) if "last_attempt" in d]
    if attempts:
        merged["last_attempt"] = max(attempts)
    return merged


def _read_json(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def shared_token_cache(
    settings: Settings,
    *,
    ensure_token: Callable[[], object] | None = None,
    handoff: float = HANDOFF_SECONDS,
) -> Iterator[None]:
    """Pull the key's token cache into this machine's cache file; push it back on exit.

    Call only while holding the key's lease: the lease makes this read-modify-write exclusive.
    `settings` must be resolved (base URL set); the cache file format is the connector's.
    `ensure_token` (e.g. `client.token`) gets a valid token at once, which is pushed before the
    work starts: if this machine then dies, the next holder still finds the token.
    """
    auth = Auth(settings)
    block = token_block_name(settings)
    shared = _read_block(block)
    released = float(shared.pop("released_at", 0.0))
    wait = released + handoff - time.time()
    if 0 < wait <= handoff:
        time.sleep(wait)
    if shared:
        with auth.lock:
            merged = merge_caches(_read_json(auth.cache_path), shared)
            write_private(auth.cache_path, json.dumps(merged).encode())

    def push(**extra: float) -> None:
        with auth.lock:
            local = _read_json(auth.cache_path)
        if local:
            _write_block(block, {**local, **extra})

    if ensure_token is not None:
        ensure_token()
        push()
    try:
        yield
    finally:
        push(released_at=time.time())


class KeyHold:
    """An app-key lease kept across flow runs by a long-lived worker (pipelines/chunk_worker.py).

    A chunk run takes the held key as is: no lease round trip, no token hand-over, no wait for
    the previous holder's rate window, and no moment in which the key is free and idle between
    two chunks of this worker. The lease (renewed in the background) and the token's push back
    to the shared cache end with `release`, which the worker calls when it runs out of chunks.
    Thread-safe: a worker runs several chunks at once on its key.
    """

    def __init__(self, lease_duration: float) -> None:
        self.lease_duration = lease_duration
        self.key_id: str | None = None
        self._stack = ExitStack()
        self._lock = threading.RLock()

    @contextmanager
    def taking(self, key_ids: Sequence[str]) -> Iterator[tuple[str, bool]]:
        """Yields the held key when it is one of `key_ids`, else the first free of them, leased
        now; and whether it was leased now. Inside the block (other takers wait) the caller pulls
        a fresh lease's token and hands it to `keep`, so no run calls KIS on the key before."""
        with self._lock:
            if self.key_id in key_ids:
                yield self.key_id, False
                return
            self.release()
            lease = lease_first_free(key_ids, lease_duration=self.lease_duration)
            # Taken in an empty context: inside a flow run, Prefect records the lease in the
            # run's ConcurrencyContext and releases it when the run ends, while this worker
            # still sends on the key (a second holder then doubled the rate).
            self.key_id = contextvars.Context().run(self._stack.enter_context, lease)
            yield self.key_id, True

    def keep(self, context: contextlib.AbstractContextManager[Any]) -> None:
        """Hold `context` (the key's `shared_token_cache`) as long as the lease."""
        with self._lock:
            self._stack.enter_context(context)

    def release(self) -> None:
        with self._lock:
            if self.key_id is not None:
                log.info("releasing app key %s", self.key_id)
            self.key_id = None
            self._stack.close()
            self._stack = ExitStack()
