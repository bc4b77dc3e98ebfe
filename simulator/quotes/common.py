"""What the quotation handlers share: request checks (market division, stock code, chart period),
the OK envelope, the change-vs-previous-close fields and the day-so-far fields of the stock charts,
and the listed stocks behind an index (the ranking universe, also the index's advance/decline
counts)."""

from __future__ import annotations

from datetime import date

from simulator.context import Ctx, Reply
from simulator.marketview import MarketView, Snapshot
from simulator.wire import (
    MSG_OK_QUOTE,
    KisReject,
    bad_code,
    dec,
    envelope,
    num,
    parse_ymd,
    rate,
    sign_code,
)

PERIODS = {"D", "W", "M", "Y"}
# Before any history the simulator holds: what "from the beginning" stands for.
BEGINNING = date(1900, 1, 1)
FROM_THE_BEGINNING = "00000101"
STOCK_MARKETS = {"J", "NX", "UN"}


def market_view(ctx: Ctx) -> MarketView:
    return MarketView(ctx.market)


def ok(blocks: dict[str, object], tr_cont: str = "") -> Reply:
    return Reply(envelope(*MSG_OK_QUOTE, blocks), tr_cont)


def check_market(ctx: Ctx, allowed: set[str] = STOCK_MARKETS) -> None:
    if ctx.get("FID_COND_MRKT_DIV_CODE").strip().upper() not in allowed:
        raise KisReject("OPSQ2001", "FID_COND_MRKT_DIV_CODE 시장분류코드를 확인하세요.")


def stock(ctx: Ctx) -> Snapshot:
    check_market(ctx)
    code = ctx.get("FID_INPUT_ISCD").strip()
    view = market_view(ctx)
    if view.instrument(code, ctx.now) is None:
        raise bad_code()
    snap = view.snapshot(code, ctx.now)
    if snap is None:
        raise bad_code()
    return snap


def chart_range(ctx: Ctx) -> tuple[date, date]:
    """(start, end) of a period chart: FID_INPUT_DATE_1 .. FID_INPUT_DATE_2 (FHKST03010100,
    FHKUP03500100; the overseas index chart FHKST03030100 reads the same two fields).

    - `FID_INPUT_DATE_1=00000101` means "from the beginning": clients send
      it for "all history". The answer is the newest window (the last 100 bars up to DATE_2), as
      for any start earlier than the data. Unconfirmed: the workbook says only "조회 시작일자";
      year 0000 is not a calendar date, and KIS answers it with data rather than OPSQ2002.
    - Any other value must be a real YYYYMMDD (else OPSQ2002)."""
    text = ctx.need("FID_INPUT_DATE_1")
    start = BEGINNING if text == FROM_THE_BEGINNING else parse_ymd(text, "FID_INPUT_DATE_1")
    return start, parse_ymd(ctx.need("FID_INPUT_DATE_2"), "FID_INPUT_DATE_2")


def chart_period(ctx: Ctx) -> str:
    period = ctx.get("FID_PERIOD_DIV_CODE").strip().upper()
    if period not in PERIODS:
        raise KisReject("OPSQ2002", "FID_PERIOD_DIV_CODE 입력값을 확인하세요. (D/W/M/Y)")
    return period


def change_fields(price: float, prev: float, upper: int = 0, lower: int = 0) -> dict[str, str]:
    change = price - prev
    return {
        "prdy_vrss": num(change),
        "prdy_vrss_sign": sign_code(
            change, bool(upper) and price >= upper, bool(lower) and price <= lower
        ),
        "prdy_ctrt": dec(rate(change, prev)),
    }


def chart_day_fields(snap: Snapshot) -> dict[str, str]:
    """The day-so-far fields both stock charts (period and minute) put in output1."""
    return {
        **change_fields(snap.price, snap.prev_close),
        "stck_prdy_clpr": num(snap.prev_close),
        "acml_vol": num(snap.volume),
        "acml_tr_pbmn": num(snap.value),
        "hts_kor_isnm": snap.name,
        "stck_prpr": num(snap.price),
    }


def listed_snapshots(ctx: Ctx, index_code: str) -> list[Snapshot]:
    view = market_view(ctx)
    day = view.session_day(ctx.now)
    until = ctx.now.time() if view.is_partial(day, ctx.now) else None
    wanted = {"0000": None, "0001": "KOSPI", "2001": "KOSPI", "1001": "KOSDAQ"}
    if index_code not in wanted:
        raise KisReject("OPSQ2002", "FID_INPUT_ISCD 입력값을 확인하세요. (0000/0001/1001/2001)")
    out = []
    for inst in ctx.market.ranking_universe(day, until):
        if wanted[index_code] is not None and inst.market != wanted[index_code]:
            continue
        snap = view.snapshot(inst.code, ctx.now)
        if snap is not None:
            out.append(snap)
    return out
