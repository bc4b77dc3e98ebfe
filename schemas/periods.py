"""Bar periods (D day, W week, M month, Y year) and the calendar span each one covers. Pure.

KRX weeks run Monday to Friday, so a week is the ISO week (Monday first). KIS labels a W/M/Y bar
with one date inside its period (`stck_bsop_date`; the simulator uses the period's last trading
day), so `period_start(label, period)` finds the period whatever day the label falls on.
"""

from __future__ import annotations

from datetime import date, timedelta

PERIODS = ("D", "W", "M", "Y")


def period_start(d: date, period: str) -> date:
    """The first calendar day of the D/W/M/Y period holding `d` (D: `d` itself; W: its Monday).

    An unknown period is refused (ValueError), never treated as a day: a typo would otherwise
    fetch and store the wrong span silently.
    """
    if period == "D":
        return d
    if period == "W":
        return d - timedelta(days=d.weekday())
    if period == "M":
        return d.replace(day=1)
    if period == "Y":
        return d.replace(month=1, day=1)
    raise ValueError(f"unknown period {period!r}: choose from {', '.join(PERIODS)}")
