"""The KRX calendar: chk-holiday, one row per calendar day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.market_data.common import QUOTATIONS
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_range
from connectors.kis.windows import CalendarDays, FetchPlan, ymd
from schemas import HOLIDAYS

HOLIDAY_CHECK = Endpoint("chk-holiday", "GET", f"{QUOTATIONS}/chk-holiday", "CTCA0903R", None)

HOLIDAY_CHECK_TABLE = WireTable("chk-holiday", HOLIDAYS, "output")


def parse_holidays(payload: Mapping[str, Any]) -> pl.DataFrame:
    """chk-holiday `output` (one row per calendar day) -> HOLIDAYS."""
    return conform(wire_frame(payload, HOLIDAY_CHECK_TABLE), HOLIDAY_CHECK_TABLE)


def holidays_plan(start: date, end: date) -> FetchPlan[pl.DataFrame]:
    start, end = check_range(start, end)

    def params(cursor: date) -> dict[str, str]:
        return {"BASS_DT": ymd(cursor), "CTX_AREA_NK": "", "CTX_AREA_FK": ""}

    return FetchPlan(
        HOLIDAY_CHECK,
        "backfill",
        lambda: CalendarDays(
            parse_holidays, params, start=start, end=end, what=f"holidays {start}..{end}"
        ),
        empty={"output": []},
    )
