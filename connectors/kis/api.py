"""The public clients: a driver (blocking or async) plus the endpoint methods, written once."""

from __future__ import annotations

from connectors.kis.aclient import _AsyncCoreClient
from connectors.kis.client import _CoreClient
from connectors.kis.market_data import MarketData
from connectors.kis.orders import Orders


class KisClient(MarketData, Orders, _CoreClient):
    """Synchronous KIS REST client: `call`, `paginate`, auth helpers, plus the endpoint methods."""


class AsyncKisClient(MarketData, Orders, _AsyncCoreClient):
    """Asynchronous twin of KisClient: the same methods, awaited."""
