"""What the synthetic market lists: KRX stocks, indices and a few US names.

The ~50 KRX names are real codes and names; their prices are synthetic. Listing events inside the
data window are real where we know them (IPOs such as LG에너지솔루션, the delisting of 한진해운 in
2017 and of 셀트리온헬스케어 after its 2023 merger, the 1:50 split of 삼성전자 in 2018 and the 1:5
split of 에코프로 in 2024) so survivorship and adjustment logic has something true to bite on.
Listing dates before the data window are nominal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from simulator.ticks import round_to_tick

FIRST_DATE = date(2015, 1, 2)
LAST_DATE = date(2027, 12, 30)
_NOMINAL_LISTING = date(2000, 1, 4)


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


# code, name, market, listed, delisted, base price, split, shares (post-split), daily value (KRW),
# sigma, beta
_KRX_TABLE: tuple[tuple, ...] = (
    ("005930", "삼성전자", "KOSPI", date(1975, 6, 11), None, 1_330_000, Split(date(2018, 5, 4), 50), 5_969_782_550, 5.0e11, 0.017, 1.0),
    ("000660", "SK하이닉스", "KOSPI", date(1996, 12, 26), None, 47_000, None, 728_002_365, 5.0e11, 0.024, 1.3),
    ("035420", "NAVER", "KOSPI", date(2002, 10, 29), None, 150_000, None, 158_437_008, 1.5e11, 0.021, 1.0),
    ("035720", "카카오", "KOSPI", date(2014, 10, 14), None, 22_000, None, 445_000_000, 1.5e11, 0.024, 1.1),
    ("005380", "현대차", "KOSPI", date(1974, 6, 28), None, 170_000, None, 213_668_187, 1.5e11, 0.018, 0.9),
    ("000270", "기아", "KOSPI", date(1973, 7, 21), None, 52_000, None, 397_672_632, 1.2e11, 0.019, 0.9),
    ("051910", "LG화학", "KOSPI", date(2001, 4, 25), None, 180_000, None, 70_592_343, 1.2e11, 0.024, 1.2),
    ("006400", "삼성SDI", "KOSPI", date(1979, 2, 27), None, 130_000, None, 68_764_530, 1.3e11, 0.025, 1.2),
    ("207940", "삼성바이오로직스", "KOSPI", date(2016, 11, 10), None, 136_000, None, 71_174_000, 8.0e10, 0.022, 0.8),
    ("068270", "셀트리온", "KOSPI", date(2005, 7, 19), None, 40_000, None, 220_000_000, 1.5e11, 0.026, 0.9),
    ("005490", "POSCO홀딩스", "KOSPI", date(1988, 6, 10), None, 280_000, None, 84_571_230, 1.0e11, 0.020, 1.1),
    ("105560", "KB금융", "KOSPI", date(2008, 10, 10), None, 40_000, None, 400_000_000, 8.0e10, 0.017, 0.9),
    ("055550", "신한지주", "KOSPI", date(2001, 9, 10), None, 44_000, None, 510_000_000, 6.0e10, 0.016, 0.9),
    ("086790", "하나금융지주", "KOSPI", date(2005, 12, 12), None, 32_000, None, 290_000_000, 5.0e10, 0.018, 0.9),
    ("316140", "우리금융지주", "KOSPI", date(2019, 2, 13), None, 15_000, None, 740_000_000, 4.0e10, 0.016, 0.8),
    ("012330", "현대모비스", "KOSPI", date(1989, 9, 5), None, 240_000, None, 94_000_000, 6.0e10, 0.017, 0.9),
    ("028260", "삼성물산", "KOSPI", date(2014, 12, 18), None, 70_000, None, 180_000_000, 5.0e10, 0.018, 0.9),
    ("066570", "LG전자", "KOSPI", date(2002, 4, 22), None, 60_000, None, 163_647_814, 8.0e10, 0.021, 1.1),
    ("003550", "LG", "KOSPI", date(1970, 2, 13), None, 60_000, None, 157_000_000, 3.0e10, 0.017, 0.9),
    ("017670", "SK텔레콤", "KOSPI", date(1989, 11, 7), None, 50_000, None, 215_000_000, 3.0e10, 0.012, 0.5),
    ("030200", "KT", "KOSPI", date(1998, 12, 23), None, 30_000, None, 260_000_000, 3.0e10, 0.013, 0.5),
    ("015760", "한국전력", "KOSPI", date(1989, 8, 10), None, 40_000, None, 642_000_000, 6.0e10, 0.018, 0.7),
    ("034730", "SK", "KOSPI", date(2009, 11, 11), None, 180_000, None, 73_000_000, 3.0e10, 0.020, 1.0),
    ("096770", "SK이노베이션", "KOSPI", date(2007, 7, 25), None, 90_000, None, 100_000_000, 7.0e10, 0.024, 1.2),
    ("032830", "삼성생명", "KOSPI", date(2010, 5, 12), None, 110_000, None, 200_000_000, 2.0e10, 0.015, 0.7),
    ("018260", "삼성에스디에스", "KOSPI", date(2014, 11, 14), None, 300_000, None, 77_377_800, 3.0e10, 0.020, 0.9),
    ("009150", "삼성전기", "KOSPI", date(1979, 2, 27), None, 55_000, None, 74_693_696, 6.0e10, 0.022, 1.2),
    ("010130", "고려아연", "KOSPI", date(1990, 7, 30), None, 450_000, None, 20_000_000, 5.0e10, 0.020, 0.8),
    ("011200", "HMM", "KOSPI", date(1995, 9, 29), None, 8_000, None, 700_000_000, 1.0e11, 0.030, 1.1),
    ("033780", "KT&G", "KOSPI", date(1999, 10, 8), None, 80_000, None, 130_000_000, 3.0e10, 0.012, 0.4),
    ("003490", "대한항공", "KOSPI", date(1966, 3, 18), None, 25_000, None, 368_000_000, 5.0e10, 0.020, 0.9),
    ("090430", "아모레퍼시픽", "KOSPI", date(2006, 6, 29), None, 200_000, None, 58_000_000, 4.0e10, 0.023, 0.9),
    ("010950", "S-Oil", "KOSPI", date(1987, 5, 27), None, 55_000, None, 112_000_000, 3.0e10, 0.019, 0.9),
    ("009540", "HD한국조선해양", "KOSPI", date(1999, 8, 24), None, 120_000, None, 70_000_000, 5.0e10, 0.024, 1.0),
    ("329180", "HD현대중공업", "KOSPI", date(2021, 9, 17), None, 60_000, None, 88_773_116, 5.0e10, 0.026, 1.0),
    ("034020", "두산에너빌리티", "KOSPI", date(2000, 10, 25), None, 25_000, None, 640_000_000, 1.0e11, 0.027, 1.2),
    ("373220", "LG에너지솔루션", "KOSPI", date(2022, 1, 27), None, 300_000, None, 234_000_000, 2.0e11, 0.025, 1.2),
    ("323410", "카카오뱅크", "KOSPI", date(2021, 8, 6), None, 39_000, None, 475_000_000, 6.0e10, 0.026, 1.1),
    ("259960", "크래프톤", "KOSPI", date(2021, 8, 10), None, 498_000, None, 48_000_000, 5.0e10, 0.026, 1.0),
    ("352820", "하이브", "KOSPI", date(2020, 10, 15), None, 135_000, None, 41_000_000, 5.0e10, 0.028, 1.0),
    ("326030", "SK바이오팜", "KOSPI", date(2020, 7, 2), None, 49_000, None, 78_000_000, 4.0e10, 0.028, 0.9),
    ("117930", "한진해운", "KOSPI", date(1992, 7, 30), date(2017, 3, 7), 5_000, None, 245_000_000, 1.0e10, 0.035, 1.2),
    ("000720", "현대건설", "KOSPI", date(1984, 12, 22), None, 45_000, None, 111_000_000, 3.0e10, 0.021, 1.0),
    ("024110", "기업은행", "KOSPI", date(2003, 12, 24), None, 14_000, None, 800_000_000, 2.0e10, 0.014, 0.7),
    ("247540", "에코프로비엠", "KOSDAQ", date(2019, 3, 5), None, 60_000, None, 97_000_000, 2.0e11, 0.032, 1.4),
    ("086520", "에코프로", "KOSDAQ", date(2007, 7, 20), None, 15_000, Split(date(2024, 4, 16), 5), 133_000_000, 1.5e11, 0.033, 1.4),
    ("091990", "셀트리온헬스케어", "KOSDAQ", date(2017, 7, 28), date(2024, 1, 4), 42_000, None, 160_000_000, 6.0e10, 0.028, 1.0),
    ("196170", "알테오젠", "KOSDAQ", date(2014, 12, 12), None, 30_000, None, 53_000_000, 8.0e10, 0.034, 1.1),
    ("028300", "HLB", "KOSDAQ", date(1996, 10, 29), None, 20_000, None, 130_000_000, 8.0e10, 0.034, 1.1),
    ("263750", "펄어비스", "KOSDAQ", date(2017, 9, 14), None, 50_000, None, 64_000_000, 4.0e10, 0.028, 1.0),
    ("293490", "카카오게임즈", "KOSDAQ", date(2020, 9, 10), None, 24_000, None, 82_000_000, 4.0e10, 0.030, 1.1),
    ("035900", "JYP Ent.", "KOSDAQ", date(2001, 8, 2), None, 5_000, None, 35_500_000, 3.0e10, 0.027, 0.9),
    ("041510", "에스엠", "KOSDAQ", date(2000, 4, 27), None, 40_000, None, 23_800_000, 3.0e10, 0.026, 0.9),
    ("357780", "솔브레인", "KOSDAQ", date(2020, 7, 23), None, 200_000, None, 7_779_000, 2.0e10, 0.027, 1.2),
    ("058470", "리노공업", "KOSDAQ", date(2001, 12, 18), None, 30_000, None, 15_242_370, 2.0e10, 0.024, 1.1),
    ("145020", "휴젤", "KOSDAQ", date(2015, 12, 24), None, 200_000, None, 12_000_000, 2.0e10, 0.027, 0.9),
    ("039030", "이오테크닉스", "KOSDAQ", date(2000, 3, 28), None, 90_000, None, 12_300_000, 2.0e10, 0.027, 1.2),
    ("240810", "원익IPS", "KOSDAQ", date(2016, 5, 3), None, 20_000, None, 49_000_000, 3.0e10, 0.027, 1.2),
)

INDICES: dict[str, str] = {"0001": "종합", "1001": "KOSDAQ", "2001": "KOSPI200"}

# index code -> (level before the first bar, market-factor loading, own volatility,
#                typical daily volume in shares, typical daily value in KRW)
INDEX_PROFILES: dict[str, tuple[float, float, float, int, int]] = {
    "0001": (1915.59, 1.0, 0.002, 450_000_000, 9_000_000_000_000),
    "1001": (542.97, 1.1, 0.006, 900_000_000, 7_000_000_000_000),
    "2001": (246.81, 1.05, 0.0015, 120_000_000, 5_000_000_000_000),
}

# (exchange, symbol, name, raw base price, split, daily volume, sigma)
_US_TABLE: tuple[tuple, ...] = (
    ("NAS", "AAPL", "APPLE INC", 110.38, Split(date(2020, 8, 31), 4), 60_000_000, 0.017),
    ("NAS", "MSFT", "MICROSOFT CORP", 46.76, None, 25_000_000, 0.016),
    ("NAS", "NVDA", "NVIDIA CORP", 20.13, Split(date(2024, 6, 10), 10), 45_000_000, 0.028),
    ("NAS", "TSLA", "TESLA INC", 14.62, None, 90_000_000, 0.033),
    ("NAS", "AMZN", "AMAZON.COM INC", 15.43, None, 50_000_000, 0.020),
    ("NAS", "QQQ", "INVESCO QQQ TRUST", 102.94, None, 40_000_000, 0.012),
    ("NYS", "KO", "COCA-COLA CO", 42.14, None, 14_000_000, 0.010),
    ("NYS", "JPM", "JPMORGAN CHASE & CO", 62.49, None, 11_000_000, 0.015),
    ("AMS", "SPY", "SPDR S&P 500 ETF TRUST", 205.43, None, 75_000_000, 0.010),
)


def krx_universe(seed: int, generated_symbols: int) -> tuple[dict[str, Instrument], dict[str, Profile]]:
    """The real names plus `generated_symbols` synthetic ones ("9xxxxx", "SIM종목0001")."""
    instruments: dict[str, Instrument] = {}
    profiles: dict[str, Profile] = {}
    for code, name, market, listed, delisted, base, split, shares, value, sigma, beta in _KRX_TABLE:
        instruments[code] = Instrument(code, name, market, listed, delisted, base, split)
        profiles[code] = Profile(shares, value, sigma, beta)
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


def us_universe() -> tuple[dict[tuple[str, str], OverseasInstrument], dict[tuple[str, str], OverseasProfile]]:
    instruments: dict[tuple[str, str], OverseasInstrument] = {}
    profiles: dict[tuple[str, str], OverseasProfile] = {}
    for exchange, symbol, name, base, split, volume, sigma in _US_TABLE:
        instruments[(exchange, symbol)] = OverseasInstrument(exchange, symbol, name)
        profiles[(exchange, symbol)] = OverseasProfile(base, split, volume, sigma)
    return instruments, profiles
