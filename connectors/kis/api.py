"""The public clients: the core plus the endpoint mixins (market data, orders) where present."""

from __future__ import annotations

import importlib
import importlib.util

from connectors.kis.aclient import _AsyncCoreClient
from connectors.kis.client import _CoreClient

# Mixins written alongside: (module, sync mixin, async mixin). A module that exists but fails to
# import raises, rather than silently giving a client without its methods.
_MIXINS = (
    ("connectors.kis.market_data", "MarketDataMixin", "AsyncMarketDataMixin"),
    ("connectors.kis.orders", "OrdersMixin", "AsyncOrdersMixin"),
)
_sync_bases: list[type] = []
_async_bases: list[type] = []
for _module_name, _sync_name, _async_name in _MIXINS:
    if importlib.util.find_spec(_module_name) is not None:
        _module = importlib.import_module(_module_name)
        _sync_bases.append(getattr(_module, _sync_name))
        _async_bases.append(getattr(_module, _async_name))


class KisClient(*_sync_bases, _CoreClient):  # type: ignore[misc]
    """Synchronous KIS REST client: `call`, `paginate`, auth helpers, plus the endpoint methods."""


class AsyncKisClient(*_async_bases, _AsyncCoreClient):  # type: ignore[misc]
    """Asynchronous twin of KisClient."""
