"""The 10-level book with the expected execution: inquire-asking-price-exp-ccn (FHKST01010200,
sheet 041, real and paper).

The book is `Market.quote_at` at sim-now, the very book the websocket's H0STASP0 sends for that
market second (after the close: the closing book, as H0STASP0's last snapshot of the day). Like
H0STASP0, the simulator sends no quantity changes (`*_icdc` 0) and no after-hours book. The
expected execution (`antc_*`) is zero during continuous trading, as H0STASP0's; in the closing call,
before the open and after the close it is the last price (the closing auction's, once done) with
the day's volume. `new_mkop_cls_code` reads 10 before the open, 20 in continuous trading, 21 in the
closing call, 31 after the close (the example's value at 16:00); `antc_mkop_cls_code` 112 as the
example outside continuous trading, empty in it (both unconfirmed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from simulator.context import Ctx, Reply
from simulator.intraday import CLOSING_CALL_MINUTES
from simulator.quotes.common import change_fields, ok, stock
from simulator.wire import hms, num, pick

LEVELS = range(1, 11)

# sheet 041 response example, output1 and output2
ASKING_PRICE_OUTPUT1: tuple[str, ...] = (
    "aspr_acpt_hour",
    *(f"askp{i}" for i in LEVELS),
    *(f"bidp{i}" for i in LEVELS),
    *(f"askp_rsqn{i}" for i in LEVELS),
    *(f"bidp_rsqn{i}" for i in LEVELS),
    *(f"askp_rsqn_icdc{i}" for i in LEVELS),
    *(f"bidp_rsqn_icdc{i}" for i in LEVELS),
    "total_askp_rsqn",
    "total_bidp_rsqn",
    "total_askp_rsqn_icdc",
    "total_bidp_rsqn_icdc",
    "ovtm_total_askp_icdc",
    "ovtm_total_bidp_icdc",
    "ovtm_total_askp_rsqn",
    "ovtm_total_bidp_rsqn",
    "ntby_aspr_rsqn",
    "new_mkop_cls_code",
)
ASKING_PRICE_OUTPUT2: tuple[str, ...] = (
    "antc_mkop_cls_code",
    "stck_prpr",
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
    "stck_sdpr",
    "antc_cnpr",
    "antc_cntg_vrss_sign",
    "antc_cntg_vrss",
    "antc_cntg_prdy_ctrt",
    "antc_vol",
    "stck_shrn_iscd",
    "vi_cls_code",
)


def _phase(ctx: Ctx) -> tuple[datetime, str]:
    """(the moment whose book is shown, new_mkop_cls_code)."""
    now, cal = ctx.now, ctx.market.calendar
    day = now.date()
    if cal.is_trading_day(day):
        open_at, close_at = cal.session(day)
        if now < open_at:
            return now, "10"
        if now < close_at - timedelta(minutes=CLOSING_CALL_MINUTES):
            return now, "20"
        if now < close_at:
            return now, "21"
        return close_at, "31"
    return cal.session(cal.previous_trading_day(day))[1], "31"


def inquire_asking_price_exp_ccn(ctx: Ctx) -> Reply:
    snap = stock(ctx)
    at, phase = _phase(ctx)
    book = ctx.market.quote_at(snap.code, at)
    asks = (list(book.asks) + [(0, 0)] * 10)[:10]
    bids = (list(book.bids) + [(0, 0)] * 10)[:10]
    total_ask, total_bid = sum(q for _, q in asks), sum(q for _, q in bids)
    out1: dict[str, str] = {"aspr_acpt_hour": hms(at)}
    for i, ((ask, ask_qty), (bid, bid_qty)) in enumerate(zip(asks, bids, strict=True), start=1):
        out1 |= {
            f"askp{i}": num(ask),
            f"bidp{i}": num(bid),
            f"askp_rsqn{i}": num(ask_qty),
            f"bidp_rsqn{i}": num(bid_qty),
            f"askp_rsqn_icdc{i}": "0",
            f"bidp_rsqn_icdc{i}": "0",
        }
    out1 |= {
        "total_askp_rsqn": num(total_ask),
        "total_bidp_rsqn": num(total_bid),
        "total_askp_rsqn_icdc": "0",
        "total_bidp_rsqn_icdc": "0",
        "ovtm_total_askp_icdc": "0",
        "ovtm_total_bidp_icdc": "0",
        "ovtm_total_askp_rsqn": "0",
        "ovtm_total_bidp_rsqn": "0",
        "ntby_aspr_rsqn": num(total_bid - total_ask),
        "new_mkop_cls_code": phase,
    }
    continuous = phase == "20"
    expected = change_fields(snap.price, snap.prev_close)
    out2 = {
        "antc_mkop_cls_code": "" if continuous else "112",
        "stck_prpr": num(snap.price),
        "stck_oprc": num(snap.open),
        "stck_hgpr": num(snap.high),
        "stck_lwpr": num(snap.low),
        "stck_sdpr": num(snap.prev_close),
        "antc_cnpr": "0" if continuous else num(snap.price),
        "antc_cntg_vrss_sign": "3" if continuous else expected["prdy_vrss_sign"],
        "antc_cntg_vrss": "0" if continuous else expected["prdy_vrss"],
        "antc_cntg_prdy_ctrt": "0.00" if continuous else expected["prdy_ctrt"],
        "antc_vol": "0" if continuous else num(snap.volume),
        "stck_shrn_iscd": snap.code,
        "vi_cls_code": "N",
    }
    return ok(
        {"output1": pick(out1, ASKING_PRICE_OUTPUT1), "output2": pick(out2, ASKING_PRICE_OUTPUT2)}
    )
