"""Financial statements per stock (국내주식 대차대조표 / 손익계산서 / 재무비율: FHKST66430100, 200,
300), real environment only. One call answers every period KIS keeps for a statement and a period
kind (annual, or quarterly year-to-date figures).

Amounts come in 100M KRW with two decimals and are stored as KRW; "99.99" marks an amount KIS
does not publish (workbook) and becomes null. Each row is stamped with the KST day it was seen:
the warehouse keeps a new version only when a period's figures change (a restatement).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any

import polars as pl

from connectors.kis.endpoints import Endpoint
from connectors.kis.errors import KisInvalidArgument
from connectors.kis.market_data.common import KRX
from connectors.kis.parsing import WireTable, conform, wire_frame
from connectors.kis.validation import check_choice, check_symbol
from connectors.kis.windows import FetchPlan, SinglePage
from schemas.research import AMOUNT_STATEMENTS, FINANCIALS, STATEMENT_ITEMS

_FINANCE = "/uapi/domestic-stock/v1/finance"

STATEMENT_ENDPOINTS = {
    "balance_sheet": Endpoint(
        "finance/balance-sheet", "GET", f"{_FINANCE}/balance-sheet", "FHKST66430100", None
    ),
    "income_statement": Endpoint(
        "finance/income-statement", "GET", f"{_FINANCE}/income-statement", "FHKST66430200", None
    ),
    "ratios": Endpoint(
        "finance/financial-ratio", "GET", f"{_FINANCE}/financial-ratio", "FHKST66430300", None
    ),
}
PERIOD_KINDS = {"annual": "0", "quarterly": "1"}
EOK = 100_000_000  # 억원
NOT_PUBLISHED = "99.99"
_WIRE_AMOUNT = pl.Decimal(24, 2)

STATEMENT_TABLES = {
    statement: WireTable(
        endpoint.name, FINANCIALS, "output", needs=frozenset({"stac_yymm", *items})
    )
    for (statement, items), endpoint in zip(
        STATEMENT_ITEMS.items(), STATEMENT_ENDPOINTS.values(), strict=True
    )
}


def parse_financials(
    payload: Mapping[str, Any], *, symbol: str, statement: str, period_kind: str, seen_date: date
) -> pl.DataFrame:
    """A statement's `output` (one row per fiscal period) -> FINANCIALS rows seen on seen_date."""
    table = STATEMENT_TABLES[statement]
    items = STATEMENT_ITEMS[statement]
    amounts = statement in AMOUNT_STATEMENTS
    wire_types = dict.fromkeys(items, _WIRE_AMOUNT if amounts else FINANCIALS.schema["eps"])
    frame = wire_frame(payload, table, extra={"stac_yymm": pl.String(), **wire_types})
    if amounts:
        values = [
            pl.when(pl.col(w) == pl.lit(NOT_PUBLISHED).cast(_WIRE_AMOUNT))
            .then(None)
            .otherwise(pl.col(w) * EOK)
            .alias(c)
            for w, c in items.items()
        ]
    else:
        values = [pl.col(w).alias(c) for w, c in items.items()]
    out = frame.select(
        pl.lit(symbol).alias("symbol"),
        pl.lit(statement).alias("statement"),
        pl.lit(period_kind).alias("period_kind"),
        pl.col("stac_yymm")
        .str.strptime(pl.Date, "%Y%m", strict=True)
        .dt.month_end()
        .alias("period_end"),
        pl.lit(seen_date).alias("seen_date"),
        *values,
    )
    return conform(out, table)


def financials_plan(
    symbol: str, statement: str, period_kind: str, seen_date: date
) -> FetchPlan[pl.DataFrame]:
    symbol = check_symbol(symbol)
    if statement not in STATEMENT_ENDPOINTS:
        raise KisInvalidArgument(
            f"statement must be one of {sorted(STATEMENT_ENDPOINTS)}, got {statement!r}"
        )
    params = {
        "FID_DIV_CLS_CODE": check_choice(period_kind, "period_kind", PERIOD_KINDS),
        "fid_cond_mrkt_div_code": KRX,
        "fid_input_iscd": symbol,
    }
    parse = partial(
        parse_financials,
        symbol=symbol,
        statement=statement,
        period_kind=period_kind,
        seen_date=seen_date,
    )
    return FetchPlan(
        STATEMENT_ENDPOINTS[statement],
        "backfill",
        lambda: SinglePage(
            parse, params, what=f"financials {symbol} {statement}", key=("period_end",)
        ),
        empty={"output": []},
    )
