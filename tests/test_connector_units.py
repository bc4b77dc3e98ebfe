"""Pure unit tests of the connector core: errors, settings, limiter arithmetic, paging, backoff."""

from __future__ import annotations

import json
import logging
import math
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.kis import (
    Endpoint,
    KisApiError,
    KisAuthError,
    KisClient,
    KisConfigError,
    KisError,
    KisHttpError,
    KisNoData,
    KisNotAvailable,
    KisPagingError,
    KisProtocolError,
    KisRateLimited,
    KisResponse,
    KisServerError,
    KisTokenError,
    KisTokenExpired,
    KisTokenIssueThrottled,
    Secret,
    Settings,
    error_from_response,
)
from connectors.kis.auth import parse_token_expiry
from connectors.kis.backoff import Backoff, delay_for
from connectors.kis.ratelimit import (
    IN_FLIGHT_HOLD,
    MIN_MARGIN,
    STALE_AFTER,
    Pace,
    answered,
    decide,
    empty_state,
    next_slot,
    penalise,
)
from connectors.kis.windows import CursorPages, PageRequest

CTX = {"tr_id": "FHKST01010100", "path": "/uapi/x"}


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."},
            KisRateLimited,
        ),
        (
            200,
            {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."},
            KisRateLimited,
        ),
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."},
            KisTokenExpired,
        ),
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "유효하지 않은 token 입니다."},
            KisTokenError,
        ),
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00124", "msg1": "session"},
            KisTokenError,
        ),  # prefix match
        (
            403,
            {
                "error_code": "EGW00133",
                "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
            },
            KisTokenIssueThrottled,
        ),
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00103", "msg1": "유효하지 않은 AppKey입니다."},
            KisAuthError,
        ),
        (
            500,
            {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서버 에러가 발생했습니다."},
            KisServerError,
        ),
        (500, {"rt_cd": "1", "msg_cd": "ZZZ99999", "msg1": "?"}, KisServerError),  # 5xx envelope
        (
            200,
            {"rt_cd": "1", "msg_cd": "EGW02004", "msg1": "실전투자 도메인은..."},
            KisNotAvailable,
        ),
        (200, {"rt_cd": "7", "msg_cd": "KIOK0560", "msg1": "조회할 내용이 없습니다"}, KisNoData),
        (200, {"rt_cd": "1", "msg_cd": "APBK0919", "msg1": "주문가능금액을 초과"}, KisApiError),
    ],
)
def test_error_mapping(status: int, body: dict[str, str], cls: type[KisError]) -> None:
    error = error_from_response(status, body, CTX)
    assert type(error) is cls
    assert isinstance(error, KisApiError)
    assert error.msg_cd == (body.get("msg_cd") or body.get("error_code"))
    assert error.status == status
    assert "FHKST01010100" in str(error) and error.context == CTX


def test_error_without_envelope_is_http_error() -> None:
    error = error_from_response(502, None, CTX)
    assert isinstance(error, KisHttpError) and error.status == 502 and error.transient
    assert not error_from_response(404, {"unexpected": 1}, CTX).transient


def test_transience_is_a_property_of_the_type() -> None:
    transient = {KisRateLimited, KisServerError, KisTokenIssueThrottled, KisPagingError}
    for cls in transient:
        assert cls.transient
    for cls in (KisAuthError, KisTokenError, KisNotAvailable, KisApiError, KisConfigError):
        assert not cls.transient


def test_paper_only_endpoint_refuses_before_sending() -> None:
    real_only = Endpoint("volume_rank", "GET", "/uapi/x", "FHPST01710000", None)
    assert real_only.tr_id("real") == "FHPST01710000"
    with pytest.raises(KisNotAvailable, match="not available in paper"):
        real_only.tr_id("paper")


# -- settings -------------------------------------------------------------------------------------
SECRET_KEY = "PSabcdefghijklmnopqrstuvwxyz0123456789"
SECRET_SECRET = "S" * 180


def test_settings_from_env_masks_secrets(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "KIS_ENV": "paper",
            "KIS_APP_KEY": SECRET_KEY,
            "KIS_APP_SECRET": SECRET_SECRET,
            "KIS_ACCOUNT": "87654321-01",
            "KISDB_HOME": str(tmp_path),
            "KIS_RATE_UTILISATION": "0.9",
            "KISDB_RAW_ARCHIVE": "false",
        },
    )
    assert s.env == "paper" and s.tr_env == "paper" and s.rate_budget == 2.0
    assert s.cano == "87654321" and s.product_code == "01"
    assert s.rate_utilisation == 0.9 and s.raw_archive is False and s.home == tmp_path
    text = repr(s) + str(s)
    for secret in (SECRET_KEY, SECRET_SECRET, "87654321"):
        assert secret not in text
    assert "Secret('****')" in text
    assert s.app_key is not None and s.app_key.reveal() == SECRET_KEY
    assert s.app_key.masked() == "PSab****"
    resolved = s.resolved()
    assert resolved.base_url == "https://openapivts.koreainvestment.com:29443"
    assert resolved.ws_url == "ws://ops.koreainvestment.com:31000"


def test_secrets_are_redacted_on_child_loggers_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Filters on "connectors.kis" do not see records of "connectors.kis.orders" and the like.
    settings = Settings.from_env(
        {
            "KIS_ENV": "paper",
            "KIS_APP_KEY": SECRET_KEY,
            "KIS_APP_SECRET": SECRET_SECRET,
            "KIS_ACCOUNT": "87654321-01",
            "KISDB_HOME": str(tmp_path),
        },
    )
    KisClient(settings).close()  # registers the secrets with the redactor
    caplog.set_level(logging.INFO)
    for name in ("connectors.kis.orders", "connectors.kis.ws_client", "httpcore.http11"):
        logging.getLogger(name).info("leak %s %s %s", SECRET_KEY, SECRET_SECRET, "87654321")
    assert caplog.text.count("leak") == 3
    for secret in (SECRET_KEY, SECRET_SECRET, "87654321"):
        assert secret not in caplog.text


def test_settings_defaults_and_validation() -> None:
    s = Settings.from_env({"KIS_ENV": "real", "KIS_RATE_LIMIT": "15"})
    assert s.env == "real" and s.tr_env == "real" and s.rate_budget == 15.0
    assert Settings.from_env({"KIS_ENV": "sim"}).tr_env == "real"
    assert Settings.from_env({}).env == "sim"
    assert Settings.from_env({}).rate_budget == 20.0
    with pytest.raises(KisConfigError, match="KIS_APP_KEY"):
        s.resolved()
    with pytest.raises(KisConfigError, match="KIS_ENV"):
        Settings.from_env({"KIS_ENV": "prod"})
    with pytest.raises(KisConfigError, match="KIS_ACCOUNT"):
        Settings.from_env({"KIS_ACCOUNT": "1234"})
    with pytest.raises(KisConfigError, match="KIS_RATE_LIMIT"):
        Settings.from_env({"KIS_RATE_LIMIT": "fast"})
    # Errors about the account never echo the value.
    with pytest.raises(KisConfigError) as info:
        Settings.from_env({"KIS_ACCOUNT": "99999-9"})
    assert "99999" not in str(info.value)


def test_resolving_sim_settings_starts_nothing() -> None:
    # The connector never starts a simulator: the composition root points sim settings at one.
    with pytest.raises(KisConfigError, match="KIS_BASE_URL"):
        Settings.from_env({"KIS_ENV": "sim"}).resolved()
    with pytest.raises(KisConfigError, match="KIS_APP_KEY"):
        Settings.from_env({"KIS_BASE_URL": "http://127.0.0.1:1"}).resolved()


def test_secret_equality_and_fingerprint() -> None:
    assert Secret("abc") == Secret("abc") and Secret("abc") != Secret("abd")
    assert Secret("abc").fingerprint() == Secret("abc").fingerprint() != Secret("abd").fingerprint()
    assert f"{Secret('topsecret')}" == "Secret('****')"


def test_token_expiry_takes_the_earlier_reading() -> None:
    stamp_epoch = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()  # 17:00 KST
    body = {"expires_in": 86400, "access_token_token_expired": "2027-01-15 17:00:00"}
    assert parse_token_expiry(body, stamp_epoch - 3600) == stamp_epoch
    assert parse_token_expiry({**body, "expires_in": 60}, stamp_epoch - 3600) == stamp_epoch - 3540
    assert parse_token_expiry({"expires_in": "60"}, 100.0) == 160.0
    with pytest.raises(KisProtocolError):
        parse_token_expiry({}, 100.0)


# -- limiter arithmetic ---------------------------------------------------------------------------
def test_pace_for_budgets() -> None:
    pace = Pace.for_budget(20, 0.95)
    assert pace.capacity == 20 and pace.window == pytest.approx(20 / 19)
    assert pace.rate == pytest.approx(19.0) and pace.spacing == pytest.approx(0.05)
    # Utilisation 1.0 still keeps a margin beyond one second.
    assert Pace.for_budget(10, 1.0).window > 1.0
    paper = Pace.for_budget(2, 0.95)
    assert paper.capacity == 2 and paper.rate == pytest.approx(1.9)
    # A fractional budget: floor per rolling second, never a window shorter than a second.
    assert Pace.for_budget(2.5, 0.95).capacity == 2 and Pace.for_budget(2.5, 0.95).window >= 1.0


def _simulate(pace: Pace, arrivals: list[float], jitter: float = 0.0) -> list[float]:
    """Run waiters arriving at `arrivals` through `decide` with a fake clock; return send times."""
    state = empty_state()
    pending = sorted((t, f"w{i}") for i, t in enumerate(arrivals))
    wake = {w: t for t, w in pending}
    sends: list[float] = []
    rng = random.Random(7)
    while wake:
        waiter = min(wake, key=lambda w: (wake[w], w))
        now = wake[waiter]
        granted, wait = decide(state, now, waiter, 1, pace)
        if granted:
            sends.append(now)
            answered(state, waiter, now)  # an instant answer: only the pace binds
            del wake[waiter]
        else:
            wake[waiter] = now + min(wait, 0.25) + rng.random() * jitter
    return sends


def _max_in_any_second(sends: list[float]) -> int:
    sends = sorted(sends)
    best, lo = 0, 0
    for hi, t in enumerate(sends):
        while t - sends[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_limiter_saturated_rate_and_window() -> None:
    pace = Pace.for_budget(20, 0.95)
    sends = _simulate(pace, [0.0] * 400)
    assert _max_in_any_second(sends) <= 20
    steady = (len(sends) - 1 - 20) / (sends[-1] - sends[20])
    assert steady == pytest.approx(19.0, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(
    budget=st.floats(min_value=1.0, max_value=40.0),
    utilisation=st.floats(min_value=0.5, max_value=1.0),
    arrivals=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=120),
)
def test_limiter_never_exceeds_floor_budget_in_any_second(
    budget: float, utilisation: float, arrivals: list[float]
) -> None:
    pace = Pace.for_budget(budget, utilisation)
    sends = _simulate(pace, arrivals, jitter=0.003)
    assert len(sends) == len(arrivals)
    assert _max_in_any_second(sends) <= math.floor(budget)


def test_lanes_order_before_live_before_backfill() -> None:
    pace = Pace.for_budget(10, 0.95)
    state = empty_state()
    # Fill the window so everyone has to wait.
    for i in range(10):
        assert decide(state, i * 0.1, f"warm{i}", 1, pace)[0]
        answered(state, f"warm{i}", i * 0.1)
    now = 0.95
    assert not decide(state, now, "backfill", 2, pace)[0]
    assert not decide(state, now + 0.001, "live", 1, pace)[0]
    assert not decide(state, now + 0.002, "order", 0, pace)[0]
    slot = next_slot(state, pace, now + 0.002)
    # At the slot, backfill and live must not take it while the order waits.
    granted, wait = decide(state, slot, "backfill", 2, pace)
    assert not granted and wait >= pace.spacing  # third in line: sleeps past the next slot
    assert not decide(state, slot, "live", 1, pace)[0]
    assert decide(state, slot, "order", 0, pace)[0]
    slot = next_slot(state, pace, slot)
    assert not decide(state, slot, "backfill", 2, pace)[0]
    assert decide(state, slot, "live", 1, pace)[0]
    assert decide(state, next_slot(state, pace, slot), "backfill", 2, pace)[0]


def test_dead_waiters_expire_and_penalty_holds_everyone() -> None:
    pace = Pace.for_budget(10, 0.95)
    state = empty_state()
    state["waiters"]["ghost"] = [0, 99, 0.0]  # a killed process's order waiter
    assert not decide(state, 1.0, "backfill", 2, pace)[0]
    granted, _ = decide(state, STALE_AFTER + 0.5, "backfill", 2, pace)
    assert granted
    penalise(state, 10.0)
    granted, wait = decide(state, 5.0, "order", 0, pace)
    assert not granted and wait == pytest.approx(5.0)


def test_a_late_answer_extends_its_hold() -> None:
    pace = Pace.for_budget(2, 0.95)
    state = empty_state()
    assert decide(state, 0.0, "a", 1, pace)[0] and decide(state, 0.5, "b", 1, pace)[0]
    assert next_slot(state, pace, 0.0) == pytest.approx(pace.window)  # a's send + window
    # The server may have stamped "a" as late as its answer at 0.3 s: hold until 1.3 s + margin.
    answered(state, "a", 0.3)
    assert next_slot(state, pace, 0.5) == pytest.approx(1.3 + MIN_MARGIN)
    answered(state, "b", 0.51)  # a quick answer changes nothing
    assert next_slot(state, pace, 0.51) == pytest.approx(1.3 + MIN_MARGIN)
    assert not decide(state, 1.2, "c", 1, pace)[0] and decide(state, 1.31, "c", 1, pace)[0]


def test_an_answer_slower_than_a_window_holds_its_slot_until_it_comes() -> None:
    pace = Pace.for_budget(2, 0.95)
    state = empty_state()
    assert decide(state, 0.0, "a", 1, pace)[0] and decide(state, 0.5, "b", 1, pace)[0]
    answered(state, "b", 0.6)
    # a's window has passed at 1.2 s, but a is still in flight (the server may stamp it now):
    # only b's slot frees up, at its answer + 1 s.
    assert not decide(state, 1.2, "c", 1, pace)[0]
    assert decide(state, 1.62, "c", 1, pace)[0]
    # a and c in flight hold both slots however long they take...
    assert not decide(state, 3.0, "d", 1, pace)[0]
    answered(state, "a", 3.5)  # ... until one answers: its slot is free a second later
    assert not decide(state, 4.4, "d", 1, pace)[0]
    assert decide(state, 4.52, "d", 1, pace)[0]


def test_a_send_never_answered_stops_holding_after_the_in_flight_limit() -> None:
    pace = Pace.for_budget(2, 0.95)
    state = empty_state()  # x and y sent by a process killed before their answers
    assert decide(state, 0.0, "x", 1, pace)[0] and decide(state, 0.5, "y", 1, pace)[0]
    assert not decide(state, 30.0, "z", 1, pace)[0]
    assert not decide(state, IN_FLIGHT_HOLD + 1.0, "z", 1, pace)[0]
    assert decide(state, IN_FLIGHT_HOLD + 1.02, "z", 1, pace)[0]


def test_state_roundtrips_through_json() -> None:
    pace = Pace.for_budget(5, 0.95)
    state = empty_state()
    for t in (0.0, 0.3, 0.6):
        decide(state, t, f"w{t}", 1, pace)
        state = json.loads(json.dumps(state))
    assert len(state["sends"]) == 3


# -- paging ---------------------------------------------------------------------------------------
BALANCE = Endpoint(
    "inquire_balance",
    "GET",
    "/uapi/domestic-stock/v1/trading/inquire-balance",
    "TTTC8434R",
    "VTTC8434R",
)


def _page(tr_cont: str, fk: str, nk: str, rows: list[str]) -> KisResponse:
    body = {
        "rt_cd": "0",
        "msg_cd": "KIOK0510",
        "output1": rows,
        "ctx_area_fk100": fk.ljust(100),
        "ctx_area_nk100": nk.ljust(100),
    }
    return KisResponse(200, {"tr_cont": tr_cont}, body, BALANCE, {})


def _feed(pager: CursorPages, page: KisResponse) -> PageRequest | None:
    pager.feed(page.body, page.tr_cont)
    return pager.request()


def test_cursor_paging_echoes_cursors_and_stops() -> None:
    pager = CursorPages({"CANO": "1"}, what="balance")
    first = pager.request()
    assert first is not None and first.tr_cont == ""
    assert first.params["CTX_AREA_FK100"] == "" and first.params["CTX_AREA_NK100"] == ""
    step = _feed(pager, _page("F", "fk1", "nk1", ["a"]))
    assert step is not None
    assert step.tr_cont == "N" and step.params["CTX_AREA_NK100"].strip() == "nk1"
    assert step.params["CANO"] == "1"
    assert _feed(pager, _page("M", "fk2", "nk2", ["b"])) is not None
    assert _feed(pager, _page("D", "fk3", "nk3", ["c"])) is None
    assert pager.pages == 3
    assert [body["output1"] for body in pager.result()] == [["a"], ["b"], ["c"]]


def test_cursor_paging_detects_repeats_and_runaways() -> None:
    pager = CursorPages({}, what="balance")
    _feed(pager, _page("F", "fk1", "nk1", ["a"]))
    with pytest.raises(KisPagingError, match="cursor"):
        _feed(pager, _page("M", "fk1", "nk1", ["b"]))
    pager = CursorPages({}, what="balance", max_pages=2)
    _feed(pager, _page("F", "a", "a", ["a"]))
    with pytest.raises(KisPagingError, match="more than 2 pages"):
        _feed(pager, _page("M", "b", "b", ["b"]))
    # No cursor fields at all: the same page twice is caught by content.
    pager = CursorPages({}, what="balance")
    same = KisResponse(200, {"tr_cont": "F"}, {"rt_cd": "0", "output": [1]}, BALANCE, {})
    _feed(pager, same)
    with pytest.raises(KisPagingError, match="same page"):
        _feed(pager, same)


def test_response_block_error_is_clear() -> None:
    response = _page("E", "", "", [])
    assert response.block("output1") == [] and not response.has_more
    with pytest.raises(KisProtocolError, match="no 'output2' block"):
        response.block("output2")


def test_backoff_is_jittered_and_capped() -> None:
    rng = random.Random(1)
    delays = [Backoff(base=0.2, cap=1.0).delay(n, rng=rng) for n in range(1, 8)]
    assert 0.1 <= delays[0] <= 0.2
    assert all(d <= 1.0 for d in delays) and delays[-1] >= 0.5
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_delay_for_retries_only_transient_errors() -> None:
    rng = random.Random(2)
    refused = KisAuthError("no", msg_cd="EGW00103", msg1="", rt_cd="1", status=500)
    assert delay_for(refused, 1) is None and delay_for(ValueError("not ours"), 1) is None
    busy = KisServerError("busy", msg_cd="EGW00001", msg1="", rt_cd="1", status=500)
    first, later = delay_for(busy, 1, rng=rng), delay_for(busy, 10, rng=rng)
    assert first is not None and 0.125 <= first <= 0.25
    assert later is not None and 4.0 <= later <= 8.0
    assert delay_for(KisHttpError("gateway", status=503), 2) is not None
