"""Dataset definitions shared by connectors (frame shapes) and the warehouse (tables). No I/O."""

from schemas.base import Column, Dataset, SchemaError
from schemas.clock import SEOUL
from schemas.datasets import (
    CORPORATE_ACTIONS,
    DATASETS,
    EXECUTION_NOTICES,
    FETCH_LEDGER,
    HOLIDAYS,
    INDEX_BARS,
    INDEX_MINUTE_BARS,
    JOURNAL_REJECTS,
    MINUTE_BARS,
    ORDER_LOG,
    OVERSEAS_BARS,
    OVERSEAS_MINUTE_BARS,
    PERIOD_BARS,
    PRICE_NEUTRAL_ACTIONS,
    QUOTES,
    RANKINGS,
    SECURITIES,
    TICKS,
)
from schemas.research import (
    CREDIT_BALANCE,
    FINANCIALS,
    INVESTOR_FLOWS,
    MARKET_INVESTOR_FLOWS,
    PROGRAM_TRADES,
    SHORT_SALES,
    STOCK_INFO,
)

# The zone's name under its old name, for connectors/kis/parsing.py until it imports SEOUL;
# `schemas.clock.KST` is the ZoneInfo.
KST = SEOUL

__all__ = [
    "CREDIT_BALANCE",
    "DATASETS",
    "EXECUTION_NOTICES",
    "FETCH_LEDGER",
    "FINANCIALS",
    "HOLIDAYS",
    "INDEX_BARS",
    "INDEX_MINUTE_BARS",
    "INVESTOR_FLOWS",
    "JOURNAL_REJECTS",
    "KST",
    "MARKET_INVESTOR_FLOWS",
    "MINUTE_BARS",
    "ORDER_LOG",
    "OVERSEAS_BARS",
    "OVERSEAS_MINUTE_BARS",
    "PERIOD_BARS",
    "PRICE_NEUTRAL_ACTIONS",
    "CORPORATE_ACTIONS",
    "PROGRAM_TRADES",
    "QUOTES",
    "RANKINGS",
    "SECURITIES",
    "SEOUL",
    "SHORT_SALES",
    "STOCK_INFO",
    "TICKS",
    "Column",
    "Dataset",
    "SchemaError",
]
