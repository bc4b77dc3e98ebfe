"""Dataset definitions shared by connectors (frame shapes) and the warehouse (tables). No I/O."""

from schemas.base import KST, Column, Dataset, SchemaError
from schemas.datasets import (
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
    QUOTES,
    RANKINGS,
    SECURITIES,
    TICKS,
)

__all__ = [
    "DATASETS",
    "EXECUTION_NOTICES",
    "FETCH_LEDGER",
    "HOLIDAYS",
    "INDEX_BARS",
    "INDEX_MINUTE_BARS",
    "JOURNAL_REJECTS",
    "KST",
    "MINUTE_BARS",
    "ORDER_LOG",
    "OVERSEAS_BARS",
    "OVERSEAS_MINUTE_BARS",
    "PERIOD_BARS",
    "QUOTES",
    "RANKINGS",
    "SECURITIES",
    "TICKS",
    "Column",
    "Dataset",
    "SchemaError",
]
