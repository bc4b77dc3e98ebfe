"""The public clients: the core plus the endpoint mixins (market data, orders)."""

from __future__ import annotations

from connectors.kis.aclient import _AsyncCoreClient
from connectors.kis.client import _CoreClient
from connectors.kis.market_data import AsyncMarketDataMixin, MarketDataMixin
from connectors.kis.orders import AsyncOrdersMixin, OrdersMixin


class KisClient(MarketDataMixin, OrdersMixin, _CoreClient):
    """Synchronous KIS REST client: `call`, `paginate`, auth helpers, plus the endpoint methods."""


class AsyncKisClient(AsyncMarketDataMixin, AsyncOrdersMixin, _AsyncCoreClient):
    """Asynchronous twin of KisClient."""
