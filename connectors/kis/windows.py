"""Paging: how a fetch becomes the fewest KIS calls, and the answers one result.

Each pager is a small sans-I/O state machine (dlt's paginator family): `request()` says what to
send next (None when done), `feed(body, tr_cont)` takes the answer, `result()` is the outcome. A
`FetchPlan` names the endpoint, lane and pager of one fetch; `fetch_flow` runs it as a flow of
steps (steps.py) that both clients drive.

`CursorPages` follows tr_cont + CTX_AREA_* cursors (account queries, kis-api.md §1.5). The chart
APIs cannot be continued with tr_cont; they are paged backward by moving the end of the window to
just before the oldest row received:

- period/index charts: FID_INPUT_DATE_2 = oldest date - 1 day, 100 (index: 50) rows per call;
- overseas daily: BYMD = oldest date - 1 day, 100 rows per call, no lower bound on the server;
- today's minute bars: FID_INPUT_HOUR_1 = oldest minute - 1 minute, 30 rows per call;
- past days' minute bars: (FID_INPUT_DATE_1, FID_INPUT_HOUR_1) cursor, 120 rows per call;
- overseas minute bars: NEXT=1 and KEYB = oldest local minute - 1 minute;
- holidays: BASS_DT = last returned date + 1 day (each answer covers ~24 calendar days).

A page is "the last" only when the server says so (fewer rows than a full page, `next` != 1) or
the start of the range is covered. Rows outside the window asked for, pages that disagree where they
overlap, or a sequence that stops short raise `KisPagingError` (transient: refetch the range).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, NoReturn, Protocol, TypeVar, cast

import polars as pl

from connectors.kis.endpoints import Endpoint, Lane
from connectors.kis.errors import KisNoData, KisPagingError
from connectors.kis.steps import Flow
from schemas.periods import period_start

ONE_DAY = timedelta(days=1)
ONE_MINUTE = timedelta(minutes=1)
KRX_OPEN = time(9, 0)  # the opening auction matches at 09:00: no KRX minute bar is earlier
KRX_DAY_END = time(15, 30)  # the closing auction's bar; the end of a past day's minute window
MAX_PAGES = 5000  # a runaway guard far above any real range (5 years of minutes is ~4000 calls)

Parse = Callable[[Mapping[str, Any]], pl.DataFrame]
Params = dict[str, str]
T = TypeVar("T")
MORE = frozenset({"F", "M"})  # tr_cont values saying another page follows
CTX_KEYS = ("CTX_AREA_FK100", "CTX_AREA_NK100")  # the cursors most account queries use


@dataclass(frozen=True)
class PageRequest:
    params: Params
    tr_cont: str = ""


def ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def hms(t: time) -> str:
    return t.strftime("%H%M%S")


def weekend_only(start: date, end: date) -> bool:
    """True when every day in [start, end] is a Saturday or Sunday (no exchange we use trades)."""
    d = start
    while d <= end:  # at most three iterations before a weekday turns up
        if d.weekday() < 5:
            return False
        d += ONE_DAY
    return True


def previous_weekday(d: date) -> date:
    d -= ONE_DAY
    while d.weekday() >= 5:
        d -= ONE_DAY
    return d


def minus_minute(t: time) -> time | None:
    """The minute before `t`, or None before midnight."""
    anchor = date(2000, 1, 2)
    moved = datetime.combine(anchor, t) - ONE_MINUTE
    return moved.time() if moved.date() == anchor else None


def merge_pages(frames: list[pl.DataFrame], key: tuple[str, ...], what: str) -> pl.DataFrame:
    """Concatenate pages, drop rows repeated at window edges, refuse edges that disagree."""
    if not frames:
        raise ValueError("merge_pages needs at least one page")
    merged = pl.concat(frames, how="vertical").unique(maintain_order=True)
    clash = merged.filter(merged.select(key).is_duplicated())
    if clash.height:
        sample = clash.select(key).unique().head(3).rows()
        raise KisPagingError(
            f"{what}: overlapping pages disagree on rows with the same key {key}: {sample}; "
            "the data changed during the fetch",
            context={"what": what},
        )
    return merged.sort(key)


class Pager(ABC, Generic[T]):
    """One fetch as a sequence of requests; see the module docstring."""

    def __init__(self, *, what: str) -> None:
        self.what = what
        self._next: PageRequest | None = None
        self.pages = 0

    def request(self) -> PageRequest | None:
        return self._next

    def feed(self, body: Mapping[str, Any], tr_cont: str = "") -> None:
        if self._next is None:
            raise RuntimeError(f"{self.what}: feed() called after the last page")
        if self.pages >= MAX_PAGES:
            self._fail(f"more than {MAX_PAGES} pages; the server keeps answering 'more'")
        self.pages += 1
        self._next = self._advance(body, tr_cont)

    def result(self) -> T:
        if self._next is not None:
            raise RuntimeError(f"{self.what}: result() before the last page")
        return self._result()

    @abstractmethod
    def _advance(self, body: Mapping[str, Any], tr_cont: str) -> PageRequest | None:
        """Check and keep one page; return the next request or None when the fetch is complete."""

    @abstractmethod
    def _result(self) -> T: ...

    def _fail(self, message: str) -> NoReturn:
        raise KisPagingError(
            f"{self.what}: {message}", context={"what": self.what, "page": self.pages}
        )


class CursorPages(Pager[list[dict[str, Any]]]):
    """tr_cont + CTX_AREA_* paging (kis-api.md §1.5); the result is every page's body in order.

    First request: tr_cont "" and empty cursors. While the answer's tr_cont is F/M, the next request
    sends tr_cont "N" with the returned cursors (lower-case keys in answers) echoed verbatim.
    """

    def __init__(
        self,
        params: Mapping[str, str],
        *,
        what: str,
        ctx_keys: tuple[str, ...] = CTX_KEYS,
        max_pages: int = 1000,
    ) -> None:
        super().__init__(what=what)
        self.ctx_keys, self.max_pages = ctx_keys, max_pages
        self._bodies: list[dict[str, Any]] = []
        self._seen_cursors: set[tuple[str, ...]] = set()
        self._last_digest: str | None = None
        self._next = PageRequest({**{key: "" for key in ctx_keys}, **params})

    def _advance(self, body: Mapping[str, Any], tr_cont: str) -> PageRequest | None:
        assert self._next is not None
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if digest == self._last_digest:
            self._fail("the server returned the same page twice")
        self._last_digest = digest
        self._bodies.append(dict(body))
        if tr_cont.strip() not in MORE:
            return None
        if self.pages >= self.max_pages:
            self._fail(f"more than {self.max_pages} pages; raise max_pages or narrow the range")
        cursors = tuple(str(body.get(key.lower(), body.get(key, ""))) for key in self.ctx_keys)
        if any(c.strip() for c in cursors):
            stripped = tuple(c.strip() for c in cursors)
            if stripped in self._seen_cursors:
                self._fail("the server repeated a paging cursor")
            self._seen_cursors.add(stripped)
        return PageRequest(
            {**self._next.params, **dict(zip(self.ctx_keys, cursors, strict=True))}, "N"
        )

    def _result(self) -> list[dict[str, Any]]:
        return self._bodies


class FramePager(Pager[pl.DataFrame]):
    """A range fetch whose pages parse into frames, merged (and checked) at the end."""

    def __init__(self, parse: Parse, *, key: tuple[str, ...], what: str) -> None:
        super().__init__(what=what)
        self._parse = parse
        self._key = key
        self._frames: list[pl.DataFrame] = []

    def _advance(self, body: Mapping[str, Any], tr_cont: str) -> PageRequest | None:
        return self._take(self._parse(body), body)

    @abstractmethod
    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        """Check and keep one parsed page; return the next request or None when complete."""

    def _result(self) -> pl.DataFrame:
        return merge_pages(self._frames, self._key, self.what)


class SinglePage(Pager[T]):
    """One call, no paging (rankings, last-30 prices, index minutes, current price)."""

    def __init__(
        self,
        parse: Callable[[Mapping[str, Any]], T],
        params: Params,
        *,
        what: str,
        key: tuple[str, ...] = (),
    ) -> None:
        super().__init__(what=what)
        self._parse = parse
        self._key = key
        self._next = PageRequest(params)
        self._value: T | None = None

    def _advance(self, body: Mapping[str, Any], tr_cont: str) -> None:
        value = self._parse(body)
        # Frames come back oldest first like the paged ones (KIS sends newest first).
        if self._key and isinstance(value, pl.DataFrame):
            value = cast(T, value.sort(self._key))
        self._value = value
        return None

    def _result(self) -> T:
        assert self._value is not None
        return self._value


class DateWindows(FramePager):
    """Backward date paging of period charts (domestic, index, overseas daily)."""

    def __init__(
        self,
        parse: Parse,
        params: Callable[[date], Params],
        *,
        start: date,
        end: date,
        period: str,
        page_size: int,
        key: tuple[str, ...],
        what: str,
        bounded_below: bool = True,
        column: str = "date",
    ) -> None:
        super().__init__(parse, key=key, what=what)
        self._params = params
        self.start, self.end, self.period, self.page_size = start, end, period, page_size
        # The bar covering `start` may be labelled earlier (a week/month label): keep it.
        self._floor = period_start(start, period)
        # Whether the server itself honours the start date (domestic DATE_1) or not (overseas BYMD).
        self._bounded = bounded_below
        # The date the server pages on (credit balances page on the settlement date).
        self._column = column
        self._cursor = end
        self._next = PageRequest(params(end))

    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        if frame.height == 0:
            self._frames.append(frame)
            return None  # nothing at or before the cursor: the server has no more
        dates = frame.get_column(self._column)
        newest, oldest = dates.max(), dates.min()
        assert isinstance(newest, date) and isinstance(oldest, date)
        if newest > self._cursor:
            self._fail(f"a row dated {newest} came back for a window ending {self._cursor}")
        if self._bounded and oldest < self._floor:
            self._fail(f"a row dated {oldest} came back for a window starting {self.start}")
        self._frames.append(frame.filter(pl.col(self._column) >= self._floor))
        if frame.height < self.page_size:
            return None  # a short page: the server has nothing older in the range
        cursor = period_start(oldest, self.period) - ONE_DAY
        if cursor < self.start:
            return None  # the period holding `start` is in hand
        if self.period == "D" and weekend_only(self.start, cursor):
            return None
        self._cursor = cursor
        return PageRequest(self._params(cursor))


class CalendarDays(FramePager):
    """chk-holiday: each answer lists consecutive calendar days from BASS_DT."""

    def __init__(
        self, parse: Parse, params: Callable[[date], Params], *, start: date, end: date, what: str
    ) -> None:
        super().__init__(parse, key=("date",), what=what)
        self._params = params
        self.start, self.end = start, end
        self._cursor = start
        self._next = PageRequest(params(start))

    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        # tr_cont (F/M per the official sample) is accepted but not needed: BASS_DT = last + 1
        # continues the same way and stays correct whichever reading of tr_cont the server uses.
        if frame.height == 0:
            self._fail(
                f"no calendar days from {self._cursor} although the range ends {self.end} "
                "(KIS publishes the calendar only so far ahead)"
            )
        dates = frame.get_column("date").sort()
        if dates[0] != self._cursor:
            self._fail(f"the page for {self._cursor} starts at {dates[0]}")
        steps = dates.diff().drop_nulls()
        if steps.len() and (steps != ONE_DAY).any():
            self._fail(f"calendar days missing inside the page starting {self._cursor}")
        self._frames.append(frame.filter(pl.col("date") <= self.end))
        last = dates[-1]
        if last >= self.end:
            return None
        self._cursor = last + ONE_DAY
        return PageRequest(self._params(self._cursor))


class TodayMinutes(FramePager):
    """Today's minute bars: FID_INPUT_HOUR_1 moves back 30 bars at a time."""

    def __init__(
        self,
        parse: Parse,
        params: Callable[[time], Params],
        *,
        until: time,
        page_size: int,
        key: tuple[str, ...],
        what: str,
        session_open: time = KRX_OPEN,
    ) -> None:
        super().__init__(parse, key=key, what=what)
        self._params = params
        self.page_size, self.session_open = page_size, session_open
        self._cursor = until
        self._day: date | None = None
        self._next = PageRequest(params(until))

    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        if frame.height == 0:
            self._frames.append(frame)
            return None
        days = frame.get_column("date").unique()
        if days.len() != 1 or (self._day is not None and days[0] != self._day):
            self._fail(
                f"today's minute bars span several dates {sorted(days.to_list())}: the day rolled over"
            )
        self._day = days[0]
        local = frame.get_column("ts").dt.time()
        newest, oldest = local.max(), local.min()
        assert isinstance(newest, time) and isinstance(oldest, time)
        if newest > self._cursor:
            self._fail(f"a bar at {newest} came back for a window ending {self._cursor}")
        self._frames.append(frame)
        if frame.height < self.page_size or oldest <= self.session_open:
            return None
        cursor = minus_minute(oldest)
        if cursor is None:
            return None
        self._cursor = cursor
        return PageRequest(self._params(cursor))


class PastMinutes(FramePager):
    """Past days' minute bars over [start_day, end_day] with a (date, time) cursor.

    Safe against both readings of the API: if one answer spans several days the cursor simply
    follows the oldest bar; if it stops at a day's first bar (or the day had no trading) the cursor
    moves to the previous weekday. Non-trading weekdays are learnt from the (empty) answer.
    """

    def __init__(
        self,
        parse: Parse,
        params: Callable[[date, time], Params],
        *,
        start_day: date,
        end_day: date,
        page_size: int,
        key: tuple[str, ...],
        what: str,
        session_open: time = KRX_OPEN,
        day_end: time = KRX_DAY_END,
    ) -> None:
        super().__init__(parse, key=key, what=what)
        self._params = params
        self.start_day, self.end_day = start_day, end_day
        self.page_size, self.session_open, self.day_end = page_size, session_open, day_end
        day = end_day if end_day.weekday() < 5 else previous_weekday(end_day)
        self._cursor = (day, day_end)
        self._next = PageRequest(params(day, day_end)) if day >= start_day else None
        if self._next is None:  # a weekend-only range: nothing to ask
            self._frames.append(parse({"output2": []}))

    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        day, _ = self._cursor
        if frame.height:
            local = frame.get_column("ts").dt.replace_time_zone(None)
            newest, oldest = local.max(), local.min()
            assert isinstance(newest, datetime) and isinstance(oldest, datetime)
            if newest > datetime.combine(*self._cursor):
                self._fail(
                    f"a bar at {newest} came back for a window ending {datetime.combine(*self._cursor)}"
                )
            self._frames.append(frame.filter(pl.col("date") >= self.start_day))
            day = oldest.date()
            if frame.height == self.page_size and oldest.time() > self.session_open:
                back = minus_minute(oldest.time())
                if back is not None and day >= self.start_day:
                    self._cursor = (day, back)
                    return PageRequest(self._params(day, back))
        else:
            self._frames.append(frame)
        prev = previous_weekday(day)
        if prev < self.start_day:
            return None
        self._cursor = (prev, self.day_end)
        return PageRequest(self._params(prev, self.day_end))


class KeyedMinutes(FramePager):
    """Overseas minute bars: NEXT/KEYB continuation until `next` != 1 or `since` is covered."""

    def __init__(
        self,
        parse: Parse,
        params: Callable[[str, str], Params],
        *,
        since: datetime | None,
        key: tuple[str, ...],
        what: str,
    ) -> None:
        super().__init__(parse, key=key, what=what)
        if since is not None and since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        self._params = params
        self.since = since
        self._oldest: datetime | None = None
        self._next = PageRequest(params("", ""))

    def _take(self, frame: pl.DataFrame, body: Mapping[str, Any]) -> PageRequest | None:
        head = body.get("output1")
        more = isinstance(head, Mapping) and str(head.get("next", "")).strip() == "1"
        if frame.height == 0:
            if more and self.pages > 1:
                self._fail("the server said more bars follow but sent none")
            self._frames.append(frame)
            return None
        oldest_row = frame.sort("ts").row(0, named=True)
        oldest: datetime = oldest_row["ts"]
        if self._oldest is not None and oldest >= self._oldest:
            self._fail(f"the page after KEYB did not go back in time (oldest {oldest})")
        self._oldest = oldest
        # polars compares tz-aware datetimes only within one zone: `since` may be in any zone
        # (e.g. the exchange's), the parsed `ts` column is in its own (UTC).
        zone = getattr(frame.schema["ts"], "time_zone", None) or "UTC"
        kept = (
            frame
            if self.since is None
            else frame.filter(pl.col("ts") >= pl.lit(self.since).dt.convert_time_zone(zone))
        )
        self._frames.append(kept)
        if not more or (self.since is not None and oldest <= self.since):
            return None
        # The workbook: KEYB = the oldest bar's local time minus one (or n) minute(s).
        keyb = datetime.combine(oldest_row["local_date"], oldest_row["local_time"]) - ONE_MINUTE
        return PageRequest(self._params("1", keyb.strftime("%Y%m%d%H%M%S")))


@dataclass(frozen=True)
class FetchPlan(Generic[T]):
    """What an endpoint method asks the driver to do: which endpoint, which lane, which pager."""

    endpoint: Endpoint
    lane: Lane
    pager: Callable[[], Pager[T]]
    # The body standing for an empty page when KIS answers "nothing to show" (KisNoData).
    empty: Mapping[str, Any] | None = None
    # A KisPagingError refetches the whole range this many times in all before giving up.
    attempts: int = 2


class Page(Protocol):
    """One answer as the pagers need it (a KisResponse)."""

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def tr_cont(self) -> str: ...


PageFlow = Callable[[Endpoint, PageRequest, Lane], Flow[Page]]


def fetch_flow(plan: FetchPlan[T], page: PageFlow) -> Flow[T]:
    """Every page of a plan, each fetched by the flow `page` returns; "nothing to show" is an empty
    page, not a failure, and a KisPagingError refetches the whole range (`plan.attempts` in all)."""
    for attempt in range(1, plan.attempts + 1):
        pager = plan.pager()
        try:
            while (request := pager.request()) is not None:
                try:
                    response = yield from page(plan.endpoint, request, plan.lane)
                except KisNoData:
                    if plan.empty is None:
                        raise
                    pager.feed(plan.empty, "")
                else:
                    pager.feed(response.body, response.tr_cont)
            return pager.result()
        except KisPagingError:
            if attempt == plan.attempts:
                raise
    raise AssertionError("unreachable")
