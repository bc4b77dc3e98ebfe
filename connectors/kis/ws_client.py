"""The asyncio loop around `ws_protocol`: connect, subscribe, answer PINGPONG, reconnect.

    client = RealtimeClient(ws_url, approval_key=lambda renew: kis.approval_key(renew=renew),
                            subscriptions=subs, sink=sink)
    await client.run(stop_event)

Every received message is handed to `sink.on_message(ts_recv_ns, kind, text)` the moment it
arrives (kind "D": as received, encrypted frames already decrypted; "E": an encrypted frame we
could not decrypt), and every connection event to `sink.on_control(ts_ns, event, fields)`. The
sink must not block: the recorder puts both into a bounded queue.

Reconnection waits `delay_for(error, attempt, policy)` (backoff.py, the policy REST retries use),
counting attempts afresh after a healthy connection; `_as_kis_error` is the one place that says
which failures are transient (retried) and which are fatal.
After each reconnect all subscriptions are sent again (the server forgets them with the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from connectors.kis.backoff import OUTAGE, Backoff, delay_for
from connectors.kis.errors import (
    KisAuthError,
    KisConfigError,
    KisError,
    KisProtocolError,
    KisTransportError,
    KisUnreachable,
)
from connectors.kis.ws_protocol import (
    Ack,
    FrameError,
    KisWsAckError,
    PingPong,
    Subscription,
    classify_ack,
    decrypt_payload,
    parse_frame,
    subscription_message,
    validate_subscriptions,
)
from schemas.realtime import NOTICE_TRS

log = logging.getLogger(__name__)

# Called with renew=True after the server refused the key (e.g. AsyncKisClient.approval_key).
ApprovalKeySource = Callable[[bool], Awaitable[str]]


class Sink(Protocol):
    def on_message(self, ts_ns: int, kind: str, text: str) -> None: ...
    def on_control(self, ts_ns: int, event: str, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReconnectPolicy(Backoff):
    base: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2  # so many recorders do not reconnect in lockstep
    healthy_after: float = 10.0  # a connection that lived this long resets the backoff


def _as_kis_error(exc: BaseException) -> KisError | None:
    """The failure as a KisError whose `transient` says whether to reconnect; None: not ours."""
    if isinstance(exc, KisProtocolError):
        # A garbled approval answer: a glitch on the way, worth another try.
        return KisTransportError(f"approval answer unreadable: {exc.message}")
    if isinstance(exc, KisError):
        return exc
    if isinstance(exc, InvalidURI):
        return KisConfigError(f"bad websocket URL: {exc}")
    if isinstance(exc, ConnectionClosed | InvalidHandshake | OSError | TimeoutError):
        return KisTransportError(_describe(exc))
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        return f"connection closed ({rcvd.code} {rcvd.reason})" if rcvd else "connection lost"
    return f"{type(exc).__name__}: {exc}"


def _public_key(sub: Subscription) -> str:
    # A notice subscription's tr_key is the HTS ID: keep it out of journals and logs.
    return "****" if sub.tr_id in NOTICE_TRS else sub.tr_key


@dataclass
class ClientStats:
    connects: int = 0
    reconnects: int = 0
    messages: int = 0
    connected: bool = False
    last_message_ns: int = 0


class RealtimeClient:
    """One KIS realtime session with automatic reconnect and resubscribe."""

    def __init__(
        self,
        ws_url: str,
        *,
        approval_key: ApprovalKeySource,
        subscriptions: list[Subscription],
        sink: Sink,
        policy: ReconnectPolicy | None = None,
        subscribe_pause: float = 0.05,
        idle_timeout: float = 150.0,
        custtype: str = "P",
    ) -> None:
        self.ws_url = ws_url
        self.subscriptions = validate_subscriptions(subscriptions)
        self.sink = sink
        self.policy = policy or ReconnectPolicy()
        # The official samples pause between subscribe messages (kis-api.md §8.1).
        self.subscribe_pause = subscribe_pause
        # KIS sends PINGPONG every ~100 s (unconfirmed): silence longer than this means a dead link.
        self.idle_timeout = idle_timeout
        self.custtype = custtype
        self.stats = ClientStats()
        self._approval_key = approval_key
        self._key: str | None = None
        self._ciphers: dict[str, tuple[str, str]] = {}  # tr_id -> (key, iv) from the acks
        # Registrations the server refused (e.g. an unknown stock code) -> "msg_cd msg1".
        self.refused: dict[Subscription, str] = {}
        self._key_refused = False  # a fresh approval key was already tried once

    def refusals(self) -> list[str]:
        """The refused registrations, one line each: "H0STCNT0/ABC: OPSP8992 ..."."""
        return [
            f"{sub.tr_id}/{_public_key(sub)}: {why}" for sub, why in sorted(self.refused.items())
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until `stop` is set; raises only on a fatal (non-retryable) error."""
        attempt = 0
        first_failure = time.monotonic()  # of a recorder that has not connected yet
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._session(stop)
            except Exception as exc:
                self.stats.connected = False
                if time.monotonic() - started >= self.policy.healthy_after:
                    attempt = 0
                attempt += 1
                error = self._judge(_as_kis_error(exc), first_failure)
                delay = None if error is None else delay_for(error, attempt, self.policy)
                if delay is None:
                    self.sink.on_control(
                        time.time_ns(), "error", {"fatal": True, "reason": _describe(exc)}
                    )
                    if error is None or error is exc:
                        raise
                    raise error from exc
                self.sink.on_control(time.time_ns(), "disconnect", {"reason": _describe(exc)})
            else:
                self.stats.connected = False
                continue  # a clean return means stop was set
            if stop.is_set():
                break
            self.sink.on_control(time.time_ns(), "backoff", {"seconds": round(delay, 3)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            self.stats.reconnects += 1

    def _judge(self, error: KisError | None, since: float) -> KisError | None:
        """Whether a failure ends the stream. A stream that has connected before rides out any
        outage (an unreachable server included: it reconnects until stopped); one that never
        connected gives up after the outage budget, saying why, rather than retry all day."""
        if error is None:
            return None
        if self.stats.connects:
            if isinstance(error, KisUnreachable):
                return KisTransportError(error.message)
            return error
        if error.transient and time.monotonic() - since > OUTAGE.answer:
            return KisUnreachable(
                f"no realtime session after {time.monotonic() - since:.0f} s: {error.message}"
            )
        return error

    async def _key_value(self) -> str:
        if self._key is None:
            self._key = await self._approval_key(self._key_refused)
        return self._key

    async def _session(self, stop: asyncio.Event) -> None:
        key = await self._key_value()
        async with connect(
            self.ws_url,
            compression=None,
            ping_interval=None,
            proxy=None,
            max_size=2**22,
            open_timeout=10,
            close_timeout=2,
        ) as ws:
            self.stats.connects += 1
            self.stats.connected = True
            self.stats.last_message_ns = time.time_ns()
            self.sink.on_control(
                time.time_ns(), "connect", {"url": self.ws_url, "connects": self.stats.connects}
            )
            helpers = [
                asyncio.create_task(self._subscribe_all(ws, key)),
                asyncio.create_task(self._watchdog(ws, stop)),
            ]
            try:
                await self._receive(ws)
            finally:
                for task in helpers:
                    task.cancel()
                for task in helpers:
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await task
            if not stop.is_set():
                closing = ws.protocol
                raise ConnectionClosed(
                    closing.close_rcvd, closing.close_sent, closing.close_rcvd_then_sent
                )
        self.sink.on_control(time.time_ns(), "disconnect", {"reason": "stopped"})

    async def _subscribe_all(self, ws: ClientConnection, key: str) -> None:
        for i, sub in enumerate(self.subscriptions):
            if sub in self.refused:
                continue
            if i and self.subscribe_pause:
                await asyncio.sleep(self.subscribe_pause)
            await ws.send(subscription_message(key, sub, custtype=self.custtype))
            self.sink.on_control(
                time.time_ns(), "subscribe", {"tr_id": sub.tr_id, "tr_key": _public_key(sub)}
            )

    async def _watchdog(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        """Close the socket on stop or when the server has been silent too long."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                await ws.close()
                return
            silent = (time.time_ns() - self.stats.last_message_ns) / 1e9
            if silent > self.idle_timeout:
                self.sink.on_control(
                    time.time_ns(), "error", {"reason": f"silent for {silent:.0f} s"}
                )
                await ws.close(1011, "idle")
                return

    async def _receive(self, ws: ClientConnection) -> None:
        sink, stats = self.sink, self.stats
        async for message in ws:
            ts = time.time_ns()
            stats.messages += 1
            stats.last_message_ns = ts
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            first = text[:1]
            if first == "0":  # the hot path: plain data frames go straight to the sink
                sink.on_message(ts, "D", text)
            elif first == "1":
                self._on_encrypted(ts, text)
            else:
                sink.on_message(ts, "D", text)
                await self._on_control_message(ws, ts, text)

    def _on_encrypted(self, ts: int, text: str) -> None:
        parts = text.split("|", 3)
        cipher = self._ciphers.get(parts[1]) if len(parts) == 4 else None
        if cipher is None:
            self.sink.on_message(ts, "E", text)
            self.sink.on_control(
                ts, "error", {"reason": "encrypted frame without a key from an ack"}
            )
            return
        try:
            plain = decrypt_payload(parts[3], *cipher)
        except FrameError as exc:
            self.sink.on_message(ts, "E", text)
            self.sink.on_control(ts, "error", {"reason": exc.reason, "tr_id": parts[1]})
            return
        self.sink.on_message(ts, "D", f"1|{parts[1]}|{parts[2]}|{plain}")

    async def _on_control_message(self, ws: ClientConnection, ts: int, text: str) -> None:
        try:
            frame = parse_frame(text)
        except FrameError as exc:
            self.sink.on_control(ts, "error", {"reason": f"malformed message: {exc.reason}"})
            return
        if isinstance(frame, PingPong):
            # Both readings of the heartbeat (kis-api.md §8.2): echo the text and send a pong.
            await ws.send(frame.text)
            await ws.pong(frame.text)
        elif isinstance(frame, Ack):
            self._on_ack(ts, frame)

    def _on_ack(self, ts: int, ack: Ack) -> None:
        if ack.key and ack.iv:
            self._ciphers[ack.tr_id] = (ack.key, ack.iv)
        action = classify_ack(ack)
        summary = ack.summary()
        if ack.tr_id in NOTICE_TRS:
            summary["tr_key"] = "****"
        self.sink.on_control(ts, "ack", {**summary, "action": action})
        if action == "subscribed":
            self._key_refused = False
        if action in ("subscribed", "unsubscribed", "ignore"):
            return
        if action == "drop":
            self.refused[Subscription(ack.tr_id, ack.tr_key)] = f"{ack.msg_cd} {ack.msg1.strip()}"
            log.warning(
                "subscription %s/%s refused: %s %s",
                ack.tr_id,
                summary["tr_key"],
                ack.msg_cd,
                ack.msg1.strip(),
            )
            if set(self.subscriptions) <= set(self.refused):
                raise KisWsAckError(
                    f"every subscription was refused: {'; '.join(self.refusals())}",
                    msg_cd=ack.msg_cd,
                    msg1=ack.msg1,
                    transient=False,
                )
            return
        if action == "refresh_key":
            self._key = None
            if self._key_refused:
                raise KisAuthError(
                    f"approval key refused twice: {ack.msg_cd} {ack.msg1.strip()}",
                    msg_cd=ack.msg_cd,
                    msg1=ack.msg1,
                    rt_cd=ack.rt_cd,
                    status=0,
                )
            self._key_refused = True
        if action in ("refresh_key", "reconnect"):
            raise KisTransportError(f"new session asked for: {ack.msg_cd} {ack.msg1.strip()}")
        raise KisWsAckError(
            f"realtime server refused {ack.tr_id}: {ack.msg_cd} {ack.msg1.strip()}",
            msg_cd=ack.msg_cd,
            msg1=ack.msg1,
            transient=False,
            context={"tr_id": ack.tr_id},
        )
