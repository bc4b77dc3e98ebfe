"""The overseas account: inquire-present-balance (CTRP6504R/VTRP6504R, sheet 236), inquire-nccs
(TTTS3018R, sheet 242, real only) and inquire-ccnl (TTTS3035R/VTTS3035R, sheet 244).

The simulator takes no overseas orders, so the overseas account is always empty; what is simulated
is the answer KIS gives such an account, with the sheet's envelope and blocks:
- present-balance: no holdings (`output1` []), no foreign currency (`output2` []), the totals of
  `output3` all zero (on paper `output3` is the only block KIS fills; it is the only non-empty one
  here anyway);
- nccs: the continuation fields (`ctx_area_fk200` echoing the query as the example's
  `CANO^ACNT_PRDT_CD^OVRS_EXCG_CD^SORT_SQN^`, `ctx_area_nk200` blank, both 200 wide), `output` [];
- ccnl: as the sheet's own example of an account without orders: `output` is one object of empty
  values (not a list) with KIOK0560, the cursor `CANO^ACNT_PRDT_CD^PDNO^ORD_STRT_DT^ORD_END_DT^
  SLL_BUY_DVSN^CCLD_NCCS_DVSN^OVRS_EXCG_CD^^`.
A wrong account number answers OPSQ2000 as the domestic account APIs do.
"""

from __future__ import annotations

from simulator.context import Ctx, Reply
from simulator.wire import (
    MSG_NO_ROWS,
    MSG_OK_ACCOUNT,
    KisReject,
    envelope,
    pad,
    parse_ymd,
    pick,
    tr_cont_code,
)

CTX_WIDTH = 200

# sheet 236 response table (its example is cut short), output3
PRESENT_BALANCE_OUTPUT3: tuple[str, ...] = (
    "pchs_amt_smtl",
    "evlu_amt_smtl",
    "evlu_pfls_amt_smtl",
    "dncl_amt",
    "cma_evlu_amt",
    "tot_dncl_amt",
    "etc_mgna",
    "wdrw_psbl_tot_amt",
    "frcr_evlu_tota",
    "evlu_erng_rt1",
    "pchs_amt_smtl_amt",
    "evlu_amt_smtl_amt",
    "tot_evlu_pfls_amt",
    "tot_asst_amt",
    "buy_mgn_amt",
    "mgna_tota",
    "frcr_use_psbl_amt",
    "ustl_sll_amt_smtl",
    "ustl_buy_amt_smtl",
    "tot_frcr_cblc_smtl",
    "tot_loan_amt",
)
# sheet 244 response example, output (the empty-account object)
CCNL_OUTPUT: tuple[str, ...] = (
    "ord_dt",
    "ord_gno_brno",
    "odno",
    "orgn_odno",
    "sll_buy_dvsn_cd",
    "sll_buy_dvsn_cd_name",
    "rvse_cncl_dvsn",
    "rvse_cncl_dvsn_name",
    "pdno",
    "prdt_name",
    "ft_ord_qty",
    "ft_ord_unpr3",
    "ft_ccld_qty",
    "ft_ccld_unpr3",
    "ft_ccld_amt3",
    "nccs_qty",
    "prcs_stat_name",
    "rjct_rson",
    "rjct_rson_name",
    "ord_tmd",
    "tr_mket_name",
    "tr_natn",
    "tr_natn_name",
    "ovrs_excg_cd",
    "tr_crcy_cd",
    "dmst_ord_dt",
    "thco_ord_tmd",
    "loan_type_cd",
    "loan_dt",
    "mdia_dvsn_name",
    "usa_amk_exts_rqst_yn",
    "splt_buy_attr_name",
)
# The values the sheet's example gives an empty row; every other field is "".
_EMPTY_CCNL_ROW = {
    "ft_ord_qty": "0",
    "ft_ord_unpr3": "0.00000000",
    "ft_ccld_qty": "0",
    "ft_ccld_unpr3": "0.00000000",
    "ft_ccld_amt3": "0.00000",
    "nccs_qty": "0",
    "mdia_dvsn_name": "OpenAPI",
    "usa_amk_exts_rqst_yn": "N",
    "splt_buy_attr_name": "00:00~04:00",
}
_DECIMAL_TOTALS = {"evlu_erng_rt1": "0.00000000", "tot_evlu_pfls_amt": "0.00000000"}


def _account(ctx: Ctx) -> tuple[str, str]:
    cano, prdt = ctx.get("CANO").strip(), ctx.get("ACNT_PRDT_CD").strip()
    if (cano, prdt) != (ctx.account.cano, ctx.account.prdt):
        raise KisReject("OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
    return cano, prdt


def _cursor(*parts: str) -> str:
    return pad("^".join(parts), CTX_WIDTH)


def inquire_present_balance(ctx: Ctx) -> Reply:
    _account(ctx)
    for name in ("WCRC_FRCR_DVSN_CD", "NATN_CD", "TR_MKET_CD", "INQR_DVSN_CD"):
        ctx.need(name)
    totals = {name: _DECIMAL_TOTALS.get(name, "0") for name in PRESENT_BALANCE_OUTPUT3}
    blocks = {"output1": [], "output2": [], "output3": totals}
    # Paged by tr_cont (sheet 236): an empty account is a single, last page.
    return Reply(envelope(*MSG_OK_ACCOUNT, blocks), tr_cont_code(ctx.req_tr_cont != "N", False))


def inquire_nccs(ctx: Ctx) -> Reply:
    cano, prdt = _account(ctx)
    exchange = ctx.need("OVRS_EXCG_CD").upper()
    blocks = {
        "ctx_area_fk200": _cursor(cano, prdt, exchange, ctx.get("SORT_SQN").strip(), ""),
        "ctx_area_nk200": pad("", CTX_WIDTH),
        "output": [],
    }
    return Reply(envelope(*MSG_NO_ROWS, blocks))


def inquire_ccnl(ctx: Ctx) -> Reply:
    cano, prdt = _account(ctx)
    start, end = ctx.need("ORD_STRT_DT"), ctx.need("ORD_END_DT")
    if parse_ymd(start, "ORD_STRT_DT") > parse_ymd(end, "ORD_END_DT"):
        raise KisReject("OPSQ2002", "ORD_STRT_DT 입력값을 확인하세요.")
    fk = _cursor(
        cano,
        prdt,
        ctx.get("PDNO").strip(),
        start,
        end,
        ctx.get("SLL_BUY_DVSN").strip(),
        ctx.get("CCLD_NCCS_DVSN").strip(),
        ctx.get("OVRS_EXCG_CD").strip(),
        "",
        "",
    )
    blocks = {
        "ctx_area_nk200": pad("", CTX_WIDTH),
        "ctx_area_fk200": fk,
        "output": pick(_EMPTY_CCNL_ROW, CCNL_OUTPUT),
    }
    # Paged by tr_cont (sheet 244): nothing to continue.
    return Reply(envelope(*MSG_NO_ROWS, blocks), tr_cont_code(ctx.req_tr_cont != "N", False))
