"""The `Endpoint` type (one KIS API: path, method, TR IDs) and the auth endpoints.

Market-data and order endpoints are declared next to their parsers (market_data/, orders/wire.py);
this module only holds the type, the priority lanes and the endpoints the client core itself uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.kis.errors import KisNotAvailable

Lane = Literal["order", "live", "backfill"]
# Highest priority first: an order never waits behind a live query, a live query never behind backfill.
LANES: tuple[Lane, ...] = ("order", "live", "backfill")


def lane_rank(lane: Lane) -> int:
    """0 for the most urgent lane."""
    try:
        return LANES.index(lane)
    except ValueError:
        raise ValueError(f"unknown lane {lane!r}; expected one of {LANES}") from None


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: Literal["GET", "POST"]
    path: str
    tr_real: str
    tr_paper: str | None
    idempotent: bool = True  # False for order placement: never retried automatically
    # False for /oauth2/* and /uapi/hashkey: no bearer token, no tr_id.
    authorized: bool = True

    def tr_id(self, tr_env: Literal["real", "paper"]) -> str:
        if tr_env == "real":
            return self.tr_real
        if self.tr_paper is None:
            raise KisNotAvailable(
                f"{self.name} is not available in paper trading (real only)",
                msg_cd="",
                msg1="",
                rt_cd="",
                status=0,
                context={"endpoint": self.name, "path": self.path},
            )
        return self.tr_paper


TOKEN = Endpoint("token", "POST", "/oauth2/tokenP", "", "", authorized=False)
REVOKE = Endpoint("revoke", "POST", "/oauth2/revokeP", "", "", authorized=False)
APPROVAL = Endpoint("approval", "POST", "/oauth2/Approval", "", "", authorized=False)
HASHKEY = Endpoint("hashkey", "POST", "/uapi/hashkey", "", "", authorized=False)
