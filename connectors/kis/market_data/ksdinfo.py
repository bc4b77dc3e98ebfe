"""예탁원정보 (KSD schedules): corporate actions announced by the Korea Securities Depository.

Real accounts only (모의투자 미지원). One call answers a date range for every symbol (SHT_CD
blank) or one; there is no continuation (tr_cont is not used by these APIs). The par-value change
schedule (rev-split, HHKDB669105C0) carries KRX's splits and reverse splits (액면분할/병합): the
ratio is the old face value over the new (500 -> 100: 5 new shares per old one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisProtocolError
from connectors.kis.parsing import block_rows
from connectors.kis.validation import check_range
from connectors.kis.windows import FetchPlan, SinglePage, ymd
from schemas import CORPORATE_ACTIONS

KSDINFO = "/uapi/domestic-stock/v1/ksdinfo"

PAR_VALUE_CHANGE = Endpoint(
    "ksdinfo/rev-split", "GET", f"{KSDINFO}/rev-split", "HHKDB669105C0", None
)


def _day(text: str, field: str) -> date | None:
    value = text.strip().replace("-", "").replace("/", "")
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise KisProtocolError(
            f"ksdinfo/rev-split: {field} is not a date: {text!r}",
            context={"endpoint": "ksdinfo/rev-split", "field": field},
        ) from None


def _face(text: str, field: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise KisProtocolError(
            f"ksdinfo/rev-split: {field} is not a number: {text!r}",
            context={"endpoint": "ksdinfo/rev-split", "field": field},
        ) from None


def parse_par_value_changes(payload: Mapping[str, Any]) -> pl.DataFrame:
    """rev-split `output1` -> CORPORATE_ACTIONS rows of kind par_value_change, effective on the
    listing date of the new shares (the record date when none is given)."""
    rows = []
    for row in block_rows(payload, PAR_VALUE_CHANGE.name, "output1"):
        record = _day(str(row.get("record_date", "")), "record_date")
        effective = _day(str(row.get("list_dt", "")), "list_dt") or record
        before = _face(str(row.get("inter_bf_face_amt", "")), "inter_bf_face_amt")
        after = _face(str(row.get("inter_af_face_amt", "")), "inter_af_face_amt")
        rows.append(
            {
                "symbol": str(row.get("sht_cd", "")).strip(),
                "date": effective,
                "kind": "par_value_change",
                "ratio": before / after if after else None,
                "source": "ksdinfo:rev-split",
                "record_date": record,
                "detail": f"face value {before:g} -> {after:g}",
            }
        )
    frame = pl.DataFrame(rows, schema=CORPORATE_ACTIONS.schema)
    try:
        return CORPORATE_ACTIONS.conform(frame)
    except ValueError as exc:
        raise KisProtocolError(
            f"ksdinfo/rev-split: {exc}", context={"endpoint": "ksdinfo/rev-split"}
        ) from None


def par_value_changes_plan(start: date, end: date, symbol: str = "") -> FetchPlan[pl.DataFrame]:
    start, end = check_range(start, end)
    params = {
        "SHT_CD": symbol,
        "CTS": "",
        "F_DT": ymd(start),
        "T_DT": ymd(end),
        "MARKET_GB": "0",
    }
    return FetchPlan(
        PAR_VALUE_CHANGE,
        "backfill",
        lambda: SinglePage(
            parse_par_value_changes, params, what=f"par value changes {start}..{end}"
        ),
        empty={"output1": []},
    )
