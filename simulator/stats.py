"""Thread-safe counters of what the simulator served (read by tests and benchmarks)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass
class SimStats:
    requests: int = 0
    rate_limited: int = 0
    tokens_issued: int = 0
    injected_5xx: int = 0
    ws_connections: int = 0
    ws_frames_sent: int = 0
    ws_records_sent: int = 0
    by_tr_id: Counter[str] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)
    # When each request arrived (monotonic): benches measure the rate while a key was in use.
    request_times: deque[float] = field(default_factory=lambda: deque(maxlen=1_000_000))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def request(self, path: str, tr_id: str) -> None:
        with self._lock:
            self.requests += 1
            self.request_times.append(time.monotonic())
            self.by_path[path] += 1
            if tr_id:
                self.by_tr_id[tr_id] += 1

    def times_since(self, start: float) -> list[float]:
        """Arrival times (time.monotonic) of the requests since `start`."""
        with self._lock:
            return [t for t in self.request_times if t >= start]

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited,
                "tokens_issued": self.tokens_issued,
                "injected_5xx": self.injected_5xx,
                "ws_connections": self.ws_connections,
                "ws_frames_sent": self.ws_frames_sent,
                "ws_records_sent": self.ws_records_sent,
                "by_tr_id": dict(self.by_tr_id),
                "by_path": dict(self.by_path),
            }
