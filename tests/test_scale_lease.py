"""App-key leases and the token hand-over, against Prefect's test API (no KIS calls)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from connectors.kis.auth import Auth
from connectors.kis.filelock import write_private
from connectors.kis.settings import Secret, Settings
from pipelines.lease import KeyHold, lease_app_key, lease_first_free, shared_token_cache


def test_an_app_key_is_leased_to_one_holder_at_a_time(prefect_harness: None) -> None:
    with lease_app_key("unitkey1"):
        started = time.monotonic()
        with pytest.raises(TimeoutError), lease_app_key("unitkey1", timeout=1):
            pass
        assert time.monotonic() - started >= 0.9
        with lease_app_key("unitkey2", timeout=10):  # another key is free meanwhile
            pass
    with lease_app_key("unitkey1", timeout=10):  # released on exit
        pass


def test_a_chunk_takes_whichever_key_is_free(prefect_harness: None) -> None:
    with lease_app_key("unitkey3"):
        started = time.monotonic()
        with lease_first_free(["unitkey3", "unitkey4"], timeout=10) as held:
            assert held == "unitkey4"  # the preferred key is busy: no waiting for it
            assert time.monotonic() - started < 5
            with pytest.raises(TimeoutError), lease_first_free(["unitkey4", "unitkey3"], timeout=1):
                pass

    held_by_holder, released = threading.Event(), threading.Event()

    def holder() -> None:
        with lease_app_key("unitkey5"):
            held_by_holder.set()
            released.wait(10)
            time.sleep(0.3)  # let go a moment after the waiter started: it must poll for it

    thread = threading.Thread(target=holder)
    thread.start()
    assert held_by_holder.wait(10)
    released.set()
    started = time.monotonic()
    with lease_first_free(["unitkey5"], timeout=20) as held:
        # Taken soon after the holder let go (polled about twice a second; slack for a busy CI).
        assert held == "unitkey5" and time.monotonic() - started < 4.0
    thread.join()


def _settings(home: Path) -> Settings:
    return Settings(
        env="real",
        app_key=Secret("PSleaseUnitKey000000000000000000001"),
        app_secret=Secret("S" * 40),
        base_url="http://127.0.0.1:9",
        home=home,
    )


def test_the_token_travels_with_the_lease_to_another_machine(
    prefect_harness: None, tmp_path: Path
) -> None:
    first, second = _settings(tmp_path / "machine-1"), _settings(tmp_path / "machine-2")
    issued = {
        "access_token": "tok-1",
        "expires_at": time.time() + 3600,
        "issued_at": time.time(),
        "last_attempt": time.time(),
        "base_url": "http://127.0.0.1:9",
    }
    with shared_token_cache(first):
        # What the connector does when it issues a token on machine 1.
        write_private(Auth(first).cache_path, json.dumps(issued).encode())
    started = time.monotonic()
    with shared_token_cache(second):
        cached = json.loads(Auth(second).cache_path.read_bytes())
    assert cached["access_token"] == "tok-1"
    assert cached["last_attempt"] == pytest.approx(issued["last_attempt"])
    # Machine 2 started within the hand-over window, so it waited out machine 1's last second.
    assert time.monotonic() - started >= 0.5


def test_a_worker_keeps_its_key_after_the_flow_run_that_took_it(prefect_harness: None) -> None:
    from prefect import flow

    hold = KeyHold(lease_duration=60)

    @flow
    def chunk(key_ids: list[str]) -> tuple[str, bool]:
        with hold.taking(key_ids) as taken:
            return taken

    try:
        assert chunk(["unitkey6", "unitkey7"]) == ("unitkey6", True)
        # The run is over, the worker still holds the key: nobody else may take it...
        with pytest.raises(TimeoutError), lease_app_key("unitkey6", timeout=1):
            pass
        # ... and its next run uses it as is, without a new lease.
        assert chunk(["unitkey7", "unitkey6"]) == ("unitkey6", False)
    finally:
        hold.release()
    with lease_app_key("unitkey6", timeout=10):  # free once released
        pass
