"""What a REST handler sees: the request (params, headers) and the simulator's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from simulator.wire import KisReject

if TYPE_CHECKING:
    from simulator.account import Account
    from simulator.clock import SimClock
    from simulator.market import Market


@dataclass
class Reply:
    body: dict[str, Any]
    tr_cont: str = ""
    status: int = 200


ContinuationKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass
class Continuations:
    """Server-side cursors for APIs paged by request `tr_cont: N` without CTX fields
    (inquire-time-dailychartprice: the (day, time) the next page ends at), keyed by app key +
    path + the request's own parameters."""

    _cursors: dict[ContinuationKey, tuple[date, time]] = field(default_factory=dict)

    def get(self, key: ContinuationKey) -> tuple[date, time] | None:
        return self._cursors.get(key)

    def put(self, key: ContinuationKey, value: tuple[date, time]) -> None:
        if len(self._cursors) > 10_000:  # bounded: old cursors are simply forgotten
            self._cursors.clear()
        self._cursors[key] = value


@dataclass
class Ctx:
    market: Market
    clock: SimClock
    env: str  # "real" | "paper"
    account: Account
    hts_id: str
    path: str
    tr_id: str
    params: dict[str, str]  # query (GET) or JSON body (POST), keys lower-cased
    req_tr_cont: str
    app_key: str
    continuations: Continuations
    now: datetime

    def get(self, name: str, default: str = "") -> str:
        value = self.params.get(name.lower(), default)
        return value if isinstance(value, str) else str(value)

    def need(self, name: str) -> str:
        value = self.get(name).strip()
        if not value:
            raise KisReject("OPSQ2002", f"{name.upper()} 필수입력값이 누락되었습니다.")
        return value

    def continuation_key(self) -> ContinuationKey:
        return (self.app_key, self.path, tuple(sorted(self.params.items())))
