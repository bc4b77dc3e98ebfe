"""Fault injection for the simulator, configured by one spec string (`kisdb sim --faults SPEC`).

Grammar (items separated by commas, whitespace ignored, each item at most once):

    SPEC      := ITEM ("," ITEM)*
    ITEM      := "http5xx=" PROB                 each REST request fails with HTTP 500 EGW00002 with this probability
               | "latency=" DUR [".." DUR]       added to every REST response (fixed, or uniform in a range)
               | "ratelimit_storm=" DUR "@" DUR  for the first DUR of every second DUR (wall time since start)
                                                 every REST request gets EGW00201
               | "expire_tokens" ["=" DUR]       access tokens expire DUR after issue (default 60s) whatever
                                                 expires_in advertised (EGW00123 on use)
               | "ws_drop_after=" DUR            each websocket connection is dropped DUR after it opens
               | "ws_drop_after_frames=" INT     ... or after it was sent INT data frames
               | "malformed=" PROB               a REST body or websocket data frame is cut short with this probability
    PROB      := a float in [0, 1]
    DUR       := NUMBER ("ms" | "s" | "m")       e.g. 20ms, 1.5s, 2m

Example: "http5xx=0.05,latency=20ms,ratelimit_storm=2s@5s,expire_tokens,ws_drop_after=10s,malformed=0.01".
Parse errors raise `FaultSpecError` naming the item and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}


class FaultSpecError(ValueError):
    """The --faults string does not follow the grammar in simulator/faults.py."""


@dataclass(frozen=True)
class FaultSpec:
    http5xx: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    ratelimit_storm: tuple[float, float] | None = None  # (duration, period) seconds
    expire_tokens_after: float | None = None
    ws_drop_after: float | None = None
    ws_drop_after_frames: int | None = None
    malformed: float = 0.0

    def in_storm(self, seconds_since_start: float) -> bool:
        if self.ratelimit_storm is None:
            return False
        duration, period = self.ratelimit_storm
        return seconds_since_start % period < duration


def parse_duration(text: str, item: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise FaultSpecError(f"fault {item!r}: {text!r} is not a duration like 20ms, 2s or 1m")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _probability(text: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(
            f"fault {item!r}: {text!r} is not a probability between 0 and 1"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"fault {item!r}: probability {value} is outside [0, 1]")
    return value


def parse_faults(spec: str) -> FaultSpec:
    """Parse a fault spec string; "" means no faults."""
    result = FaultSpec()
    seen: set[str] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, has_value, value = (part.strip() for part in item.partition("="))
        if name in seen:
            raise FaultSpecError(f"fault {name!r} given twice")
        seen.add(name)
        if name == "expire_tokens":
            after = parse_duration(value, item) if has_value else 60.0
            result = replace(result, expire_tokens_after=after)
            continue
        if not has_value or not value:
            raise FaultSpecError(f"fault {item!r}: expected {name}=VALUE")
        if name == "http5xx":
            result = replace(result, http5xx=_probability(value, item))
        elif name == "malformed":
            result = replace(result, malformed=_probability(value, item))
        elif name == "latency":
            low, _, high = value.partition("..")
            lo = parse_duration(low, item)
            hi = parse_duration(high, item) if high else lo
            if hi < lo:
                raise FaultSpecError(f"fault {item!r}: range end is below its start")
            result = replace(result, latency=(lo, hi))
        elif name == "ratelimit_storm":
            duration, at, period = value.partition("@")
            if not at:
                raise FaultSpecError(
                    f"fault {item!r}: expected ratelimit_storm=DURATION@PERIOD, e.g. 2s@5s"
                )
            d, p = parse_duration(duration, item), parse_duration(period, item)
            if p <= 0 or d > p:
                raise FaultSpecError(f"fault {item!r}: need 0 < DURATION <= PERIOD")
            result = replace(result, ratelimit_storm=(d, p))
        elif name == "ws_drop_after":
            result = replace(result, ws_drop_after=parse_duration(value, item))
        elif name == "ws_drop_after_frames":
            if not value.isdigit() or int(value) < 1:
                raise FaultSpecError(f"fault {item!r}: expected a positive integer frame count")
            result = replace(result, ws_drop_after_frames=int(value))
        else:
            raise FaultSpecError(
                f"unknown fault {name!r}; known: http5xx, latency, ratelimit_storm, expire_tokens, "
                "ws_drop_after, ws_drop_after_frames, malformed"
            )
    return result
