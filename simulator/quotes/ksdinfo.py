"""예탁원정보 (KSD schedules, /uapi/domestic-stock/v1/ksdinfo/*): corporate-action calendars.

What the synthetic market has, each in its sheet's example formats:

* its splits (simulator/data/krx_stocks.csv), which KRX carries out as par-value splits
  (액면분할): the par-value change schedule (rev-split, HHKDB669105C0) with the face value divided
  by the ratio, new shares listed on the split date, the record date the trading day before;
* its yearly cash dividends (simulator/dividends.py) in the dividend schedule (HHKDB669102C0);
* the merger of 셀트리온헬스케어 into 셀트리온 in the merger/split schedule (HHKDB669104C0),
  dated as the synthetic market has it (last trading day 2024-01-03, delisted 2024-01-04; the
  real one halted trading from 2023-12-26), new 셀트리온 shares listed 2024-01-12.

The bonus issue, paid-in capital and capital reduction schedules answer with no rows, which is
true of the synthetic market. Every schedule lists the events whose record date lies in
[F_DT, T_DT], every symbol (SHT_CD blank) or one. Real accounts only (모의투자 미지원).
"""

from __future__ import annotations

from datetime import date

from simulator.context import Ctx, Reply
from simulator.dividends import dividends
from simulator.universe import Instrument
from simulator.wire import MSG_NO_ROWS, MSG_OK_QUOTE, KisReject, envelope, parse_ymd, ymd

# The synthetic par value after a split: KRX's common post-split face value.
FACE_AFTER = 100

# The merger/split schedule's rows (sheet 108's fields), one real event of the universe.
MERGERS: tuple[dict[str, str], ...] = (
    {
        "record_date": "20240103",
        "sht_cd": "091990",
        "opp_cust_cd": "09199",
        "opp_cust_nm": "셀트리온헬스케어",
        "cust_cd": "06827",
        "cust_nm": "셀트리온",
        "merge_type": "흡수합병",
        "merge_rate": " 0.45",
        "td_stop_dt": "",
        "list_dt": "20240112",
        "odd_amt_pay_dt": "2024/01/19",
        "tot_issue_stk_qty": "           0",
        "issue_stk_qty": "           0",
        "seq": "00",
    },
)


def _range(ctx: Ctx) -> tuple[str, tuple[date, date]]:
    code = ctx.get("SHT_CD").strip()
    start = parse_ymd(ctx.need("F_DT"), "F_DT")
    end = parse_ymd(ctx.need("T_DT"), "T_DT")
    return code, (start, end)


def _listed(ctx: Ctx, code: str) -> list[Instrument]:
    """The instruments asked for (SHT_CD blank: all), by code."""
    instruments = sorted(ctx.market.instruments.values(), key=lambda i: i.code)
    return [i for i in instruments if not code or i.code == code]


def _reply(rows: list[dict[str, str]]) -> Reply:
    msg = MSG_OK_QUOTE if rows else MSG_NO_ROWS
    return Reply(envelope(*msg, {"output1": rows}))


def rev_split(ctx: Ctx) -> Reply:
    """Par-value changes whose record date lies in [F_DT, T_DT] (MARKET_GB 0 all, 1 KOSPI,
    2 KOSDAQ)."""
    code, (start, end) = _range(ctx)
    market = ctx.get("MARKET_GB", "0").strip() or "0"
    wanted = {"0": None, "1": "KOSPI", "2": "KOSDAQ"}.get(market)
    rows = []
    for inst in _listed(ctx, code):
        split = inst.split
        if split is None or (wanted is not None and inst.market != wanted):
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


def dividend(ctx: Ctx) -> Reply:
    """Cash dividends whose record date lies in [F_DT, T_DT] (GB1 0 all, 1 year-end, 2 interim:
    the synthetic market pays year-end dividends only)."""
    code, (start, end) = _range(ctx)
    kind = ctx.get("GB1", "0").strip() or "0"
    if kind not in {"0", "1", "2"}:
        raise KisReject("OPSQ2002", "GB1 입력값을 확인하세요. (0:배당전체 1:결산배당 2:중간배당)")
    rows = []
    for inst in _listed(ctx, code) if kind != "2" else []:
        for d in dividends(inst, ctx.market.calendar, start, end):
            face = inst.par_value(d.record)
            # Sheet 095's example: 9- and 12-digit zero-padded amounts, rates as " 12.00".
            rows.append(
                {
                    "record_date": ymd(d.record),
                    "sht_cd": inst.code,
                    "isin_name": inst.name,
                    "divi_kind": "결산",
                    "face_val": f"{face:09d}",
                    "per_sto_divi_amt": f"{d.amount:012d}",
                    "divi_rate": f"{100 * d.amount / face:6.2f}",
                    "stk_divi_rate": f"{0:6.2f}",
                    "divi_pay_dt": "",
                    "stk_div_pay_dt": "",
                    "odd_pay_dt": "",
                    "stk_kind": "보통",
                    "high_divi_gb": "",
                }
            )
    rows.sort(key=lambda r: (r["record_date"], r["sht_cd"]), reverse=True)  # newest first
    return _reply(rows)


def merger_split(ctx: Ctx) -> Reply:
    """Mergers and company splits whose record date lies in [F_DT, T_DT]."""
    code, (start, end) = _range(ctx)
    rows = [
        dict(row)
        for row in MERGERS
        if (not code or row["sht_cd"] == code)
        and start <= parse_ymd(row["record_date"], "record_date") <= end
    ]
    return _reply(rows)


def no_events(ctx: Ctx) -> Reply:
    """A schedule the synthetic market has no events in (the range is still validated)."""
    _range(ctx)
    return _reply([])
