"""What the synthetic market lists: KRX stocks, indices and a few US names.

The ~50 KRX names are real codes and names; their prices are synthetic. Listing events inside the
data window are real where we know them (IPOs such as LG에너지솔루션, the delisting of 한진해운 in
2017 and of 셀트리온헬스케어 after its 2023 merger, the 1:50 split of 삼성전자 in 2018 and the 1:5
split of 에코프로 in 2024) so survivorship and adjustment logic has something true to bite on.
Listing dates before the data window are nominal.

The tables themselves are data files beside this module (simulator/data/krx_stocks.csv and
us_stocks.csv, UTF-8, one row per name; an empty split_date means no split, an empty dividend no
yearly cash dividend), read once on first use.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

import numpy as np

from simulator.ticks import round_to_tick

FIRST_DATE = date(2015, 1, 2)
LAST_DATE = date(2027, 12, 30)
_NOMINAL_LISTING = date(2000, 1, 4)
PAR_VALUE = 100  # KRW; the synthetic universe's nominal par (inquire-price's stck_fcam)


@dataclass(frozen=True)
class Split:
    """A stock split 1:`ratio` effective at the open of `date` (one old share becomes `ratio`)."""

    date: date
    ratio: int


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    market: str  # "KOSPI" | "KOSDAQ"
    listed: date
    delisted: date | None  # first day it is no longer listed; bars exist strictly before it
    base_price: int  # raw price before the first bar in the window (the IPO price for new listings)
    split: Split | None
    # Yearly cash dividend, KRW per share after any split (None: pays none). Its record date is
    # the year's last trading day; the chart flags the trading day before (simulator/dividends.py).
    dividend: int | None = None

    def par_value(self, d: date) -> int:
        """Par value per share on `d`: PAR_VALUE for every name, times the split ratio before its
        split (a 1:n split divides the par by n, as 삼성전자's 5,000 -> 100 in 2018)."""
        if self.split is not None and d < self.split.date:
            return PAR_VALUE * self.split.ratio
        return PAR_VALUE

    @property
    def isin(self) -> str:
        """The standard code KR7 + code + 00 + check digit (as KIS's std_pdno, e.g. KR7005930003)."""
        return isin("KR7" + self.code + "00")


@dataclass(frozen=True)
class Profile:
    """How an instrument's synthetic path behaves (not part of the public contract)."""

    shares: int  # listed shares after any split
    daily_value: float  # typical traded value per day, KRW
    sigma: float  # typical daily log-return volatility
    beta: float  # sensitivity to the market factor


@dataclass(frozen=True)
class OverseasInstrument:
    exchange: str  # "NAS" | "NYS" | "AMS"
    symbol: str
    name: str


@dataclass(frozen=True)
class OverseasProfile:
    base_price: float  # raw USD price before the first bar
    split: Split | None
    daily_volume: int
    sigma: float


def isin(body: str) -> str:
    """`body` (11 characters) with its ISIN check digit: letters become 10..35, then Luhn from the
    right."""
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return body + str((10 - total % 10) % 10)


INDICES: dict[str, str] = {"0001": "종합", "1001": "KOSDAQ", "2001": "KOSPI200"}

# index code -> (level before the first bar, market-factor loading, own volatility,
#                typical daily volume in shares, typical daily value in KRW)
INDEX_PROFILES: dict[str, tuple[float, float, float, int, int]] = {
    "0001": (1915.59, 1.0, 0.002, 450_000_000, 9_000_000_000_000),
    "1001": (542.97, 1.1, 0.006, 900_000_000, 7_000_000_000_000),
    "2001": (246.81, 1.05, 0.0015, 120_000_000, 5_000_000_000_000),
}


# Overseas indices (inquire-daily-chartprice, market N): code -> (KIS name, level before the first
# bar, loading on the US market factor, own volatility, typical daily volume). Daily bars only.
OVERSEAS_INDICES: dict[str, tuple[str, float, float, float, int]] = {
    ".DJI": ("다우존스 산업지수", 17832.99, 0.95, 0.002, 350_000_000),
    "COMP": ("나스닥 종합", 4726.81, 1.15, 0.003, 4_500_000_000),
    "SPX": ("S&P 500", 2058.20, 1.0, 0.0015, 2_500_000_000),
}


def _read_table(name: str) -> list[dict[str, str]]:
    # importlib.resources, not a path next to __file__: the data must also load from a wheel.
    text = (resources.files("simulator") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _split(row: dict[str, str]) -> Split | None:
    if not row["split_date"]:
        return None
    return Split(date.fromisoformat(row["split_date"]), int(row["split_ratio"]))


@cache
def _krx_table() -> tuple[tuple[Instrument, Profile], ...]:
    rows = []
    for row in _read_table("krx_stocks.csv"):
        if row["market"] not in {"KOSPI", "KOSDAQ"}:
            raise ValueError(f"krx_stocks.csv: {row['code']} has unknown market {row['market']!r}")
        instrument = Instrument(
            code=row["code"],
            name=row["name"],
            market=row["market"],
            listed=date.fromisoformat(row["listed"]),
            delisted=date.fromisoformat(row["delisted"]) if row["delisted"] else None,
            base_price=int(row["base_price"]),
            split=_split(row),
            dividend=int(row["dividend"]) if row["dividend"] else None,
        )
        profile = Profile(
            shares=int(row["shares"]),
            daily_value=float(row["daily_value"]),
            sigma=float(row["sigma"]),
            beta=float(row["beta"]),
        )
        rows.append((instrument, profile))
    return tuple(rows)


@cache
def _us_table() -> tuple[tuple[OverseasInstrument, OverseasProfile], ...]:
    return tuple(
        (
            OverseasInstrument(row["exchange"], row["symbol"], row["name"]),
            OverseasProfile(
                base_price=float(row["base_price"]),
                split=_split(row),
                daily_volume=int(row["daily_volume"]),
                sigma=float(row["sigma"]),
            ),
        )
        for row in _read_table("us_stocks.csv")
    )


def krx_universe(
    seed: int, generated_symbols: int
) -> tuple[dict[str, Instrument], dict[str, Profile]]:
    """The real names plus `generated_symbols` synthetic ones ("9xxxxx", "SIM종목0001")."""
    instruments: dict[str, Instrument] = {}
    profiles: dict[str, Profile] = {}
    for instrument, profile in _krx_table():
        instruments[instrument.code] = instrument
        profiles[instrument.code] = profile
    if not 0 <= generated_symbols <= 99_999:
        raise ValueError("generated_symbols must be between 0 and 99999")
    for i in range(1, generated_symbols + 1):
        # One generator per symbol, so a symbol is the same whatever the total count.
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED, i]))
        price, value, cap = np.exp(rng.uniform(np.log([1e3, 2e9, 1e11]), np.log([3e5, 1e11, 1e13])))
        code = f"9{i:05d}"
        base = round_to_tick(float(price))
        instruments[code] = Instrument(
            code=code,
            name=f"SIM종목{i:04d}",
            market="KOSDAQ" if rng.random() < 0.5 else "KOSPI",
            listed=_NOMINAL_LISTING,
            delisted=None,
            base_price=base,
            split=None,
        )
        profiles[code] = Profile(
            shares=max(int(cap / base), 1_000_000),
            daily_value=float(value),
            sigma=float(rng.uniform(0.015, 0.035)),
            beta=float(rng.uniform(0.5, 1.4)),
        )
    return instruments, profiles


def us_universe() -> tuple[
    dict[tuple[str, str], OverseasInstrument], dict[tuple[str, str], OverseasProfile]
]:
    instruments: dict[tuple[str, str], OverseasInstrument] = {}
    profiles: dict[tuple[str, str], OverseasProfile] = {}
    for instrument, profile in _us_table():
        key = (instrument.exchange, instrument.symbol)
        instruments[key] = instrument
        profiles[key] = profile
    return instruments, profiles
