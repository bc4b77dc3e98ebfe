"""Range-planning tests: the pagers against small in-test servers that follow the KIS rules.

Each fake answers one request the way kis-api.md describes the endpoint (newest first, N rows per
call, ending at the cursor), so the tests count calls and check rows exactly, without sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisNoData, KisPagingError, KisRequestError
from connectors.kis.market_data.domestic import (
    minute_plan,
    past_minutes_plan,
    period_bars_plan,
    today_minutes_plan,
)
from connectors.kis.market_data.index import index_bars_plan
from connectors.kis.market_data.krx_calendar import holidays_plan
from connectors.kis.market_data.overseas import overseas_bars_plan, overseas_minutes_plan
from connectors.kis.market_data.rankings import volume_rank_plan
from connectors.kis.windows import (
    FetchPlan,
    Pager,
    PageRequest,
    fetch_flow,
    merge_pages,
    minus_minute,
    previous_weekday,
    weekend_only,
)
from schemas import PERIOD_BARS
from schemas.clock import KST
from schemas.periods import period_start

Server = Callable[[Mapping[str, str]], dict[str, Any]]

# A synthetic calendar: weekdays minus these weekday holidays.
HOLIDAYS = {
    date(2024, 1, 1),
    date(2024, 2, 9),
    date(2024, 2, 12),
    date(2024, 5, 6),
    date(2024, 12, 31),
}


def trading_days(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in HOLIDAYS:
            out.append(d)
        d += timedelta(days=1)
    return out


def ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def parse_ymd(s: str) -> date:
    return datetime.strptime(s, "%Y%m%d").date()


def chart_row(d: date, close: int = 1000) -> dict[str, str]:
    return {
        "stck_bsop_date": ymd(d),
        "stck_clpr": str(close),
        "stck_oprc": str(close),
        "stck_hgpr": str(close),
        "stck_lwpr": str(close),
        "acml_vol": "10",
        "acml_tr_pbmn": str(10 * close),
        "flng_cls_code": "00",
        "prtt_rate": "0.00",
        "mod_yn": "N",
        "prdy_vrss_sign": "3",
        "prdy_vrss": "0",
        "revl_issu_reas": "",
    }


def period_chart_server(days: list[date], rows: int = 100) -> Server:
    """inquire-daily-itemchartprice: the newest `rows` trading days within [DATE_1, DATE_2]."""

    def answer(params: Mapping[str, str]) -> dict[str, Any]:
        lo, hi = parse_ymd(params["FID_INPUT_DATE_1"]), parse_ymd(params["FID_INPUT_DATE_2"])
        inside = [d for d in days if lo <= d <= hi][-rows:]
        return {"output1": {}, "output2": [chart_row(d) for d in reversed(inside)]}

    return answer


def drive(pager: Pager, server: Server) -> tuple[Any, int]:
    calls = 0
    while (request := pager.request()) is not None:
        calls += 1
        pager.feed(server(request.params), "")
    return pager.result(), calls


def bars(start: date, end: date, server: Server, period: str = "D") -> tuple[pl.DataFrame, int]:
    job = period_bars_plan("005930", start, end, period, True)
    return drive(job.pager(), server)


# --- period charts ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows", [1, 99, 100, 101, 199, 200, 201, 250])
def test_period_bars_use_ceil_n_over_100_calls_around_window_boundaries(n_rows: int) -> None:
    days = trading_days(date(2023, 1, 2), date(2024, 12, 30))
    end = days[-1]
    start = days[-n_rows]
    df, calls = bars(start, end, period_chart_server(days))
    assert df["date"].to_list() == days[-n_rows:]  # every row once, oldest first
    assert calls == -(-n_rows // 100)


def test_a_range_starting_on_a_weekend_needs_no_extra_call() -> None:
    days = trading_days(date(2023, 1, 2), date(2024, 12, 30))
    first = days[-200]
    start = first - timedelta(days=1)
    while start.weekday() < 5:  # step back to the weekend before `first`
        start -= timedelta(days=1)
    df, calls = bars(start, days[-1], period_chart_server(days))
    assert df.height == 200 and calls == 2


def test_a_range_starting_on_a_weekday_holiday_costs_one_confirming_call() -> None:
    # 2024-02-12 (Mon) is a holiday in the fake calendar; 2024-02-09 (Fri) too.
    days = trading_days(date(2023, 1, 2), date(2024, 12, 30))
    inside = [d for d in days if d >= date(2024, 2, 12)]
    start = date(2024, 2, 12)
    cut = inside[len(inside) % 100 :]  # make the row count an exact multiple of 100
    df, calls = bars(start, cut[-1], period_chart_server(days))
    assert df["date"].to_list() == [d for d in days if start <= d <= cut[-1]]
    # The last full page ends on 02-13; only the server can say 02-12 did not trade.
    assert calls == len(df) // 100 + 1


def test_a_range_ending_on_a_holiday_and_an_empty_range() -> None:
    days = trading_days(date(2024, 1, 2), date(2024, 12, 30))
    df, calls = bars(date(2024, 4, 1), date(2024, 5, 6), period_chart_server(days))
    assert df["date"].max() == date(2024, 5, 3) and calls == 1
    df, calls = bars(date(2024, 5, 4), date(2024, 5, 6), period_chart_server(days))
    assert df.height == 0 and df.schema == PERIOD_BARS.schema and calls == 1


def test_listing_after_the_start_ends_on_the_short_page() -> None:
    days = trading_days(date(2024, 3, 4), date(2024, 12, 30))  # "listed" 2024-03-04
    df, calls = bars(date(2020, 1, 1), date(2024, 12, 30), period_chart_server(days))
    assert df.height == len(days) and calls == -(-len(days) // 100)


def test_weekly_bars_page_on_period_boundaries() -> None:
    days = trading_days(date(2019, 1, 1), date(2024, 12, 30))

    def weekly(params: Mapping[str, str]) -> dict[str, Any]:
        lo, hi = parse_ymd(params["FID_INPUT_DATE_1"]), parse_ymd(params["FID_INPUT_DATE_2"])
        labels: dict[date, date] = {}
        for d in days:
            if lo <= d <= hi:
                labels[period_start(d, "W")] = d  # label = last trading day of the week
        out = sorted(labels.values())[-100:]
        return {"output2": [chart_row(d) for d in reversed(out)]}

    df, calls = bars(date(2020, 1, 1), date(2024, 12, 30), weekly, period="W")
    weeks = {period_start(d, "W") for d in days if date(2020, 1, 1) <= d <= date(2024, 12, 30)}
    assert df.height == len(weeks) and df["date"].is_unique().all()
    assert calls == -(-len(weeks) // 100)


def test_a_row_outside_the_window_is_a_paging_error() -> None:
    days = trading_days(date(2024, 1, 2), date(2024, 12, 30))
    honest = period_chart_server(days)

    def ignores_date_2(params: Mapping[str, str]) -> dict[str, Any]:
        return honest({**params, "FID_INPUT_DATE_2": "20241230"})

    with pytest.raises(KisPagingError, match="came back for a window ending"):
        bars(date(2024, 1, 2), date(2024, 12, 30), ignores_date_2)

    def ignores_date_1(params: Mapping[str, str]) -> dict[str, Any]:
        return honest({**params, "FID_INPUT_DATE_1": "20240102"})

    with pytest.raises(KisPagingError, match="window starting"):
        bars(date(2024, 6, 3), date(2024, 6, 28), ignores_date_1)


def test_pages_that_disagree_on_an_overlap_are_refused() -> None:
    a = pl.DataFrame({"date": [date(2024, 1, 2), date(2024, 1, 3)], "close": [1, 2]})
    b = pl.DataFrame({"date": [date(2024, 1, 3), date(2024, 1, 4)], "close": [2, 3]})
    assert merge_pages([b, a], ("date",), "t")["close"].to_list() == [
        1,
        2,
        3,
    ]  # agreeing edge: deduped
    c = pl.DataFrame({"date": [date(2024, 1, 3)], "close": [9]})
    with pytest.raises(KisPagingError, match="disagree"):
        merge_pages([a, c], ("date",), "t")


def test_index_bars_page_by_50() -> None:
    days = trading_days(date(2024, 1, 2), date(2024, 12, 30))

    def index_server(params: Mapping[str, str]) -> dict[str, Any]:
        lo, hi = parse_ymd(params["FID_INPUT_DATE_1"]), parse_ymd(params["FID_INPUT_DATE_2"])
        inside = [d for d in days if lo <= d <= hi][-50:]
        return {
            "output2": [
                {
                    "stck_bsop_date": ymd(d),
                    "bstp_nmix_prpr": "2500.10",
                    "bstp_nmix_oprc": "2499.00",
                    "bstp_nmix_hgpr": "2501.55",
                    "bstp_nmix_lwpr": "2498.01",
                    "acml_vol": "1",
                    "acml_tr_pbmn": "2",
                    "mod_yn": "N",
                }
                for d in reversed(inside)
            ]
        }

    df, calls = drive(
        index_bars_plan("0001", date(2024, 1, 1), date(2024, 12, 31), "D").pager(), index_server
    )
    assert df.height == len(days) and calls == -(-len(days) // 50)


def test_overseas_daily_trims_rows_before_the_start_without_an_extra_call() -> None:
    days = trading_days(date(2023, 1, 2), date(2024, 12, 30))

    def dailyprice(params: Mapping[str, str]) -> dict[str, Any]:
        hi = parse_ymd(params["BYMD"])
        inside = [d for d in days if d <= hi][-100:]  # no lower bound on this API
        rows = [
            {
                "xymd": ymd(d),
                "clos": "10.1234",
                "open": "10.0000",
                "high": "10.5000",
                "low": "9.9000",
                "tvol": "5",
                "tamt": "50.5",
                "sign": "2",
                "rate": "+0.50",
                "diff": "0.05",
            }
            for d in reversed(inside)
        ]
        return {"output1": {"nrec": str(len(rows))}, "output2": rows}

    job = overseas_bars_plan("NAS", "AAPL", date(2024, 3, 1), date(2024, 12, 30), "D", True)
    df, calls = drive(job.pager(), dailyprice)
    expected = [d for d in days if d >= date(2024, 3, 1)]
    assert df["date"].to_list() == expected and calls == -(-len(expected) // 100)
    assert str(df.schema["close"]) == "Decimal(precision=18, scale=4)"


# --- holidays -------------------------------------------------------------------------------------


def holiday_server(per_call: int = 24, gap_at: date | None = None) -> Server:
    def answer(params: Mapping[str, str]) -> dict[str, Any]:
        start = parse_ymd(params["BASS_DT"])
        rows = []
        for i in range(per_call):
            d = start + timedelta(days=i)
            if d == gap_at:
                continue
            open_ = "Y" if d.weekday() < 5 and d not in HOLIDAYS else "N"
            rows.append(
                {
                    "bass_dt": ymd(d),
                    "wday_dvsn_cd": f"{d.isoweekday() % 7 + 1:02d}",
                    "bzdy_yn": open_,
                    "tr_day_yn": "Y",
                    "opnd_yn": open_,
                    "sttl_day_yn": open_,
                }
            )
        last = rows[-1]["bass_dt"] if rows else ""
        return {"output": rows, "ctx_area_fk": ymd(start).ljust(20), "ctx_area_nk": last.ljust(20)}

    return answer


@pytest.mark.parametrize(("days", "calls"), [(1, 1), (24, 1), (25, 2), (48, 2), (49, 3), (366, 16)])
def test_holidays_continue_from_the_last_date_plus_one(days: int, calls: int) -> None:
    start = date(2024, 1, 1)
    end = start + timedelta(days=days - 1)
    df, n = drive(holidays_plan(start, end).pager(), holiday_server())
    assert df["date"].to_list() == [start + timedelta(days=i) for i in range(days)]
    assert n == calls
    assert df.filter(pl.col("date") == date(2024, 1, 1))["market_open"][0] is False


def test_holidays_refuse_a_gap_and_a_short_sequence() -> None:
    with pytest.raises(KisPagingError, match="missing"):
        drive(
            holidays_plan(date(2024, 1, 1), date(2024, 1, 20)).pager(),
            holiday_server(gap_at=date(2024, 1, 5)),
        )
    with pytest.raises(KisPagingError, match="starts at"):
        drive(
            holidays_plan(date(2024, 1, 1), date(2024, 2, 20)).pager(),
            holiday_server(gap_at=date(2024, 1, 25)),
        )

    def runs_out(params: Mapping[str, str]) -> dict[str, Any]:
        return holiday_server()(params) if params["BASS_DT"] < "20240201" else {"output": []}

    with pytest.raises(KisPagingError, match="no calendar days"):
        drive(holidays_plan(date(2024, 1, 1), date(2024, 3, 1)).pager(), runs_out)


# --- minute bars ----------------------------------------------------------------------------------


def minute_row(ts: datetime) -> dict[str, str]:
    return {
        "stck_bsop_date": ymd(ts.date()),
        "stck_cntg_hour": ts.strftime("%H%M%S"),
        "stck_prpr": "100",
        "stck_oprc": "100",
        "stck_hgpr": "101",
        "stck_lwpr": "99",
        "cntg_vol": "3",
        "acml_tr_pbmn": "300",
    }


def session(d: date, last: time = time(15, 30)) -> list[datetime]:
    out, t = [], datetime.combine(d, time(9, 0))
    while t.time() <= last:
        if not (time(15, 20) < t.time() < time(15, 30)):  # closing auction: no bars 15:21-15:29
            out.append(t)
        t += timedelta(minutes=1)
    return out


@pytest.mark.parametrize(
    ("last", "calls"), [(time(10, 28), 3), (time(10, 29), 3), (time(10, 30), 4)]
)
def test_today_minutes_page_by_30_and_stop_at_the_open(last: time, calls: int) -> None:
    bars_today = session(date(2024, 6, 3), last)

    def server(params: Mapping[str, str]) -> dict[str, Any]:
        until = datetime.strptime(params["FID_INPUT_HOUR_1"], "%H%M%S").time()
        inside = [b for b in bars_today if b.time() <= until][-30:]
        return {"output2": [minute_row(b) for b in reversed(inside)]}

    job = today_minutes_plan("005930", None, datetime(2024, 6, 3, 10, 31, tzinfo=KST))
    df, n = drive(job.pager(), server)
    assert df["ts"].dt.replace_time_zone(None).to_list() == bars_today
    assert n == calls


def past_minute_server(days: list[date], spanning: bool) -> Server:
    bars_all = [b for d in days for b in session(d)]

    def server(params: Mapping[str, str]) -> dict[str, Any]:
        cursor = datetime.combine(
            parse_ymd(params["FID_INPUT_DATE_1"]),
            datetime.strptime(params["FID_INPUT_HOUR_1"], "%H%M%S").time(),
        )
        inside = [b for b in bars_all if b <= cursor and (spanning or b.date() == cursor.date())][
            -120:
        ]
        return {"output2": [minute_row(b) for b in reversed(inside)]}

    return server


@pytest.mark.parametrize("spanning", [True, False])
def test_past_minutes_are_complete_under_both_readings_of_the_api(spanning: bool) -> None:
    # 2024-02-05 .. 2024-02-14 holds two weekday holidays (02-09, 02-12) and a weekend.
    days = trading_days(date(2024, 1, 29), date(2024, 2, 20))
    job = past_minutes_plan("005930", date(2024, 2, 5), date(2024, 2, 14))
    df, calls = drive(job.pager(), past_minute_server(days, spanning))
    wanted = [b for d in days if date(2024, 2, 5) <= d <= date(2024, 2, 14) for b in session(d)]
    assert df["ts"].dt.replace_time_zone(None).to_list() == wanted
    per_day = -(-len(session(days[0])) // 120)
    traded = len({b.date() for b in wanted})
    if spanning:
        assert calls <= -(-len(wanted) // 120) + traded  # never worse than a call per day boundary
    else:
        assert calls == traded * per_day + 2  # plus one empty answer per weekday holiday


def test_today_minutes_refuse_a_day_rollover() -> None:
    def server(params: Mapping[str, str]) -> dict[str, Any]:
        day = date(2024, 6, 3) if params["FID_INPUT_HOUR_1"] > "100000" else date(2024, 6, 4)
        until = datetime.strptime(params["FID_INPUT_HOUR_1"], "%H%M%S").time()
        inside = [b for b in session(day) if b.time() <= until][-30:]
        return {"output2": [minute_row(b) for b in reversed(inside)]}

    job = today_minutes_plan("005930", time(10, 20), datetime(2024, 6, 3, 10, 21, tzinfo=KST))
    with pytest.raises(KisPagingError, match="rolled over"):
        drive(job.pager(), server)


def overseas_minute_server(bars_local: list[datetime], per_call: int = 120) -> Server:
    def server(params: Mapping[str, str]) -> dict[str, Any]:
        newest = (
            datetime.strptime(params["KEYB"], "%Y%m%d%H%M%S")
            if params["NEXT"] == "1"
            else bars_local[-1]
        )
        inside = [b for b in bars_local if b <= newest]
        page = inside[-per_call:]
        rows = [
            {
                "xymd": ymd(b.date()),
                "xhms": b.strftime("%H%M%S"),
                "open": "1.0000",
                "high": "1.0000",
                "low": "1.0000",
                "last": "1.0000",
                "evol": "1",
                "eamt": "1",
            }
            for b in reversed(page)
        ]
        return {"output1": {"next": "1" if len(inside) > per_call else "0"}, "output2": rows}

    return server


def test_overseas_minutes_follow_keyb_until_the_server_says_no_more() -> None:
    bars_local = [
        datetime(2024, 6, d, 9, 30) + timedelta(minutes=i) for d in (3, 4, 5) for i in range(390)
    ]
    job = overseas_minutes_plan("NAS", "AAPL", 1, None)
    df, calls = drive(job.pager(), overseas_minute_server(bars_local))
    assert df.height == len(bars_local) and df["ts"].is_unique().all()
    assert calls == -(-len(bars_local) // 120)
    since = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)  # 10:00 New York (EDT)
    df, calls = drive(
        overseas_minutes_plan("NAS", "AAPL", 1, since).pager(),
        overseas_minute_server(bars_local),
    )
    assert df["ts"].min() == since and calls == -(-df.height // 120)


def test_overseas_minutes_refuse_a_page_that_does_not_go_back() -> None:
    bars_local = [datetime(2024, 6, 3, 9, 30) + timedelta(minutes=i) for i in range(300)]
    honest = overseas_minute_server(bars_local)

    def stuck(params: Mapping[str, str]) -> dict[str, Any]:
        return honest({**params, "NEXT": ""})  # ignores KEYB: always the newest page

    with pytest.raises(KisPagingError, match="did not go back"):
        drive(overseas_minutes_plan("NAS", "AAPL", 1, None).pager(), stuck)


# --- the driver -----------------------------------------------------------------------------------


@dataclass
class FakeResponse:
    body: dict[str, Any]
    tr_cont: str = ""


class FakePages:
    """Stands in for the client core's page flow: answers from server functions, counting calls."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers, self.calls, self.lanes = servers, 0, set()

    def page(self, endpoint: Endpoint, request: PageRequest, lane: str) -> Any:
        self.calls += 1
        self.lanes.add(lane)
        server = self.servers[0] if len(self.servers) == 1 else self.servers.pop(0)
        return FakeResponse(server(request.params))
        yield  # a flow that needs no I/O step


def run_plan(plan: FetchPlan[Any], pages: FakePages) -> Any:
    flow = fetch_flow(plan, pages.page)
    with pytest.raises(StopIteration) as done:
        next(flow)
    return done.value.value


def test_the_driver_refetches_the_range_once_after_an_inconsistent_sequence() -> None:
    days = trading_days(date(2024, 1, 2), date(2024, 12, 30))
    good = period_chart_server(days)

    def bad(params: Mapping[str, str]) -> dict[str, Any]:
        return good({**params, "FID_INPUT_DATE_2": "20241230"})

    pages = FakePages([good, bad, good])  # page 2 of the first attempt is inconsistent
    df = run_plan(
        period_bars_plan("005930", date(2024, 1, 2), date(2024, 12, 30), "D", True), pages
    )
    assert df["date"].to_list() == days and pages.lanes == {"backfill"}


def test_kis_no_data_is_an_empty_page() -> None:
    class NoData(FakePages):
        def page(self, endpoint: Endpoint, request: PageRequest, lane: str) -> Any:
            self.calls += 1
            raise KisNoData("nothing", msg_cd="KIOK0560", msg1="", rt_cd="7", status=200)
            yield

    df = run_plan(
        period_bars_plan("005930", date(2024, 1, 2), date(2024, 1, 31), "D", True), NoData([])
    )
    assert df.height == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: period_bars_plan("5930", date(2024, 1, 1), date(2024, 2, 1), "D", True),
        lambda: period_bars_plan("005930", date(2024, 2, 1), date(2024, 1, 1), "D", True),
        lambda: period_bars_plan("005930", date(2024, 1, 1), date(2024, 2, 1), "Q", True),
        lambda: period_bars_plan("005930", datetime(2024, 1, 1), date(2024, 2, 1), "D", True),
        lambda: index_bars_plan("KOSPI", date(2024, 1, 1), date(2024, 2, 1), "D"),
        lambda: overseas_bars_plan("XXX", "AAPL", date(2024, 1, 1), date(2024, 2, 1), "D", True),
        lambda: overseas_bars_plan("BAQ", "AAPL", date(2024, 1, 1), date(2024, 2, 1), "D", True),
        lambda: overseas_bars_plan("NAS", "AAPL", date(2024, 1, 1), date(2024, 2, 1), "Y", True),
        lambda: overseas_minutes_plan("NAS", "aapl", 1, None),
        lambda: volume_rank_plan("0000", "loudest", "all", None, None, None, datetime.now(UTC)),
        lambda: volume_rank_plan("all", "volume", "all", None, None, None, datetime.now(UTC)),
        lambda: minute_plan(
            "005930", date(2024, 1, 2), date(2024, 1, 2), None, None, datetime.now(UTC)
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_call(make: Callable[[], FetchPlan[Any]]) -> None:
    with pytest.raises(KisRequestError) as info:
        make()
    assert str(info.value)


def test_small_helpers() -> None:
    assert weekend_only(date(2024, 6, 1), date(2024, 6, 2)) and not weekend_only(
        date(2024, 6, 1), date(2024, 6, 3)
    )
    assert previous_weekday(date(2024, 6, 3)) == date(2024, 5, 31)
    assert minus_minute(time(9, 0)) == time(8, 59) and minus_minute(time(0, 0)) is None
    assert period_start(date(2024, 6, 5), "M") == date(2024, 6, 1)
