"""The research datasets beyond prices (issue 15): who traded, per stock and per market.

Investor flows are stored long, one row per (…, date, investor), so a new investor type KIS adds
is a new row value rather than a new column, and a view picks the investors it needs. Values are
integer KRW; KIS sends them in millions of KRW (백만원), so they are exact to the million only.
"""

from __future__ import annotations

import polars as pl

from schemas.base import KRW, QTY, RATE, Column, Dataset

S = pl.String()
D = pl.Date()

# Investor types of KIS's 0416 screen: the four groups whose nets sum to zero on every
# stock-day (every share bought was sold by someone), then the groups' parts.
INVESTOR_GROUPS = ("foreign", "individual", "institution", "other")
INVESTOR_PARTS = {
    "foreign": ("foreign_registered", "foreign_unregistered"),
    "institution": (
        "securities",
        "investment_trust",
        "private_fund",
        "bank",
        "insurance",
        "merchant_bank",
        "pension_fund",
    ),
    "other": ("other_corporation", "other_organization"),
}
INVESTORS = (*INVESTOR_GROUPS, *(part for parts in INVESTOR_PARTS.values() for part in parts))
# 주식현재가 투자자 (FHKST01010900, paper too) sends these three groups for the last 30 days; only
# the 0416 screen (FHPTJ04160001) sends the others. Each source's stock-days are known by one
# type's row: "other" (only the full source sends it, so such a day holds every type) and
# "foreign" (both send it).
RECENT_INVESTORS = ("foreign", "individual", "institution")
FULL_SOURCE_MARK = "other"
RECENT_SOURCE_MARK = "foreign"

_FLOW_COLUMNS = (
    Column("investor", S, nullable=False, doc="; ".join(INVESTORS)),
    Column("buy_volume", QTY, nullable=False, doc="shares"),
    Column("sell_volume", QTY, nullable=False, doc="shares"),
    Column("net_volume", QTY, nullable=False, doc="buy - sell, shares"),
    Column("buy_value", KRW, nullable=False, doc="KRW, to the million"),
    Column("sell_value", KRW, nullable=False, doc="KRW, to the million"),
    Column("net_value", KRW, nullable=False, doc="KRW, to the million"),
)

INVESTOR_FLOWS = Dataset(
    name="investor_flows",
    doc="Per stock per day, shares and value bought/sold by investor type (FHPTJ04160001: all "
    "15 types; FHKST01010900, the paper account's source: foreign, individual, institution).",
    columns=(
        Column("symbol", S, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        *_FLOW_COLUMNS,
    ),
    primary_key=("symbol", "date", "investor"),
    partition_by=("year(date)",),
)

MARKET_INVESTOR_FLOWS = Dataset(
    name="market_investor_flows",
    doc="Per market per day, net shares and value by investor type (FHPTJ04040000).",
    columns=(
        Column("market", S, nullable=False, doc="KOSPI | KOSDAQ"),
        Column("date", D, "stck_bsop_date", nullable=False),
        _FLOW_COLUMNS[0],
        Column("net_volume", QTY, nullable=False, doc="shares, to the thousand"),
        Column("net_value", KRW, nullable=False, doc="KRW, to the million"),
    ),
    primary_key=("market", "date", "investor"),
    partition_by=("year(date)",),
)

SHORT_SALES = Dataset(
    name="short_sales",
    doc="Per stock per day, shares and value sold short and their share of the day (FHPST04830000).",
    columns=(
        Column("symbol", S, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        Column("short_volume", QTY, "ssts_cntg_qty", nullable=False, doc="shares sold short"),
        Column("short_value", KRW, "ssts_tr_pbmn", doc="KRW sold short"),
        Column("volume", QTY, "acml_vol", doc="the day's volume, shares"),
        Column("value", KRW, "acml_tr_pbmn", doc="the day's traded value, KRW"),
        Column("short_volume_pct", RATE, "ssts_vol_rlim", doc="short volume / volume, %"),
        Column("short_value_pct", RATE, "ssts_tr_pbmn_rlim", doc="short value / value, %"),
    ),
    primary_key=("symbol", "date"),
    partition_by=("year(date)",),
)


def _credit(kind: str, wire: str, what: str) -> tuple[Column, ...]:
    """The new / repaid / outstanding shares and KRW of one kind of credit, and its two rates."""
    return (
        Column(f"{kind}_new_shares", QTY, f"whol_{wire}_new_stcn", doc=f"{what} opened, shares"),
        Column(f"{kind}_repaid_shares", QTY, f"whol_{wire}_rdmp_stcn", doc="shares"),
        Column(f"{kind}_balance_shares", QTY, f"whol_{wire}_rmnd_stcn", doc="outstanding, shares"),
        Column(f"{kind}_new_value", KRW, f"whol_{wire}_new_amt", doc="KRW, to 10,000"),
        Column(f"{kind}_repaid_value", KRW, f"whol_{wire}_rdmp_amt", doc="KRW, to 10,000"),
        Column(f"{kind}_balance_value", KRW, f"whol_{wire}_rmnd_amt", doc="KRW, to 10,000"),
        Column(f"{kind}_balance_pct", RATE, f"whol_{wire}_rmnd_rate", doc="of listed shares, %"),
        Column(f"{kind}_granted_pct", RATE, f"whol_{wire}_gvrt", doc="공여율, %"),
    )


CREDIT_BALANCE = Dataset(
    name="credit_balance",
    doc="Per stock per day, margin loans (융자) and stock loans (대주) opened, repaid and "
    "outstanding (FHPST04760000).",
    columns=(
        Column("symbol", S, nullable=False),
        Column("date", D, "deal_date", nullable=False, doc="trade date"),
        Column("settlement_date", D, "stlm_date", nullable=False),
        *_credit("margin", "loan", "margin loans"),
        *_credit("stock_loan", "stln", "stock loans"),
    ),
    primary_key=("symbol", "date"),
    partition_by=("year(date)",),
)

# Totals only: FHPPG04650201 (like every per-stock program sheet of the workbook) does not split
# arbitrage from non-arbitrage; KIS gives that split per market only (FHPPG04600001).
PROGRAM_TRADES = Dataset(
    name="program_trades",
    doc="Per stock per day, shares and KRW bought and sold by program trading, all programs "
    "(arbitrage and non-arbitrage together, as FHPPG04650201 sends them).",
    columns=(
        Column("symbol", S, nullable=False),
        Column("date", D, "stck_bsop_date", nullable=False),
        Column("buy_volume", QTY, "whol_smtn_shnu_vol", nullable=False, doc="shares"),
        Column("sell_volume", QTY, "whol_smtn_seln_vol", nullable=False, doc="shares"),
        Column("net_volume", QTY, "whol_smtn_ntby_qty", nullable=False, doc="shares"),
        Column("buy_value", KRW, "whol_smtn_shnu_tr_pbmn", doc="KRW"),
        Column("sell_value", KRW, "whol_smtn_seln_tr_pbmn", doc="KRW"),
        Column("net_value", KRW, "whol_smtn_ntby_tr_pbmn", doc="KRW"),
        Column("volume", QTY, "acml_vol", doc="the day's volume, shares"),
        Column("value", KRW, "acml_tr_pbmn", doc="the day's traded value, KRW"),
    ),
    primary_key=("symbol", "date"),
    partition_by=("year(date)",),
)

# Financial statements: KIS sends amounts in 100M KRW (억원) and ratios with two decimals.
RATIO = pl.Decimal(18, 2)
STATEMENT_ITEMS: dict[str, dict[str, str]] = {
    # statement -> {wire field: column}
    "balance_sheet": {
        "cras": "current_assets",
        "fxas": "fixed_assets",
        "total_aset": "total_assets",
        "flow_lblt": "current_liabilities",
        "fix_lblt": "fixed_liabilities",
        "total_lblt": "total_liabilities",
        "cpfn": "capital_stock",
        "cfp_surp": "capital_surplus",
        "prfi_surp": "retained_earnings",
        "total_cptl": "total_equity",
    },
    "income_statement": {
        "sale_account": "revenue",
        "sale_cost": "cost_of_sales",
        "sale_totl_prfi": "gross_profit",
        "depr_cost": "depreciation",
        "sell_mang": "selling_admin_expenses",
        "bsop_prti": "operating_income",
        "bsop_non_ernn": "non_operating_income",
        "bsop_non_expn": "non_operating_expenses",
        "op_prfi": "ordinary_income",
        "spec_prfi": "extraordinary_gains",
        "spec_loss": "extraordinary_losses",
        "thtr_ntin": "net_income",
    },
    "ratios": {
        "grs": "revenue_growth_pct",
        "bsop_prfi_inrt": "operating_income_growth_pct",
        "ntin_inrt": "net_income_growth_pct",
        "roe_val": "roe_pct",
        "eps": "eps",
        "sps": "sales_per_share",
        "bps": "bps",
        "rsrv_rate": "reserve_ratio_pct",
        "lblt_rate": "debt_ratio_pct",
    },
}
AMOUNT_STATEMENTS = ("balance_sheet", "income_statement")

FINANCIALS = Dataset(
    name="financials",
    doc="Per stock per fiscal period, balance sheet, income statement and ratios "
    "(FHKST66430100/200/300), one row per statement and version: a restated period is a new "
    "row with a later seen_date, never an overwrite.",
    columns=(
        Column("symbol", S, nullable=False),
        Column("statement", S, nullable=False, doc="; ".join(STATEMENT_ITEMS)),
        Column("period_kind", S, nullable=False, doc="annual | quarterly (year to date)"),
        Column("period_end", D, nullable=False, doc="last day of the fiscal period"),
        Column("seen_date", D, nullable=False, doc="KST day we first saw these figures"),
        *(
            Column(name, KRW if statement in AMOUNT_STATEMENTS else RATIO)
            for statement, items in STATEMENT_ITEMS.items()
            for name in items.values()
        ),
    ),
    primary_key=("symbol", "statement", "period_kind", "period_end", "seen_date"),
    partition_by=("statement",),
)

B = pl.Boolean()

STOCK_INFO = Dataset(
    name="stock_info",
    doc="Daily snapshot of each stock's basic facts: listed shares, par value, listing date, "
    "sector (search-stock-info CTPF1002R); listed shares over time give the market cap.",
    columns=(
        Column("snapshot_date", D, nullable=False, doc="KST day of the snapshot"),
        Column("symbol", S, nullable=False),
        Column("name", S, "prdt_abrv_name"),
        Column("isin", S, "std_pdno"),
        Column("market", S, doc="KOSPI | KOSDAQ | KONEX (mket_id_cd STK | KSQ | KNX)"),
        Column("listed_shares", QTY, "lstg_stqt", nullable=False),
        Column("par_value", KRW, "papr"),
        Column("capital", KRW, "cpta", doc="paid-in capital, KRW"),
        Column("listing_date", D, doc="KOSPI or KOSDAQ listing date"),
        Column("delisting_date", D, "lstg_abol_dt"),
        Column("stock_kind", S, "stck_kind_cd", doc="101 common, 201.. preferred"),
        Column("sector", S, "idx_bztp_mcls_cd_name", doc="KRX index sector"),
        Column("industry_code", S, "std_idst_clsf_cd", doc="Korean standard industry code"),
        Column("industry", S, "std_idst_clsf_cd_name"),
        Column("kospi200", B, "kospi200_item_yn"),
        Column("fiscal_year_end", S, "setl_mmdd", doc="month (MM or MMDD) the fiscal year ends"),
        Column("halted", B, "tr_stop_yn"),
        Column("administrative", B, "admn_item_yn", doc="관리종목"),
    ),
    primary_key=("snapshot_date", "symbol"),
    partition_by=("year(snapshot_date)",),
)

RESEARCH_DATASETS = (
    INVESTOR_FLOWS,
    MARKET_INVESTOR_FLOWS,
    SHORT_SALES,
    CREDIT_BALANCE,
    PROGRAM_TRADES,
    FINANCIALS,
    STOCK_INFO,
)
