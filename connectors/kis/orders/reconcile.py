"""Reconciliation: which rows of today's orders could be an attempt whose answer was lost.

One match: accepted (reconciled). Several: uncertain, with the candidates named. None after a few
polls: uncertain, "not found" — never a silent resend: the caller decides after checking
`kisdb executions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.kis.orders.model import OrderRequest, same_order_no
from connectors.kis.orders.wire import to_int


def _is_original(row: Mapping[str, Any]) -> bool:
    """A new order's row (not a modify/cancel order, whose orgn_odno names the original)."""
    return not str(row.get("orgn_odno", "") or "").strip().lstrip("0")


def match_placement(
    rows: Iterable[Mapping[str, Any]], order: OrderRequest, known_order_nos: Iterable[str]
) -> list[Mapping[str, Any]]:
    """Rows of inquire-daily-ccld that could be `order`, excluding order numbers we already own."""
    known = {k.strip().lstrip("0") for k in known_order_nos}
    side_code = "02" if order.side == "buy" else "01"
    found = []
    for row in rows:
        odno = str(row.get("odno", "")).strip()
        if not odno or odno.lstrip("0") in known or not _is_original(row):
            continue
        if str(row.get("pdno", "")).strip() != order.symbol:
            continue
        if str(row.get("sll_buy_dvsn_cd", "")).strip() != side_code:
            continue
        if to_int(row.get("ord_qty")) != order.qty:
            continue
        division = str(row.get("ord_dvsn_cd", "")).strip()
        if division and division != order.division:
            continue
        if order.price is not None and to_int(row.get("ord_unpr")) != order.price:
            continue
        found.append(row)
    return found


def match_change(
    rows: Iterable[Mapping[str, Any]], orig_order_no: str, known_order_nos: Iterable[str]
) -> list[Mapping[str, Any]]:
    """Rows that are a modify/cancel of `orig_order_no` and not attributed to a logged attempt."""
    known = {k.strip().lstrip("0") for k in known_order_nos}
    return [
        row
        for row in rows
        if same_order_no(str(row.get("orgn_odno", "")), orig_order_no)
        and str(row.get("odno", "")).strip().lstrip("0") not in known
    ]
