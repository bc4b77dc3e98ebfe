"""Order and account handlers (kis-api.md §7): order-cash, order-rvsecncl, inquire-psbl-rvsecncl,
inquire-balance, inquire-daily-ccld, inquire-psbl-order.

Rejection codes: APBK0919 insufficient cash, APBK0918 insufficient holdings / outside hours (a
shared code per kis-api.md §4.5), 40570000 paper before the open. The codes for a price off the tick
grid, a bad quantity and an unknown order number are not documented; the ones below are our
choices (rt_cd "1", HTTP 200) with KIS-style Korean messages.
"""

from __future__ import annotations

from simulator import fields as F
from simulator.account import BRANCH, BUY, SELL, Account, Fill, Order
from simulator.context import Ctx, Reply
from simulator.marketview import MarketView
from simulator.ticks import is_on_grid, price_band
from simulator.wire import (
    MSG_NO_ROWS,
    MSG_OK_ACCOUNT,
    MSG_ORDER_OK,
    KisReject,
    bad_code,
    dec,
    envelope,
    hms,
    num,
    pad,
    parse_int,
    parse_ymd,
    pick,
    rate,
    tr_cont_code,
    ymd,
)

ORDER_TYPES_REAL = {"00": "", "01": "", "11": "IOC", "12": "FOK", "13": "IOC", "14": "FOK"}
ORDER_TYPES_PAPER = {"00": "", "01": ""}
MARKET_TYPES = {"01", "13", "14"}
ORD_DVSN_NAMES = {
    "00": "지정가",
    "01": "시장가",
    "11": "IOC지정가",
    "12": "FOK지정가",
    "13": "IOC시장가",
    "14": "FOK시장가",
}
BALANCE_ROWS = {"real": 50, "paper": 20}
CCLD_ROWS = {"real": 100, "paper": 15}
PSBL_RVSECNCL_ROWS = 50
SELL_TRS = {"TTTC0011U", "TTTC0801U", "VTTC0011U", "VTTC0801U"}


def _check_account(ctx: Ctx) -> Account:
    acct = ctx.account
    if ctx.get("CANO").strip() != acct.cano or ctx.get("ACNT_PRDT_CD").strip() != acct.prdt:
        raise KisReject("OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
    acct.process(ctx.now)
    return acct


def _session_gate(ctx: Ctx) -> str:
    """The session phase an order meets; refuses orders the market would not take now."""
    phase = ctx.clock.phase(ctx.now)
    if ctx.env == "paper":
        if phase == "pre":
            raise KisReject("40570000", "모의투자 장시작전 입니다.")
        if phase == "closed":
            raise KisReject(
                "40570000", "모의투자 장종료 입니다."
            )  # code unconfirmed (kis-api.md §4.5)
        return phase
    open_, _ = ctx.clock.session(ctx.now.date()) if phase != "closed" else (ctx.now, ctx.now)
    # Real: orders are taken from 08:30 (they wait for the opening match) until the close.
    if phase == "closed" or (phase == "pre" and (open_ - ctx.now).total_seconds() > 30 * 60):
        raise KisReject("APBK0918", "장운영시간이 아닙니다.")
    return phase


def _quantity(ctx: Ctx) -> int:
    text = ctx.get("ORD_QTY").strip()
    if not text.isdigit() or int(text) <= 0:
        raise KisReject("APBK0016", "주문수량을 확인하여 주십시오.")
    return int(text)


def _price(ctx: Ctx, ord_dvsn: str, base: int) -> int:
    text = ctx.get("ORD_UNPR").strip() or "0"
    if not text.isdigit():
        raise KisReject("APBK0017", "주문단가를 확인하여 주십시오.")
    price = int(text)
    if ord_dvsn in MARKET_TYPES:
        if price != 0:
            raise KisReject("APBK0017", "시장가 주문은 주문단가를 0으로 입력하십시오.")
        return 0
    if price <= 0:
        raise KisReject("APBK0017", "주문단가를 확인하여 주십시오.")
    if not is_on_grid(price):
        raise KisReject("APBK0506", "주식주문호가단위 오류입니다.")
    lower, upper = price_band(base)
    if not lower <= price <= upper:
        raise KisReject("APBK0509", "주문가격이 상하한가를 벗어났습니다.")
    return price


def _order_types(ctx: Ctx) -> dict[str, str]:
    return ORDER_TYPES_PAPER if ctx.env == "paper" else ORDER_TYPES_REAL


def _order_reply(order: Order) -> Reply:
    out = pick(
        {"KRX_FWDG_ORD_ORGNO": order.orgno, "ODNO": order.odno, "ORD_TMD": order.ord_tmd}, F.ORDER
    )
    return Reply(envelope(*MSG_ORDER_OK, {"output": out}, blocks_first=False))


def order_cash(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    side = SELL if ctx.tr_id in SELL_TRS else BUY
    code = ctx.get("PDNO").strip()
    view = MarketView(ctx.market)
    inst = view.instrument(code, ctx.now)
    if inst is None:
        raise bad_code()
    ord_dvsn = ctx.get("ORD_DVSN").strip()
    types = _order_types(ctx)
    if ord_dvsn not in types:
        raise KisReject("APBK0656", "주문구분코드를 확인하여 주십시오.")
    excg = ctx.get("EXCG_ID_DVSN_CD", "KRX").strip().upper() or "KRX"
    if excg != "KRX" and (ctx.env == "paper" or excg not in {"NXT", "SOR"}):
        raise KisReject("APBK0657", "거래소ID구분코드를 확인하여 주십시오.")
    qty = _quantity(ctx)
    snap = view.snapshot(code, ctx.now)
    assert snap is not None
    price = _price(ctx, ord_dvsn, snap.prev_close)
    phase = _session_gate(ctx)
    with acct.lock:
        today = ctx.now.date()
        if side == BUY:
            cost = qty * (price or snap.upper)
            if cost > acct.orderable_cash(today):
                raise KisReject("APBK0919", "주문가능금액을 초과 했습니다")
        elif qty > acct.sellable(code, today):
            raise KisReject("APBK0918", "주문가능수량을 초과 했습니다")
        order = Order(
            acct.new_odno(),
            BRANCH,
            ymd(today),
            hms(ctx.now),
            code,
            inst.name,
            side,
            ord_dvsn,
            qty,
            price,
            cond=types[ord_dvsn],
        )
        acct.place(order, ctx.now, phase)
    return _order_reply(order)


def order_rvsecncl(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    kind_code = ctx.get("RVSE_CNCL_DVSN_CD").strip()
    if kind_code not in {"01", "02"}:
        raise KisReject("APBK0658", "정정취소구분코드를 확인하여 주십시오.")
    original = acct.find(ctx.need("ORGN_ODNO")) if ctx.get("ORGN_ODNO").strip().isdigit() else None
    if original is None or original.kind == "cancel":
        raise KisReject("APBK0344", "원주문번호가 존재하지 않습니다.")
    orgno = ctx.get("KRX_FWDG_ORD_ORGNO").strip()
    if orgno and orgno != original.orgno:  # blank accepted (the workbook example sends "")
        raise KisReject("APBK0345", "주문조직번호를 확인하여 주십시오.")
    phase = _session_gate(ctx)
    with acct.lock:
        open_qty = original.open_qty
        if open_qty <= 0:
            raise KisReject("APBK0346", "정정/취소할 수량이 없습니다.")
        all_qty = ctx.get("QTY_ALL_ORD_YN").strip().upper()
        if all_qty not in {"Y", "N"}:
            raise KisReject("APBK0659", "잔량전부주문여부를 확인하여 주십시오.")
        qty = open_qty if all_qty == "Y" else _quantity(ctx)
        if qty > open_qty:
            raise KisReject("APBK0346", "정정/취소 가능수량을 초과 했습니다.")
        today = ctx.now.date()
        if kind_code == "02":
            kind, ord_dvsn, price = "cancel", original.ord_dvsn, original.price
        else:
            kind = "modify"
            ord_dvsn = ctx.get("ORD_DVSN").strip() or original.ord_dvsn
            if ord_dvsn not in _order_types(ctx) or _order_types(ctx)[ord_dvsn]:
                raise KisReject("APBK0656", "주문구분코드를 확인하여 주십시오.")
            snap = MarketView(ctx.market).snapshot(original.code, ctx.now)
            assert snap is not None
            price = _price(ctx, ord_dvsn, snap.prev_close)
            if original.side == BUY:
                extra = qty * (price or snap.upper) - qty * (original.price or snap.upper)
                if extra > acct.orderable_cash(today):
                    raise KisReject("APBK0919", "주문가능금액을 초과 했습니다")
        new = Order(
            acct.new_odno(),
            original.orgno,
            ymd(today),
            hms(ctx.now),
            original.code,
            original.name,
            original.side,
            ord_dvsn,
            qty,
            price,
            kind=kind,
            orgn_odno=original.odno,
        )
        acct.amend(new, original, qty, ctx.now, phase)
    return _order_reply(new)


# -- queries --------------------------------------------------------------------------------------


def _page(ctx: Ctx, keys: list[str], size: int) -> tuple[int, int, bool]:
    """Slice bounds of the page after the cursor in CTX_AREA_NK100 (the last key served)."""
    nk = ctx.get("CTX_AREA_NK100").strip() if ctx.req_tr_cont == "N" else ""
    first = not nk
    start = 0
    if nk:
        start = next((i + 1 for i, k in enumerate(keys) if k == nk), None) or _after(keys, nk)
    end = min(start + size, len(keys))
    return start, end, first


def _after(keys: list[str], nk: str) -> int:
    """The cursor row is gone (should not happen): continue after where it would sort."""
    return sum(1 for k in keys if k <= nk) if keys == sorted(keys) else len(keys)


def _ctx_fields(fk: str, nk: str) -> dict[str, str]:
    return {"ctx_area_fk100": pad(fk, 100), "ctx_area_nk100": pad(nk, 100)}


def inquire_balance(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    today = ctx.now.date()
    view = MarketView(ctx.market)
    holdings = list(acct.holdings(today).values())
    keys = [h.code for h in holdings]
    start, end, first = _page(ctx, keys, BALANCE_ROWS[ctx.env])
    rows, scts, pchs, evlu = [], 0, 0, 0
    for h in holdings:
        snap = view.snapshot(h.code, ctx.now)
        price = snap.price if snap else 0
        value = price * h.qty
        scts += value
        pchs += h.cost
        evlu += value - h.cost
        rows.append(
            pick(
                {
                    "pdno": h.code,
                    "prdt_name": h.name,
                    "trad_dvsn_name": "현금",
                    "bfdy_buy_qty": num(h.prev_buy),
                    "bfdy_sll_qty": num(h.prev_sell),
                    "thdt_buyqty": num(h.today_buy),
                    "thdt_sll_qty": num(h.today_sell),
                    "hldg_qty": num(h.qty),
                    "ord_psbl_qty": num(max(acct.sellable(h.code, today), 0)),
                    "pchs_avg_pric": dec(h.avg_price, 4),
                    "pchs_amt": num(h.cost),
                    "prpr": num(price),
                    "evlu_amt": num(value),
                    "evlu_pfls_amt": num(value - h.cost),
                    "evlu_pfls_rt": dec(rate(value - h.cost, h.cost)),
                    "evlu_erng_rt": "0.00000000",
                    "loan_dt": "",
                    "loan_amt": "0",
                    "stln_slng_chgs": "0",
                    "expd_dt": "",
                    "fltt_rt": dec(rate(snap.change, snap.prev_close)) if snap else "0.00",
                    "bfdy_cprs_icdc": num(snap.change if snap else 0),
                    "item_mgna_rt_name": "20%",
                    "grta_rt_name": "",
                    "sbst_pric": num(price * 7 // 10),
                    "stck_loan_unpr": "0.0000",
                },
                F.BALANCE_OUTPUT1,
            )
        )
    today_fills = [f for f in acct.fills if f.ord_dt == ymd(today)]
    prev_fills = [
        f for f in acct.fills if f.ord_dt == ymd(ctx.market.calendar.previous_trading_day(today))
    ]

    def amount(fills: list[Fill], side: str) -> int:
        return sum(f.qty * f.price for f in fills if f.side == side)

    d2 = acct.cash(today, 2)
    summary = pick(
        {
            "dnca_tot_amt": num(acct.cash(today, 0)),
            "nxdy_excc_amt": num(acct.cash(today, 1)),
            "prvs_rcdl_excc_amt": num(d2),
            "cma_evlu_amt": "0",
            "bfdy_buy_amt": num(amount(prev_fills, BUY)),
            "thdt_buy_amt": num(amount(today_fills, BUY)),
            "nxdy_auto_rdpt_amt": "0",
            "bfdy_sll_amt": num(amount(prev_fills, SELL)),
            "thdt_sll_amt": num(amount(today_fills, SELL)),
            "d2_auto_rdpt_amt": "0",
            "bfdy_tlex_amt": "0",
            "thdt_tlex_amt": "0",
            "tot_loan_amt": "0",
            "scts_evlu_amt": num(scts),
            "tot_evlu_amt": num(scts + d2),
            "nass_amt": num(scts + d2),
            "fncg_gld_auto_rdpt_yn": "",
            "pchs_amt_smtl_amt": num(pchs),
            "evlu_amt_smtl_amt": num(scts),
            "evlu_pfls_smtl_amt": num(evlu),
            "tot_stln_slng_chgs": "0",
            "bfdy_tot_asst_evlu_amt": num(acct.initial_cash),
            "asst_icdc_amt": num(scts + d2 - acct.initial_cash),
            "asst_icdc_erng_rt": "0.00000000",
        },
        F.BALANCE_OUTPUT2,
    )
    more = end < len(keys)
    fk = (
        "^".join(
            [
                acct.cano,
                acct.prdt,
                ctx.get("AFHR_FLPR_YN", "N") or "N",
                ctx.get("OFL_YN") or "N",
                ctx.get("INQR_DVSN") or "01",
                ctx.get("UNPR_DVSN") or "01",
                ctx.get("FUND_STTL_ICLD_YN") or "N",
            ]
        )
        + "^"
    )
    nk = keys[end - 1] if more and end > 0 else ""
    body = envelope(
        *MSG_OK_ACCOUNT, {**_ctx_fields(fk, nk), "output1": rows[start:end], "output2": [summary]}
    )
    return Reply(body, tr_cont_code(first, more))


def _ccld_row(o: Order, acct: Account) -> dict[str, str]:
    avg = o.filled_amt / o.filled_qty if o.filled_qty else 0
    side_name = {SELL: "매도", BUY: "매수"}[o.side]
    if o.kind == "cancel":
        side_name += "취소"
    elif o.kind == "modify":
        side_name += "정정"
    return pick(
        {
            "ord_dt": o.ord_dt,
            "ord_gno_brno": o.orgno,
            "odno": o.odno,
            "orgn_odno": o.orgn_odno,
            "ord_dvsn_name": ORD_DVSN_NAMES.get(o.ord_dvsn, ""),
            "sll_buy_dvsn_cd": o.side,
            "sll_buy_dvsn_cd_name": side_name,
            "pdno": o.code,
            "prdt_name": o.name,
            "ord_qty": num(o.qty),
            "ord_unpr": num(o.price),
            "ord_tmd": o.ord_tmd,
            "tot_ccld_qty": num(o.filled_qty),
            "avg_prvs": num(avg),
            "cncl_yn": "Y" if o.kind == "cancel" else "N",
            "tot_ccld_amt": num(o.filled_amt),
            "loan_dt": "",
            "ordr_empno": "OpnAPI",
            "ord_dvsn_cd": o.ord_dvsn,
            "cncl_cfrm_qty": num(o.qty if o.kind == "cancel" else 0),
            "rmn_qty": num(o.open_qty),
            "rjct_qty": "0",
            "ccld_cndt_name": {"IOC": "IOC", "FOK": "FOK"}.get(o.cond, "없음"),
            "inqr_ip_addr": "",
            "cpbc_ordp_ord_rcit_dvsn_cd": "",
            "cpbc_ordp_infm_mthd_dvsn_cd": "",
            "infm_tmd": "",
            "ctac_tlno": "",
            "prdt_type_cd": "300",
            "excg_dvsn_cd": "02",
            "cpbc_ordp_mtrl_dvsn_cd": "",
            "ord_orgno": o.orgno,
            "rsvn_ord_end_dt": "",
            "excg_id_dvsn_Cd": "KRX",
            "stpm_cndt_pric": "0",
            "stpm_efct_occr_dtmd": "",
        },
        F.DAILY_CCLD_OUTPUT1,
    )


def inquire_daily_ccld(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    start = parse_ymd(ctx.need("INQR_STRT_DT"), "INQR_STRT_DT")
    end = parse_ymd(ctx.need("INQR_END_DT"), "INQR_END_DT")
    side = ctx.get("SLL_BUY_DVSN_CD", "00").strip() or "00"
    ccld = ctx.get("CCLD_DVSN", "00").strip() or "00"
    if side not in {"00", "01", "02"} or ccld not in {"00", "01", "02"}:
        raise KisReject("OPSQ2002", "SLL_BUY_DVSN_CD / CCLD_DVSN 입력값을 확인하세요.")
    code, odno = ctx.get("PDNO").strip(), ctx.get("ODNO").strip()
    chrono = (ctx.get("INQR_DVSN", "00").strip() or "00") == "01"
    orders = [
        o
        for o in acct.orders
        if ymd(start) <= o.ord_dt <= ymd(end)
        and (side == "00" or o.side == side)
        and (not code or o.code == code)
        and (not odno or o.odno == odno.zfill(10))
        and (
            ccld == "00" or (ccld == "01" and o.filled_qty > 0) or (ccld == "02" and o.open_qty > 0)
        )
    ]
    orders.sort(key=lambda o: (o.ord_dt, o.odno), reverse=not chrono)
    keys = [f"{o.ord_dt}^{o.odno}" for o in orders]
    lo, hi, first = _page(ctx, keys, CCLD_ROWS[ctx.env])
    page = orders[lo:hi]
    more = hi < len(keys)
    filled_qty = sum(o.filled_qty for o in orders)
    filled_amt = sum(o.filled_amt for o in orders)
    summary = pick(
        {
            "tot_ord_qty": num(sum(o.qty for o in orders if o.kind != "cancel")),
            "tot_ccld_qty": num(filled_qty),
            "tot_ccld_amt": num(filled_amt),
            "prsm_tlex_smtl": "0",
            "pchs_avg_pric": dec(filled_amt / filled_qty if filled_qty else 0, 4),
        },
        F.DAILY_CCLD_OUTPUT2,
    )
    fk = f"{acct.cano}^{acct.prdt}^{ymd(start)}^{ymd(end)}^{side}^{ccld}^"
    nk = keys[hi - 1] if more and hi > 0 else ""
    msg = MSG_OK_ACCOUNT if orders else MSG_NO_ROWS
    body = envelope(
        *msg,
        {**_ctx_fields(fk, nk), "output1": [_ccld_row(o, acct) for o in page], "output2": summary},
    )
    return Reply(body, tr_cont_code(first, more))


def inquire_psbl_rvsecncl(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    side = ctx.get("INQR_DVSN_2", "0").strip() or "0"
    by_stock = (ctx.get("INQR_DVSN_1", "0").strip() or "0") == "1"
    wanted = {"0": {SELL, BUY}, "1": {SELL}, "2": {BUY}}.get(side)
    if wanted is None:
        raise KisReject("OPSQ2002", "INQR_DVSN_2 입력값을 확인하세요.")
    orders = [o for o in acct.orders if o.open_qty > 0 and o.side in wanted]
    orders.sort(key=lambda o: (o.code, o.odno) if by_stock else (o.odno,))
    keys = [o.odno for o in orders]
    lo, hi, first = _page(ctx, keys, PSBL_RVSECNCL_ROWS)
    more = hi < len(keys)
    rows = [
        pick(
            {
                "ord_gno_brno": o.orgno,
                "odno": o.odno,
                "orgn_odno": o.orgn_odno,
                "ord_dvsn_name": ORD_DVSN_NAMES.get(o.ord_dvsn, ""),
                "pdno": o.code,
                "prdt_name": o.name,
                "rvse_cncl_dvsn_name": {"modify": "정정", "cancel": "취소"}.get(o.kind, ""),
                "ord_qty": num(o.qty),
                "ord_unpr": num(o.price),
                "ord_tmd": o.ord_tmd,
                "tot_ccld_qty": num(o.filled_qty),
                "tot_ccld_amt": num(o.filled_amt),
                "psbl_qty": num(o.open_qty),
                "sll_buy_dvsn_cd": o.side,
                "ord_dvsn_cd": o.ord_dvsn,
                "mgco_aptm_odno": "",
                "excg_dvsn_cd": "02",
                "excg_id_dvsn_cd": "KRX",
                "excg_id_dvsn_name": "한국거래소",
                "stpm_cndt_pric": "0",
                "stpm_efct_occr_yn": "N",
            },
            F.PSBL_RVSECNCL,
        )
        for o in orders[lo:hi]
    ]
    fk = f"{acct.cano}^{acct.prdt}^"
    nk = keys[hi - 1] if more and hi > 0 else ""
    body = envelope(*MSG_OK_ACCOUNT, {**_ctx_fields(fk, nk), "output": rows})
    return Reply(body, tr_cont_code(first, more))


def inquire_psbl_order(ctx: Ctx) -> Reply:
    acct = _check_account(ctx)
    today = ctx.now.date()
    cash = acct.orderable_cash(today)
    code = ctx.get("PDNO").strip()
    price_text = ctx.get("ORD_UNPR").strip() or "0"
    price = parse_int(price_text, "ORD_UNPR", minimum=0)
    unit = 0
    if code:
        view = MarketView(ctx.market)
        if view.instrument(code, ctx.now) is None:
            raise bad_code()
        snap = view.snapshot(code, ctx.now)
        assert snap is not None
        market_type = (ctx.get("ORD_DVSN", "00").strip() or "00") in MARKET_TYPES
        unit = snap.upper if market_type or price == 0 else price
    qty = cash // unit if unit else 0
    row = pick(
        {
            "ord_psbl_cash": num(cash),
            "ord_psbl_sbst": "0",
            "ruse_psbl_amt": "0",
            "fund_rpch_chgs": "0",
            "psbl_qty_calc_unpr": num(unit),
            "nrcvb_buy_amt": num(qty * unit),
            "nrcvb_buy_qty": num(qty),
            "max_buy_amt": num(qty * unit),
            "max_buy_qty": num(qty),
            "cma_evlu_amt": "0",
            "ovrs_re_use_amt_wcrc": "0",
            "ord_psbl_frcr_amt_wcrc": "0",
        },
        F.PSBL_ORDER,
    )
    return Reply(envelope(*MSG_OK_ACCOUNT, {"output": row}))
