"""The KOSPI/KOSDAQ stock master files KIS publishes (kis-api.md §9.4): download and parse.

KIS publishes every listed code as a zipped, cp949-encoded, fixed-width text file,
`kospi_code.mst.zip` / `kosdaq_code.mst.zip`, under
https://new.real.download.dws.co.kr/common/master/ (the simulator serves its own under
`<base_url>/common/master/`). One line per security:

    [0:9]    short code (단축코드), 6 characters padded with spaces
    [9:21]   standard code (ISIN, 표준코드)
    [21:-T]  Korean name (variable width; padded or not, we strip it)
    [-T:]    a fixed tail of attributes, T = 227 (KOSPI) / 221 (KOSDAQ) characters,
             starting with the 2-letter security group code (ST stock, EF ETF, ...)

The official sample cuts 228 / 222 characters off a line that still carries its "\\n"; the field
widths in KIS's own header file sum to 227 / 221, which is what we cut after stripping the line
end. kis-api.md words it as "a tail of 228 / 222": if a line's tail does not start with a group
code at our width, we try one more character, so both readings parse.

Parsing is pure (bytes in, frame out); `download_master` is the only I/O.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import date
from typing import Literal

import httpx
import polars as pl

from connectors.kis.errors import KisHttpError, KisProtocolError, KisTransportError
from schemas import SECURITIES

Market = Literal["KOSPI", "KOSDAQ"]

DEFAULT_MASTER_URL = "https://new.real.download.dws.co.kr/common/master"
MASTER_FILES: dict[Market, str] = {"KOSPI": "kospi_code.mst", "KOSDAQ": "kosdaq_code.mst"}
TAIL_WIDTH: dict[Market, int] = {"KOSPI": 227, "KOSDAQ": 221}
SHORT_CODE_WIDTH = 9
ISIN_WIDTH = 12
HEAD_WIDTH = SHORT_CODE_WIDTH + ISIN_WIDTH

MASTER_COLUMNS = {
    "symbol": pl.String(),
    "isin": pl.String(),
    "name": pl.String(),
    "market": pl.String(),
    "group_code": pl.String(),
}


def _is_group_code(text: str) -> bool:
    return len(text) == 2 and text.isascii() and text.isalpha() and text.isupper()


def parse_master_line(line: str, market: Market, *, line_no: int = 0) -> dict[str, str]:
    """One decoded master line -> symbol, isin, name, market, group_code."""
    row = line.rstrip("\r\n")
    for tail in (TAIL_WIDTH[market], TAIL_WIDTH[market] + 1):
        if len(row) >= HEAD_WIDTH + tail and _is_group_code(row[-tail:][:2]):
            break
    else:
        raise KisProtocolError(
            f"{MASTER_FILES[market]} line {line_no}: not a {market} master row "
            f"(expected {HEAD_WIDTH} + name + {TAIL_WIDTH[market]} characters, got {len(row)})"
        )
    symbol = row[:SHORT_CODE_WIDTH].strip()
    if not symbol:
        raise KisProtocolError(f"{MASTER_FILES[market]} line {line_no}: empty short code")
    return {
        "symbol": symbol,
        "isin": row[SHORT_CODE_WIDTH:HEAD_WIDTH].strip(),
        "name": row[HEAD_WIDTH:-tail].strip(),
        "market": market,
        "group_code": row[-tail:][:2],
    }


def parse_master(data: bytes, market: Market) -> pl.DataFrame:
    """The unzipped .mst bytes -> one row per security (see MASTER_COLUMNS)."""
    text = data.decode("cp949")
    rows = [
        parse_master_line(line, market, line_no=i)
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    return pl.DataFrame(rows, schema=MASTER_COLUMNS, orient="row")


def unzip_master(zip_bytes: bytes, market: Market) -> bytes:
    """The .mst member of a downloaded .mst.zip."""
    wanted = MASTER_FILES[market]
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            names = archive.namelist()
            member = next((n for n in names if n.lower().endswith(wanted)), None)
            if member is None:
                raise KisProtocolError(f"{wanted}.zip holds {names}, not {wanted}")
            return archive.read(member)
    except zipfile.BadZipFile as exc:
        raise KisProtocolError(f"{wanted}.zip is not a zip archive: {exc}") from None


def download_master(
    base_url: str, market: Market, *, client: httpx.Client | None = None, timeout: float = 30.0
) -> bytes:
    """GET <base_url>/<kospi|kosdaq>_code.mst.zip and return the zip bytes."""
    url = f"{base_url.rstrip('/')}/{MASTER_FILES[market]}.zip"
    context = {"url": url}
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        response = http.get(url)
    except httpx.TransportError as exc:
        raise KisTransportError(f"master file download failed: {exc}", context=context) from None
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        raise KisHttpError(
            f"master file download answered HTTP {response.status_code}",
            status=response.status_code,
            context=context,
        )
    return response.content


def securities_snapshot(
    base_url: str,
    snapshot_date: date,
    markets: Iterable[Market] = ("KOSPI", "KOSDAQ"),
    *,
    client: httpx.Client | None = None,
) -> pl.DataFrame:
    """Download and parse the master files into a `securities` frame dated `snapshot_date`."""
    frames = [
        parse_master(unzip_master(download_master(base_url, m, client=client), m), m)
        for m in markets
    ]
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=MASTER_COLUMNS)
    # A code listed on both files would break the key; KIS does not do that, keep the first anyway.
    frame = frame.unique(subset="symbol", keep="first", maintain_order=True)
    return SECURITIES.conform(frame.with_columns(snapshot_date=pl.lit(snapshot_date)))
