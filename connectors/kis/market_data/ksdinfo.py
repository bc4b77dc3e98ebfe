"""예탁원정보 (KSD schedules): corporate actions announced by the Korea Securities Depository.

Real accounts only (모의투자 미지원). One call answers a date range (of record dates) for every
symbol (SHT_CD blank) or one; there is no continuation (tr_cont is not used by these APIs).
Each schedule becomes CORPORATE_ACTIONS rows of its kinds; `ratio` is always "shares after per
share before" except for a rights issue, where it is the new shares offered per share held:

* rev-split (HHKDB669105C0) par_value_change: KRX's splits and reverse splits (액면분할/병합),
  the old face value over the new (500 -> 100: 5), effective on the listing day of the new shares.
* bonus-issue (HHKDB669101C0) bonus_issue: 1 + 확정배정율 % (100.00: 2), from the ex-rights day.
* paidin-capin (HHKDB669100C0) rights_issue: 확정배정율 % / 100, `amount` the issue price.
* dividend (HHKDB669102C0) cash_dividend (`amount` KRW per share) and stock_dividend
  (1 + 주식배당률 %), dated by the record date: the ex-date is the trading day before.
* merger-split (HHKDB669104C0) merger | company_split | share_exchange | ...: 비율 (new shares
  per share held), effective on the listing day of the new shares.
* cap-dcrs (HHKDB669106C0) capital_reduction: 감자배정율 (곱하기: times, 나누기: divided by),
  effective on the relisting day.

The workbook's examples are the authority for the formats: dates as YYYYMMDD or YYYY/MM/DD,
numbers zero- or blank-padded, rates with decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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

Row = Mapping[str, Any]


class _Fields:
    """Typed reads of one wire row; a malformed value is a KisProtocolError naming the field."""

    def __init__(self, endpoint: str, row: Row) -> None:
        self._endpoint = endpoint
        self._row = row

    def text(self, field: str) -> str:
        return str(self._row.get(field, "")).strip()

    def day(self, field: str) -> date | None:
        value = self.text(field).replace("-", "").replace("/", "")
        if not value:
            return None
        try:
            return datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise self._bad(field, "a date") from None

    def number(self, field: str) -> float | None:
        value = self.text(field).replace(",", "")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise self._bad(field, "a number") from None

    def _bad(self, field: str, what: str) -> KisProtocolError:
        return KisProtocolError(
            f"{self._endpoint}: {field} is not {what}: {self._row.get(field)!r}",
            context={"endpoint": self._endpoint, "field": field},
        )


def _action(
    f: _Fields,
    source: str,
    kind: str,
    effective: date | None,
    ratio: float | None,
    detail: str,
    amount: float | None = None,
) -> dict[str, object]:
    record = f.day("record_date")
    return {
        "symbol": f.text("sht_cd"),
        "date": effective or record,
        "kind": kind,
        "ratio": ratio,
        "amount": None if amount is None else round(amount),
        "source": f"ksdinfo:{source}",
        "record_date": record,
        "detail": detail,
    }


def _par_value_change(f: _Fields) -> list[dict[str, object]]:
    before = f.number("inter_bf_face_amt") or 0.0
    after = f.number("inter_af_face_amt") or 0.0
    return [
        _action(
            f,
            "rev-split",
            "par_value_change",
            f.day("list_dt"),
            before / after if after else None,
            f"face value {before:g} -> {after:g}",
        )
    ]


def _bonus_issue(f: _Fields) -> list[dict[str, object]]:
    rate = f.number("fix_rate")
    return [
        _action(
            f,
            "bonus-issue",
            "bonus_issue",
            f.day("right_dt"),
            1 + rate / 100 if rate else None,
            f"{rate or 0:g}% new shares, listed {f.text('list_date') or '-'}",
        )
    ]


def _rights_issue(f: _Fields) -> list[dict[str, object]]:
    rate = f.number("fix_rate")
    return [
        _action(
            f,
            "paidin-capin",
            "rights_issue",
            f.day("right_dt"),
            rate / 100 if rate else None,
            f"{rate or 0:g}% new shares at {f.text('fix_price') or '-'}, "
            f"subscription {f.text('sub_term') or '-'}",
            amount=f.number("fix_price"),
        )
    ]


def _dividend(f: _Fields) -> list[dict[str, object]]:
    cash = f.number("per_sto_divi_amt") or 0.0
    stock = f.number("stk_divi_rate") or 0.0
    what = f"{f.text('divi_kind')} {f.text('stk_kind')}, face value {f.number('face_val') or 0:g}"
    rows = []
    if cash:
        detail = f"{what}, {f.number('divi_rate') or 0:g}% of face value"
        rows.append(_action(f, "dividend", "cash_dividend", None, None, detail, amount=cash))
    if stock:
        rows.append(_action(f, "dividend", "stock_dividend", None, 1 + stock / 100, what))
    return rows


# 합병사유 -> kind; anything else keeps a generic kind with the reason in `detail`.
MERGER_KINDS: Mapping[str, str] = {
    "흡수합병": "merger",
    "신설합병": "merger",
    "회사분할": "company_split",
    "분할합병": "split_merger",
    "주식교환": "share_exchange",
    "주식이전": "share_transfer",
}


def _merger_split(f: _Fields) -> list[dict[str, object]]:
    reason = f.text("merge_type")
    rate = f.number("merge_rate")
    return [
        _action(
            f,
            "merger-split",
            MERGER_KINDS.get(reason, "merger_split"),
            f.day("list_dt"),
            rate or None,
            f"{reason or '-'}: {f.text('opp_cust_nm')} -> {f.text('cust_nm')}",
        )
    ]


def _capital_reduction(f: _Fields) -> list[dict[str, object]]:
    rate = f.number("reduce_cap_rate")
    divide = f.text("comp_way") == "나누기"
    ratio = (1 / rate if divide else rate) if rate else None
    return [
        _action(
            f,
            "cap-dcrs",
            "capital_reduction",
            f.day("list_dt"),
            ratio,
            f"{f.text('reduce_cap_type') or '-'} {f.text('stk_kind')}, "
            f"{f.text('comp_way')} {rate or 0:g}",
        )
    ]


@dataclass(frozen=True)
class Schedule:
    """One KSD schedule: its endpoint, the query beyond the range and symbol, the row mapping."""

    endpoint: Endpoint
    extra: Mapping[str, str]
    to_actions: Callable[[_Fields], list[dict[str, object]]]
    what: str


def _endpoint(name: str, tr_id: str) -> Endpoint:
    return Endpoint(f"ksdinfo/{name}", "GET", f"{KSDINFO}/{name}", tr_id, None)


PAR_VALUE_CHANGES = Schedule(
    _endpoint("rev-split", "HHKDB669105C0"),
    {"MARKET_GB": "0"},
    _par_value_change,
    "par value changes",
)
BONUS_ISSUES = Schedule(_endpoint("bonus-issue", "HHKDB669101C0"), {}, _bonus_issue, "bonus issues")
# GB1 2: by record date, as every other schedule (1 would select by subscription day).
RIGHTS_ISSUES = Schedule(
    _endpoint("paidin-capin", "HHKDB669100C0"), {"GB1": "2"}, _rights_issue, "rights issues"
)
# GB1 0: year-end and interim dividends; HIGH_GB blank (the sheet: 공백).
DIVIDENDS = Schedule(
    _endpoint("dividend", "HHKDB669102C0"), {"GB1": "0", "HIGH_GB": ""}, _dividend, "dividends"
)
MERGERS_SPLITS = Schedule(
    _endpoint("merger-split", "HHKDB669104C0"), {}, _merger_split, "mergers and splits"
)
CAPITAL_REDUCTIONS = Schedule(
    _endpoint("cap-dcrs", "HHKDB669106C0"), {}, _capital_reduction, "capital reductions"
)
SCHEDULES = (
    PAR_VALUE_CHANGES,
    BONUS_ISSUES,
    RIGHTS_ISSUES,
    DIVIDENDS,
    MERGERS_SPLITS,
    CAPITAL_REDUCTIONS,
)


def parse_schedule(schedule: Schedule, payload: Mapping[str, Any]) -> pl.DataFrame:
    """A schedule's `output1` -> CORPORATE_ACTIONS rows (pure). A repeated (symbol, date, kind)
    (several classes of one event on one line each) keeps its first row."""
    name = schedule.endpoint.name
    rows = [
        action
        for row in block_rows(payload, name, "output1")
        for action in schedule.to_actions(_Fields(name, row))
    ]
    frame = pl.DataFrame(rows, schema=CORPORATE_ACTIONS.schema)
    frame = frame.unique(list(CORPORATE_ACTIONS.primary_key), keep="first", maintain_order=True)
    try:
        return CORPORATE_ACTIONS.conform(frame)
    except ValueError as exc:
        raise KisProtocolError(f"{name}: {exc}", context={"endpoint": name}) from None


def schedule_plan(
    schedule: Schedule, start: date, end: date, symbol: str = ""
) -> FetchPlan[pl.DataFrame]:
    """One call for the events with record dates in [start, end], every symbol or one."""
    start, end = check_range(start, end)
    params = {
        "CTS": "",
        "F_DT": ymd(start),
        "T_DT": ymd(end),
        "SHT_CD": symbol,
        **schedule.extra,
    }
    return FetchPlan(
        schedule.endpoint,
        "backfill",
        lambda: SinglePage(
            lambda payload: parse_schedule(schedule, payload),
            params,
            what=f"{schedule.what} {start}..{end}",
        ),
        empty={"output1": []},
    )


def par_value_changes_plan(start: date, end: date, symbol: str = "") -> FetchPlan[pl.DataFrame]:
    return schedule_plan(PAR_VALUE_CHANGES, start, end, symbol)
