"""What the quote endpoints share: the domestic paths, the KRX venue code, the empty chart."""

from __future__ import annotations

from typing import Any, Literal

QUOTATIONS = "/uapi/domestic-stock/v1/quotations"
KRX = "J"  # FID_COND_MRKT_DIV_CODE: KRX; the datasets do not key on the venue, so one venue only
Period = Literal["D", "W", "M", "Y"]
# The body standing for a chart page when KIS answers "nothing to show".
EMPTY_CHART: dict[str, Any] = {"output1": {}, "output2": []}
