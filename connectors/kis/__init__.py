"""KIS Open Trading API connector: settings, errors, endpoints and the REST clients."""

from connectors.kis.api import AsyncKisClient, KisClient
from connectors.kis.core import KisResponse
from connectors.kis.endpoints import LANES, Endpoint, Lane
from connectors.kis.errors import (
    KisApiError,
    KisAuthError,
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
    error_from_response,
)
from connectors.kis.ratelimit import RateLimiter
from connectors.kis.settings import Secret, Settings

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
    "Lane",
    "RateLimiter",
    "Secret",
    "Settings",
    "error_from_response",
]
