"""Domestic cash orders and the account: place, modify, cancel, open orders, balance, executions.

model.py holds the values (requests, results, divisions, tick grid), wire.py the endpoints, field
maps and parsers, reconcile.py the matching of lost answers, operations.py the flows behind the
client methods. The names below are what callers outside the connector use.
"""

from connectors.kis.errors import InvalidOrder
from connectors.kis.orders.model import OrderRequest, OrderResult, Side, snap_to_tick
from connectors.kis.orders.operations import Orders
from connectors.kis.orders.wire import mask_account

__all__ = [
    "InvalidOrder",
    "OrderRequest",
    "OrderResult",
    "Orders",
    "Side",
    "mask_account",
    "snap_to_tick",
]
