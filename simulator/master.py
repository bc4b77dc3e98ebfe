"""The simulator's own KOSPI/KOSDAQ stock master files (kis-api.md §9.4), built from its market.

Pure: instruments in, the bytes of `kospi_code.mst.zip` / `kosdaq_code.mst.zip` out, in KIS's
layout (cp949, fixed width, one line per security):

    short code padded to 9 | ISIN (12) | Korean name | attribute tail (227 KOSPI / 221 KOSDAQ)

The tail follows the field widths of KIS's header files; we fill the fields a client plausibly
reads (group code, base price, trading unit, listing date, listed shares) and give the rest neutral
values ("N" flags, zero numbers). Written without the connector's parser (the simulator never
imports connectors), so a wrong parser cannot be mirrored here.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import date
from typing import Protocol

FILES = {"KOSPI": "kospi_code.mst", "KOSDAQ": "kosdaq_code.mst"}

# (name, width) of the tail, in order; names we fill are spelt as in KIS's header files.
_KOSPI_TAIL: tuple[tuple[str, int], ...] = (
    ("scrt_grp_cls_code", 2),
    ("avls_scal_cls_code", 1),
    ("bstp_larg_div_code", 4),
    ("bstp_medm_div_code", 4),
    ("bstp_smal_div_code", 4),
    *((f"flag{i}", 1) for i in range(26)),
    ("stck_sdpr", 9),
    ("frml_mrkt_deal_qty_unit", 5),
    ("ovtm_mrkt_deal_qty_unit", 5),
    ("trht_yn", 1),
    ("sltr_yn", 1),
    ("mang_issu_yn", 1),
    ("mrkt_alrm_cls_code", 2),
    ("mrkt_alrm_risk_adnt_yn", 1),
    ("insn_pbnt_yn", 1),
    ("byps_lstn_yn", 1),
    ("flng_cls_code", 2),
    ("fcam_mod_cls_code", 2),
    ("icic_cls_code", 2),
    ("marg_rate", 3),
    ("crdt_able", 1),
    ("crdt_days", 3),
    ("prdy_vol", 12),
    ("stck_fcam", 12),
    ("stck_lstn_date", 8),
    ("lstn_stcn", 15),
    ("cpfn", 21),
    ("stac_month", 2),
    ("po_prc", 7),
    ("prst_cls_code", 1),
    ("ssts_hot_yn", 1),
    ("stange_runup_yn", 1),
    ("krx300_issu_yn", 1),
    ("kospi_issu_yn", 1),
    ("sale_account", 9),
    ("bsop_prfi", 9),
    ("op_prfi", 9),
    ("thtr_ntin", 5),
    ("roe", 9),
    ("base_date", 8),
    ("prdy_avls_scal", 9),
    ("grp_code", 3),
    ("co_crdt_limt_over_yn", 1),
    ("secu_lend_able_yn", 1),
    ("stln_able_yn", 1),
)
# KOSDAQ's tail is KOSPI's less five attribute flags and the KOSPI-membership flag.
_NOT_IN_KOSDAQ = {f"flag{i}" for i in range(21, 26)} | {"kospi_issu_yn"}
_KOSDAQ_TAIL: tuple[tuple[str, int], ...] = tuple(
    field for field in _KOSPI_TAIL if field[0] not in _NOT_IN_KOSDAQ
)
TAILS = {"KOSPI": _KOSPI_TAIL, "KOSDAQ": _KOSDAQ_TAIL}


class Listed(Protocol):
    """What the builder needs of an instrument (simulator.market.Instrument has more)."""

    code: str
    name: str
    market: str
    listed: date
    delisted: date | None


def isin_for(code: str, country: str = "KR", kind: str = "7") -> str:
    """The 12-character ISIN of a Korean share: KR7 + code + 00 + check digit (ISO 6166)."""
    body = f"{country}{kind}{code.upper():0>6}00"
    digits = "".join(str(int(ch, 36)) for ch in body)  # letters A..Z -> 10..35
    total = 0
    # Luhn over the digit string, doubling every second digit from the right (check digit appended).
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            n = n - 9 if n > 9 else n
        total += n
    return body + str((10 - total % 10) % 10)


def _field(name: str, width: int, values: dict[str, str]) -> str:
    value = values.get(name)
    if value is None:
        value = "N" if width == 1 else "0" * width
    if len(value) > width:
        raise ValueError(f"master field {name} {value!r} is wider than {width}")
    return value.rjust(width, "0") if value.isdigit() else value.ljust(width)


def master_line(inst: Listed, market: str, base_price: int = 0, shares: int = 0) -> str:
    values = {
        "scrt_grp_cls_code": getattr(inst, "group_code", None) or "ST",
        "avls_scal_cls_code": "1",
        "stck_sdpr": str(base_price),
        "frml_mrkt_deal_qty_unit": "1",
        "ovtm_mrkt_deal_qty_unit": "1",
        "stck_lstn_date": inst.listed.strftime("%Y%m%d"),
        "lstn_stcn": str(shares // 1000),
        "crdt_able": "Y",
    }
    tail = "".join(_field(name, width, values) for name, width in TAILS[market])
    isin = getattr(inst, "isin", None) or isin_for(inst.code)
    return f"{inst.code:<9}{isin:<12}{inst.name}{tail}"


def listed_on(inst: Listed, d: date) -> bool:
    return inst.listed <= d and (inst.delisted is None or d < inst.delisted)


def master_text(instruments: Iterable[Listed], market: str, on: date) -> str:
    """The .mst text for one market: the instruments listed on `on`, in code order."""
    if market not in FILES:
        raise ValueError(f"no master file for market {market!r} (KOSPI or KOSDAQ)")
    rows = sorted(
        (i for i in instruments if i.market.upper() == market and listed_on(i, on)),
        key=lambda i: i.code,
    )
    return "".join(master_line(i, market) + "\n" for i in rows)


def master_zip(instruments: Iterable[Listed], market: str, on: date) -> bytes:
    """The bytes of `<kospi|kosdaq>_code.mst.zip` as listed on `on`."""
    data = master_text(instruments, market, on).encode("cp949")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A fixed timestamp keeps the bytes deterministic for a given market and date.
        info = zipfile.ZipInfo(FILES[market], date_time=(on.year, on.month, on.day, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)
    return buffer.getvalue()


def market_for_file(name: str) -> str | None:
    """ "kospi_code" / "kospi_code.mst" -> "KOSPI"; None for files we do not serve."""
    stem = name.removesuffix(".zip").removesuffix(".mst")
    return next((m for m, f in FILES.items() if f.removesuffix(".mst") == stem), None)
