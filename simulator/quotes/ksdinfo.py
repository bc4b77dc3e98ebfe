"""예탁원정보 (KSD schedules, /uapi/domestic-stock/v1/ksdinfo/*): corporate-action calendars.

The synthetic universe's only corporate actions are its splits (simulator/data/krx_stocks.csv),
which KRX carries out as par-value splits (액면분할): they show in the par-value change schedule
(rev-split, HHKDB669105C0) with the face value divided by the ratio, new shares listed on the split
date and the record date the trading day before. The other schedules (bonus issue, paid-in
capital, merger/split, dividends, capital reduction) answer with no rows, which is true of the
synthetic market. Real accounts only (모의투자 미지원).
"""

from __future__ import annotations

from datetime import date

from simulator.context import Ctx, Reply
from simulator.wire import MSG_NO_ROWS, MSG_OK_QUOTE, envelope, parse_ymd, ymd

# The synthetic par value after a split: KRX's common post-split face value.
FACE_AFTER = 100


def _range(ctx: Ctx) -> tuple[str, tuple[date, date]]:
    code = ctx.get("SHT_CD").strip()
    start = parse_ymd(ctx.need("F_DT"), "F_DT")
    end = parse_ymd(ctx.need("T_DT"), "T_DT")
    return code, (start, end)


def _reply(rows: list[dict[str, str]]) -> Reply:
    msg = MSG_OK_QUOTE if rows else MSG_NO_ROWS
    return Reply(envelope(*msg, {"output1": rows}))


def rev_split(ctx: Ctx) -> Reply:
    """Par-value changes whose record date lies in [F_DT, T_DT] (SHT_CD blank: every symbol)."""
    code, (start, end) = _range(ctx)
    market = ctx.get("MARKET_GB", "0").strip() or "0"
    wanted = {"0": None, "1": "KOSPI", "2": "KOSDAQ"}.get(market)
    rows = []
    for inst in sorted(ctx.market.instruments.values(), key=lambda i: i.code):
        split = inst.split
        if split is None or (code and inst.code != code):
            continue
        if wanted is not None and inst.market != wanted:
            continue
        record = ctx.market.calendar.previous_trading_day(split.date)
        if not start <= record <= end:
            continue
        rows.append(
            {
                "record_date": ymd(record),
                "sht_cd": inst.code,
                "isin_name": inst.name,
                # Sheet 094's example: 9-digit face values, dates with slashes.
                "inter_bf_face_amt": f"{round(FACE_AFTER * split.ratio):09d}",
                "inter_af_face_amt": f"{FACE_AFTER:09d}",
                "td_stop_dt": "",  # the synthetic market trades through a split (no halt)
                "list_dt": split.date.strftime("%Y/%m/%d"),
            }
        )
    return _reply(rows)


def no_events(ctx: Ctx) -> Reply:
    """A schedule the synthetic market has no events in (the range is still validated)."""
    _range(ctx)
    return _reply([])
