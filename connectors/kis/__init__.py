"""KIS Open Trading API connector: settings, errors, endpoints and the REST clients.

The names below are imported on first use (PEP 562): importing connectors.kis.settings
does not load the HTTP clients (the CLI's start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.kis.api import AsyncKisClient, KisClient
    from connectors.kis.core import KisResponse
    from connectors.kis.endpoints import LANES, Endpoint, Lane
    from connectors.kis.errors import (
        KisApiError,
        KisAuthError,
        KisCancelled,
        KisConfigError,
        KisError,
        KisHttpError,
        KisNoData,
        KisNotAvailable,
        KisOrderUncertain,
        KisPagingError,
        KisProtocolError,
        KisRateLimited,
        KisRequestError,
        KisServerError,
        KisTokenError,
        KisTokenExpired,
        KisTokenIssueThrottled,
        KisTransportError,
        KisUnreachable,
        error_from_response,
    )
    from connectors.kis.ratelimit import RateLimiter
    from connectors.kis.settings import Secret, Settings

# name -> the module defining it, imported on first use
_EXPORTS = {
    "AsyncKisClient": "connectors.kis.api",
    "KisClient": "connectors.kis.api",
    "KisResponse": "connectors.kis.core",
    "LANES": "connectors.kis.endpoints",
    "Endpoint": "connectors.kis.endpoints",
    "Lane": "connectors.kis.endpoints",
    "KisApiError": "connectors.kis.errors",
    "KisAuthError": "connectors.kis.errors",
    "KisConfigError": "connectors.kis.errors",
    "KisError": "connectors.kis.errors",
    "KisHttpError": "connectors.kis.errors",
    "KisNoData": "connectors.kis.errors",
    "KisNotAvailable": "connectors.kis.errors",
    "KisOrderUncertain": "connectors.kis.errors",
    "KisPagingError": "connectors.kis.errors",
    "KisProtocolError": "connectors.kis.errors",
    "KisRateLimited": "connectors.kis.errors",
    "KisRequestError": "connectors.kis.errors",
    "KisServerError": "connectors.kis.errors",
    "KisTokenError": "connectors.kis.errors",
    "KisTokenExpired": "connectors.kis.errors",
    "KisTokenIssueThrottled": "connectors.kis.errors",
    "KisTransportError": "connectors.kis.errors",
    "KisUnreachable": "connectors.kis.errors",
    "KisCancelled": "connectors.kis.errors",
    "error_from_response": "connectors.kis.errors",
    "RateLimiter": "connectors.kis.ratelimit",
    "Secret": "connectors.kis.settings",
    "Settings": "connectors.kis.settings",
}

__all__ = [
    "LANES",
    "AsyncKisClient",
    "Endpoint",
    "KisApiError",
    "KisAuthError",
    "KisClient",
    "KisConfigError",
    "KisError",
    "KisHttpError",
    "KisNoData",
    "KisNotAvailable",
    "KisOrderUncertain",
    "KisPagingError",
    "KisProtocolError",
    "KisRateLimited",
    "KisRequestError",
    "KisResponse",
    "KisServerError",
    "KisTokenError",
    "KisTokenExpired",
    "KisTokenIssueThrottled",
    "KisTransportError",
    "KisUnreachable",
    "KisCancelled",
    "Lane",
    "RateLimiter",
    "Secret",
    "Settings",
    "error_from_response",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
