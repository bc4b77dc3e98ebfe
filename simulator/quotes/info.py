"""Product and stock basics: search-info (CTPF1604R, sheet 085) and search-stock-info (CTPF1002R,
sheet 103), both real-only in the workbook.

Answers are point in time: on sim-today a stock listed later is unknown (MCA05918, as any unknown
code), a delisting shows only once it has happened, and listed shares and par value are those of
that day (before 삼성전자's 2018-05-04 split: 1/50 of the shares at 50x the par). Fields the
synthetic universe has no data for (sector codes, English names of KRX stocks, risk grades) are
sent empty; the codes that are filled and not in the workbook's example are unconfirmed:
`mket_id_cd` STK/KSQ and `excg_dvsn_cd` 02/03 for KOSPI/KOSDAQ; every KOSPI name counts as a
KOSPI200 member (`kospi200_item_yn`), as inquire-price's `rprs_mrkt_kor_name` has it.
"""

from __future__ import annotations

from datetime import date

from simulator.context import Ctx, Reply
from simulator.market import Instrument
from simulator.quotes.common import market_view
from simulator.wire import KisReject, bad_code, envelope, num, pick, ymd

MSG_OK_INFO = ("KIOK0530", "조회되었습니다")
STOCK_TYPE = "300"
US_TYPES = {"512": "NAS", "513": "NYS", "529": "AMS"}  # PRDT_TYPE_CD -> our exchange code

# sheet 085 response example, output
SEARCH_INFO: tuple[str, ...] = (
    "pdno",
    "prdt_type_cd",
    "prdt_name",
    "prdt_name120",
    "prdt_abrv_name",
    "prdt_eng_name",
    "prdt_eng_name120",
    "prdt_eng_abrv_name",
    "std_pdno",
    "shtn_pdno",
    "prdt_sale_stat_cd",
    "prdt_risk_grad_cd",
    "prdt_clsf_cd",
    "prdt_clsf_name",
    "sale_strt_dt",
    "sale_end_dt",
    "wrap_asst_type_cd",
    "ivst_prdt_type_cd",
    "ivst_prdt_type_cd_name",
    "frst_erlm_dt",
)

# sheet 103 response example, output
SEARCH_STOCK_INFO: tuple[str, ...] = (
    "pdno",
    "prdt_type_cd",
    "mket_id_cd",
    "scty_grp_id_cd",
    "excg_dvsn_cd",
    "setl_mmdd",
    "lstg_stqt",
    "lstg_cptl_amt",
    "cpta",
    "papr",
    "issu_pric",
    "kospi200_item_yn",
    "scts_mket_lstg_dt",
    "scts_mket_lstg_abol_dt",
    "kosdaq_mket_lstg_dt",
    "kosdaq_mket_lstg_abol_dt",
    "frbd_mket_lstg_dt",
    "frbd_mket_lstg_abol_dt",
    "reits_kind_cd",
    "etf_dvsn_cd",
    "oilf_fund_yn",
    "idx_bztp_lcls_cd",
    "idx_bztp_mcls_cd",
    "idx_bztp_scls_cd",
    "stck_kind_cd",
    "mfnd_opng_dt",
    "mfnd_end_dt",
    "dpsi_erlm_cncl_dt",
    "etf_cu_qty",
    "prdt_name",
    "prdt_name120",
    "prdt_abrv_name",
    "std_pdno",
    "prdt_eng_name",
    "prdt_eng_name120",
    "prdt_eng_abrv_name",
    "dpsi_aptm_erlm_yn",
    "etf_txtn_type_cd",
    "etf_type_cd",
    "lstg_abol_dt",
    "nwst_odst_dvsn_cd",
    "sbst_pric",
    "thco_sbst_pric",
    "thco_sbst_pric_chng_dt",
    "tr_stop_yn",
    "admn_item_yn",
    "thdt_clpr",
    "bfdy_clpr",
    "clpr_chng_dt",
    "std_idst_clsf_cd",
    "std_idst_clsf_cd_name",
    "idx_bztp_lcls_cd_name",
    "idx_bztp_mcls_cd_name",
    "idx_bztp_scls_cd_name",
    "ocr_no",
    "crfd_item_yn",
    "elec_scty_yn",
)


def _ok(row: dict[str, str]) -> Reply:
    return Reply(envelope(*MSG_OK_INFO, {"output": row}))


def _product_type(ctx: Ctx, allowed: set[str]) -> str:
    kind = ctx.need("PRDT_TYPE_CD")
    if kind not in allowed:
        raise KisReject("OPSQ2002", "PRDT_TYPE_CD 입력값을 확인하세요.")
    return kind


def _known_stock(ctx: Ctx) -> tuple[Instrument, date]:
    """The KRX stock PDNO names, as known on sim-today (listed by then; delisted ones still are),
    and that day."""
    code = ctx.need("PDNO")[-6:]  # the 12-character form 00000A005930 is accepted too
    inst = ctx.market.instruments.get(code)
    today = market_view(ctx).session_day(ctx.now)
    if inst is None or inst.listed > today:
        raise bad_code()
    return inst, today


def _long_code(code: str) -> str:
    """KIS's 12-character product number of a KRX stock (00000A + code)."""
    return "00000A" + code


def search_info(ctx: Ctx) -> Reply:
    kind = _product_type(ctx, {STOCK_TYPE, *US_TYPES})
    if kind in US_TYPES:
        symbol = ctx.need("PDNO").upper()
        us = ctx.market.overseas.get((US_TYPES[kind], symbol))
        if us is None:
            raise bad_code()
        row = {
            "pdno": symbol,
            "prdt_type_cd": kind,
            "prdt_name": us.name,
            "prdt_name120": us.name,
            "prdt_abrv_name": us.name,
            "prdt_eng_name": us.name,
            "prdt_eng_name120": us.name,
            "prdt_eng_abrv_name": us.name,
            "shtn_pdno": symbol,
            "prdt_clsf_cd": "101210",
            "prdt_clsf_name": "해외주식",
            "wrap_asst_type_cd": "06",
            "ivst_prdt_type_cd": "1012",
            "ivst_prdt_type_cd_name": "해외주식",
        }
        return _ok(pick(row, SEARCH_INFO))
    inst, _ = _known_stock(ctx)
    row = {
        "pdno": _long_code(inst.code),
        "prdt_type_cd": kind,
        "prdt_name": inst.name,
        "prdt_name120": inst.name,
        "prdt_abrv_name": inst.name,
        "std_pdno": inst.isin,
        "shtn_pdno": "A" + inst.code,
        "frst_erlm_dt": ymd(inst.listed),
    }
    return _ok(pick(row, SEARCH_INFO))


def search_stock_info(ctx: Ctx) -> Reply:
    kind = _product_type(ctx, {STOCK_TYPE})
    inst, today = _known_stock(ctx)
    market = ctx.market
    delisted = inst.delisted if inst.delisted is not None and inst.delisted <= today else None
    last_day = today if delisted is None else market.calendar.previous_trading_day(delisted)
    shares = market.listed_shares(inst.code, last_day)
    par = inst.par_value(last_day)
    listed, abolished = ymd(inst.listed), ymd(delisted) if delisted else ""
    kospi = inst.market == "KOSPI"
    snap = market_view(ctx).snapshot(inst.code, ctx.now) if delisted is None else None
    if snap is not None:
        close, prev_close, close_day = snap.price, snap.prev_close, snap.day
    else:
        bar = market.last_close_before(inst.code, delisted or today)
        close = prev_close = bar.close if bar else 0
        close_day = bar.date if bar else last_day
    row = {
        "pdno": _long_code(inst.code),
        "prdt_type_cd": kind,
        "mket_id_cd": "STK" if kospi else "KSQ",
        "scty_grp_id_cd": "ST",
        "excg_dvsn_cd": "02" if kospi else "03",
        "setl_mmdd": "12",
        "lstg_stqt": num(shares),
        "lstg_cptl_amt": "0",
        "cpta": num(shares * par),
        "papr": num(par),
        "issu_pric": num(par),
        "kospi200_item_yn": "Y" if kospi else "N",
        "scts_mket_lstg_dt": listed if kospi else "",
        "scts_mket_lstg_abol_dt": abolished if kospi else "",
        "kosdaq_mket_lstg_dt": "" if kospi else listed,
        "kosdaq_mket_lstg_abol_dt": "" if kospi else abolished,
        "frbd_mket_lstg_dt": listed,
        "frbd_mket_lstg_abol_dt": abolished,
        "etf_dvsn_cd": "0",
        "oilf_fund_yn": "N",
        "stck_kind_cd": "101",
        "etf_cu_qty": "0",
        "prdt_name": inst.name,
        "prdt_name120": inst.name,
        "prdt_abrv_name": inst.name,
        "std_pdno": inst.isin,
        "dpsi_aptm_erlm_yn": "Y",
        "etf_txtn_type_cd": "00",
        "lstg_abol_dt": abolished,
        "nwst_odst_dvsn_cd": "1",
        "tr_stop_yn": "Y" if delisted else "N",
        "admn_item_yn": "N",
        "thdt_clpr": num(close),
        "bfdy_clpr": num(prev_close),
        "clpr_chng_dt": ymd(close_day),
        "crfd_item_yn": "N",
        "elec_scty_yn": "Y",
    }
    return _ok(pick(row, SEARCH_STOCK_INFO))
