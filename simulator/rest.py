"""The KIS REST surface as a plain ASGI app (no framework: the simulator must serve >= 1,000 req/s
on a 2-core box, and routing here is a dict lookup).

Request pipeline: route (404 JSON if unknown) -> method -> oauth endpoints, or: faults (latency,
5xx, storm) -> appkey/appsecret -> per-second rate limit -> bearer token -> TR ID for this
environment -> handler. Every exception becomes a KIS-style envelope; no traceback ever leaves.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from simulator import account_overseas, master, trading
from simulator.auth import TokenIssueRefused, check_credentials, rate_limited
from simulator.context import Ctx, Reply
from simulator.quotes import (
    book,
    calendar_days,
    credit,
    financials,
    indices,
    info,
    investors,
    ksdinfo,
    minutes,
    overseas,
    overseas_chart,
    overseas_price,
    prices,
    program_trades,
    rankings,
    short_sales,
)
from simulator.wire import (
    JSON_TYPE,
    KisReject,
    error_body,
    http_headers,
    kis_headers,
    paper_unsupported,
    unknown_service,
)

if TYPE_CHECKING:
    from simulator.server import RunningSimulator

log = logging.getLogger("kisdb.simulator")

Handler = Callable[[Ctx], Reply]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"
OV = "/uapi/overseas-price/v1/quotations/"
OT = "/uapi/overseas-stock/v1/trading/"
KSD = "/uapi/domestic-stock/v1/ksdinfo/"
FIN = "/uapi/domestic-stock/v1/finance/"


@dataclass(frozen=True)
class Route:
    method: str
    real: frozenset[str]
    paper: frozenset[str] | None  # None: not offered on paper
    handler: Handler
    pure: bool = False  # answer depends only on params + sim-now (second): cacheable


def _r(
    method: str, real: set[str], paper: set[str] | None, handler: Handler, pure: bool = True
) -> Route:
    return Route(
        method, frozenset(real), frozenset(paper) if paper is not None else None, handler, pure
    )


class ReplyCache:
    """Replies of pure quote routes keyed by (path, tr_id, tr_cont, params, sim second).

    The synthetic market only changes when the sim clock crosses a second (prints have second
    resolution), so a repeated query within one sim second gets the same answer; bounded LRU-ish."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._data: dict[tuple[object, ...], Reply] = {}

    def get(self, key: tuple[object, ...]) -> Reply | None:
        return self._data.get(key)

    def put(self, key: tuple[object, ...], reply: Reply) -> None:
        if len(self._data) >= self.size:
            self._data.pop(next(iter(self._data)))
        self._data[key] = reply


ROUTES: dict[str, Route] = {
    Q + "inquire-price": _r("GET", {"FHKST01010100"}, {"FHKST01010100"}, prices.inquire_price),
    Q + "inquire-investor": _r(
        "GET", {"FHKST01010900"}, {"FHKST01010900"}, investors.inquire_investor
    ),
    Q + "inquire-daily-price": _r(
        "GET", {"FHKST01010400"}, {"FHKST01010400"}, prices.inquire_daily_price
    ),
    Q + "inquire-daily-itemchartprice": _r(
        "GET", {"FHKST03010100"}, {"FHKST03010100"}, prices.inquire_daily_itemchartprice
    ),
    Q + "inquire-time-itemchartprice": _r(
        "GET", {"FHKST03010200"}, {"FHKST03010200"}, minutes.inquire_time_itemchartprice
    ),
    Q + "inquire-time-dailychartprice": _r(
        "GET", {"FHKST03010230"}, None, minutes.inquire_time_dailychartprice, pure=False
    ),
    Q + "inquire-index-price": _r("GET", {"FHPUP02100000"}, None, indices.inquire_index_price),
    Q + "inquire-daily-indexchartprice": _r(
        "GET", {"FHKUP03500100"}, {"FHKUP03500100"}, indices.inquire_daily_indexchartprice
    ),
    Q + "inquire-time-indexchartprice": _r(
        "GET", {"FHKUP03500200"}, None, indices.inquire_time_indexchartprice
    ),
    Q + "volume-rank": _r("GET", {"FHPST01710000"}, None, rankings.volume_rank),
    "/uapi/domestic-stock/v1/ranking/fluctuation": _r(
        "GET", {"FHPST01700000"}, None, rankings.fluctuation
    ),
    "/uapi/domestic-stock/v1/ranking/market-cap": _r(
        "GET", {"FHPST01740000"}, None, rankings.market_cap
    ),
    # Research datasets (issue 15): real environment only.
    Q + "investor-trade-by-stock-daily": _r(
        "GET", {"FHPTJ04160001"}, None, investors.investor_trade_by_stock_daily
    ),
    Q + "inquire-investor-daily-by-market": _r(
        "GET", {"FHPTJ04040000"}, None, investors.inquire_investor_daily_by_market
    ),
    Q + "daily-short-sale": _r("GET", {"FHPST04830000"}, None, short_sales.daily_short_sale),
    Q + "daily-credit-balance": _r("GET", {"FHPST04760000"}, None, credit.daily_credit_balance),
    Q + "program-trade-by-stock-daily": _r(
        "GET", {"FHPPG04650201"}, None, program_trades.program_trade_by_stock_daily
    ),
    FIN + "balance-sheet": _r("GET", {"FHKST66430100"}, None, financials.balance_sheet),
    FIN + "income-statement": _r("GET", {"FHKST66430200"}, None, financials.income_statement),
    FIN + "financial-ratio": _r("GET", {"FHKST66430300"}, None, financials.financial_ratio),
    Q + "chk-holiday": _r("GET", {"CTCA0903R"}, None, calendar_days.chk_holiday),
    # -- 예탁원정보 (KSD schedules): real accounts only ------------------------------------
    KSD + "rev-split": _r("GET", {"HHKDB669105C0"}, None, ksdinfo.rev_split),
    KSD + "bonus-issue": _r("GET", {"HHKDB669101C0"}, None, ksdinfo.no_events),
    KSD + "paidin-capin": _r("GET", {"HHKDB669100C0"}, None, ksdinfo.no_events),
    KSD + "dividend": _r("GET", {"HHKDB669102C0"}, None, ksdinfo.dividend),
    KSD + "merger-split": _r("GET", {"HHKDB669104C0"}, None, ksdinfo.merger_split),
    KSD + "cap-dcrs": _r("GET", {"HHKDB669106C0"}, None, ksdinfo.no_events),
    # ---------------------------------------------------------------------------------------
    OV + "dailyprice": _r("GET", {"HHDFS76240000"}, {"HHDFS76240000"}, overseas.dailyprice),
    OV + "inquire-time-itemchartprice": _r(
        "GET", {"HHDFS76950200"}, None, overseas.inquire_time_itemchartprice
    ),
    T + "order-cash": _r(
        "POST",
        {"TTTC0012U", "TTTC0011U", "TTTC0802U", "TTTC0801U"},
        {"VTTC0012U", "VTTC0011U", "VTTC0802U", "VTTC0801U"},
        trading.order_cash,
        pure=False,
    ),
    T + "order-rvsecncl": _r(
        "POST",
        {"TTTC0013U", "TTTC0803U"},
        {"VTTC0013U", "VTTC0803U"},
        trading.order_rvsecncl,
        pure=False,
    ),
    T + "inquire-psbl-rvsecncl": _r(
        "GET", {"TTTC0084R", "TTTC8036R"}, None, trading.inquire_psbl_rvsecncl, pure=False
    ),
    T + "inquire-balance": _r(
        "GET", {"TTTC8434R"}, {"VTTC8434R"}, trading.inquire_balance, pure=False
    ),
    T + "inquire-daily-ccld": _r(
        "GET",
        {"TTTC0081R", "TTTC8001R", "CTSC9215R", "CTSC9115R"},
        {"VTTC0081R", "VTTC8001R", "VTSC9215R", "VTSC9115R"},
        trading.inquire_daily_ccld,
        pure=False,
    ),
    T + "inquire-psbl-order": _r(
        "GET", {"TTTC8908R"}, {"VTTC8908R"}, trading.inquire_psbl_order, pure=False
    ),
    # -- product basics, the book, index minutes, overseas quotes and account (issue 10) --------
    Q + "search-info": _r("GET", {"CTPF1604R"}, None, info.search_info),
    Q + "search-stock-info": _r("GET", {"CTPF1002R"}, None, info.search_stock_info),
    Q + "inquire-asking-price-exp-ccn": _r(
        "GET", {"FHKST01010200"}, {"FHKST01010200"}, book.inquire_asking_price_exp_ccn
    ),
    Q + "inquire-index-timeprice": _r(
        "GET", {"FHPUP02110200"}, None, indices.inquire_index_timeprice
    ),
    OV + "price": _r("GET", {"HHDFS00000300"}, {"HHDFS00000300"}, overseas_price.price),
    OV + "price-detail": _r("GET", {"HHDFS76200200"}, None, overseas_price.price_detail),
    OV + "inquire-asking-price": _r(
        "GET", {"HHDFS76200100"}, None, overseas_price.inquire_asking_price
    ),
    OV + "inquire-daily-chartprice": _r(
        "GET", {"FHKST03030100"}, {"FHKST03030100"}, overseas_chart.inquire_daily_chartprice
    ),
    OT + "inquire-present-balance": _r(
        "GET", {"CTRP6504R"}, {"VTRP6504R"}, account_overseas.inquire_present_balance, pure=False
    ),
    OT + "inquire-nccs": _r("GET", {"TTTS3018R"}, None, account_overseas.inquire_nccs, pure=False),
    OT + "inquire-ccnl": _r(
        "GET", {"TTTS3035R"}, {"VTTS3035R"}, account_overseas.inquire_ccnl, pure=False
    ),
}
MASTER_PREFIX = "/common/master/"
OAUTH = {"/oauth2/tokenP", "/oauth2/revokeP", "/oauth2/Approval", "/uapi/hashkey"}


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class RestApp:
    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.cache = ReplyCache()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in scope["headers"]
        }
        if scope["path"].startswith(MASTER_PREFIX):  # the stock master files: zip bytes, not JSON
            await self.master_file(scope["method"], scope["path"], send)
            return
        try:
            status, payload, extra = await self.dispatch(
                scope["method"], scope["path"], scope["query_string"], headers, body
            )
        except Exception:  # last resort: never a traceback on the wire
            log.exception("simulator handler failed on %s", scope.get("path"))
            status, payload, extra = (
                500,
                error_body(KisReject("EGW00002", "서버 에러가 발생했습니다.", 500)),
                {},
            )
        raw = _json_bytes(payload)
        faults = self.sim.faults
        if faults.malformed and random.random() < faults.malformed:
            raw = raw[: max(1, len(raw) // 2)]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": http_headers(JSON_TYPE, len(raw), extra, self.sim.clock.now()),
            }
        )
        await send({"type": "http.response.body", "body": raw})

    async def master_file(self, method: str, path: str, send: Send) -> None:
        """GET /common/master/{kospi,kosdaq}_code.mst.zip: the master as listed on sim-today
        (KIS serves these from its download host without auth; so do we)."""
        self.sim.stats.request(path, "")
        market = master.market_for_file(path.removeprefix(MASTER_PREFIX))
        if method != "GET" or market is None:
            headers = http_headers("text/plain", 0, {}, self.sim.clock.now())
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        data = master.master_zip(
            self.sim.market.instruments.values(), market, self.sim.clock.today()
        )
        headers = http_headers("application/zip", len(data), {}, self.sim.clock.now())
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def dispatch(
        self, method: str, path: str, query: bytes, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        sim = self.sim
        tr_id = headers.get("tr_id", "").strip()
        sim.stats.request(path, tr_id)
        faults = sim.faults
        lo, hi = faults.latency
        if hi > 0:
            await asyncio.sleep(random.uniform(lo, hi))
        if path in OAUTH:
            if method != "POST":
                return 405, error_body(KisReject("EGW00101", "유효하지 않은 요청입니다.")), {}
            return self.oauth(path, body, headers)
        route = ROUTES.get(path)
        echo = kis_headers(tr_id)
        if route is None:
            return (
                404,
                error_body(KisReject("EGW00101", "유효하지 않은 요청입니다. (없는 URL)")),
                echo,
            )
        try:
            if method != route.method:
                raise KisReject("EGW00101", "유효하지 않은 요청입니다. (HTTP Method)", 405)
            if faults.http5xx and random.random() < faults.http5xx:
                sim.stats.add("injected_5xx")
                raise KisReject("EGW00002", "서버 에러가 발생했습니다.", 500)
            app_key = headers.get("appkey", "")
            check_credentials(app_key, headers.get("appsecret"), (sim.app_key, sim.app_secret))
            if faults.in_storm(sim.uptime()) or not sim.limiter.allow(app_key):
                sim.stats.add("rate_limited")
                raise rate_limited()
            sim.tokens.check(headers.get("authorization"), app_key)
            allowed = route.real if sim.config.env == "real" else route.paper
            if allowed is None:
                raise paper_unsupported()
            if tr_id not in allowed:
                raise unknown_service()
            params = self.params(method, query, body)
            now = sim.clock.now()
            req_tr_cont = headers.get("tr_cont", "").strip().upper()
            key = (
                path,
                tr_id,
                req_tr_cont,
                tuple(sorted(params.items())),
                now.replace(microsecond=0),
            )
            cached = self.cache.get(key) if route.pure else None
            if cached is not None:
                return cached.status, cached.body, {**echo, "tr_cont": cached.tr_cont}
            ctx = Ctx(
                market=sim.market,
                clock=sim.clock,
                env=sim.config.env,
                account=sim.account,
                hts_id=sim.hts_id,
                path=path,
                tr_id=tr_id,
                params=params,
                req_tr_cont=req_tr_cont,
                app_key=app_key,
                continuations=sim.continuations,
                now=now,
            )
            reply = route.handler(ctx)
            if route.pure:
                self.cache.put(key, reply)
        except KisReject as reject:
            return reject.http_status, error_body(reject), echo
        echo["tr_cont"] = reply.tr_cont
        return reply.status, reply.body, echo

    @staticmethod
    def params(method: str, query: bytes, body: bytes) -> dict[str, str]:
        """Parameter names are matched case-insensitively (the workbook mixes cases)."""
        if method == "GET":
            pairs = parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
            return {k.lower(): v for k, v in pairs}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise KisReject("OPSQ9997", "JSON PARSING ERROR : invalid json format") from None
        if not isinstance(data, dict):
            raise KisReject("OPSQ9997", "JSON PARSING ERROR : invalid json format")
        return {str(k).lower(): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}

    # -- /oauth2/* and hashkey --------------------------------------------------------------------
    def oauth(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        sim = self.sim
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return (
                400,
                {"error_code": "EGW00101", "error_description": "유효하지 않은 요청입니다."},
                {},
            )
        lower = {str(k).lower(): v for k, v in data.items()}
        try:
            if path == "/uapi/hashkey":
                check_credentials(
                    headers.get("appkey", ""),
                    headers.get("appsecret"),
                    (sim.app_key, sim.app_secret),
                )
                digest = hashlib.sha256(body + sim.app_secret.encode()).hexdigest()
                return 200, {"BODY": data, "HASH": digest}, {}
            secret = (
                lower.get("secretkey") if path == "/oauth2/Approval" else lower.get("appsecret")
            )
            check_credentials(
                str(lower.get("appkey", "")), str(secret or ""), (sim.app_key, sim.app_secret)
            )
        except KisReject as reject:
            return 403, {"error_code": reject.msg_cd, "error_description": reject.msg1}, {}
        if (
            path in {"/oauth2/tokenP", "/oauth2/Approval"}
            and lower.get("grant_type") != "client_credentials"
        ):
            return (
                403,
                {"error_code": "EGW00116", "error_description": "grant_type이 유효하지 않습니다."},
                {},
            )
        if path == "/oauth2/Approval":
            return 200, {"approval_key": sim.approvals.issue(sim.app_key)}, {}
        if path == "/oauth2/revokeP":
            if not sim.tokens.revoke(str(lower.get("token", ""))):
                return (
                    403,
                    {"error_code": "EGW00121", "error_description": "유효하지 않은 token 입니다."},
                    {},
                )
            return 200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}, {}
        try:
            token, record, new = sim.tokens.issue(sim.app_key)
        except TokenIssueRefused:
            return (
                403,
                {
                    "error_code": "EGW00133",
                    "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
                },
                {},
            )
        if new:
            sim.stats.add("tokens_issued")
        return (
            200,
            {
                "access_token": token,
                "access_token_token_expired": record.expires_kst.strftime("%Y-%m-%d %H:%M:%S"),
                "token_type": "Bearer",
                # A reused token (within 6 h) reports what is left of its lifetime.
                "expires_in": max(0, int(record.expires_mono - time.monotonic()))
                if not new
                else int(sim.config.token_ttl),
            },
            {},
        )
