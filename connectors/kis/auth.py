"""Access tokens, websocket approval keys and hashkeys, with a cross-process token cache.

The cache is one JSON file per environment and app key, home/tokens/<env>-<sha256(app_key)[:12]>.json
(0600), read and written under a file lock, so N processes starting together issue one token: the
first issues it while holding the lock, the others find it cached. A token is reused until
`token_refresh_margin` seconds before expiry. KIS allows one issuance per minute per app key
(EGW00133); the cache records the last issuance *attempt*, and nobody on this machine tries again
before `token_issue_interval` has passed. Every issuance and revocation is appended to the ledger
home/tokens/ledger.jsonl (when, env, masked key, reason) — never the token itself.

Everything that does I/O is a flow (see steps.py), so the sync and async clients share this code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.kis.endpoints import APPROVAL, HASHKEY, REVOKE, TOKEN, Endpoint, Lane
from connectors.kis.errors import (
    KisConfigError,
    KisHttpError,
    KisProtocolError,
    KisTokenIssueThrottled,
    KisTransportError,
    KisTruncatedAnswer,
    error_from_response,
    is_failure,
    transport_error,
)
from connectors.kis.filelock import FileLock, append_private, write_private
from connectors.kis.settings import Secret, Settings
from connectors.kis.steps import Acquire, Flow, Lock, Reply, Send, Sleep, not_sent
from schemas.clock import KST

log = logging.getLogger("connectors.kis.auth")


APPROVAL_LIFETIME = 86400.0  # kis-api.md §2.3: valid 24 h


def parse_token_expiry(body: Mapping[str, Any], now: float) -> float:
    """Expiry (epoch seconds) of a tokenP answer: the earlier of expires_in and the KST timestamp."""
    candidates: list[float] = []
    with contextlib.suppress(KeyError, TypeError, ValueError):
        candidates.append(now + float(body["expires_in"]))
    stamp = body.get("access_token_token_expired")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            candidates.append(
                datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=KST)
                .timestamp()
            )
    if not candidates:
        raise KisProtocolError("token answer has neither expires_in nor access_token_token_expired")
    return min(candidates)


def read_ledger(home: Path) -> list[dict[str, Any]]:
    """The issuance ledger, oldest first."""
    path = Path(home) / "tokens" / "ledger.jsonl"
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _never_reached_kis(exc: BaseException) -> bool:
    """Whether a failed token request certainly never reached KIS's token service: no connection
    (refused, no route, DNS), or a 5xx page without KIS's envelope (a proxy or load balancer
    answered)."""
    if isinstance(exc, KisHttpError):
        return exc.status >= 500
    cause = exc.__cause__
    return isinstance(cause, httpx.TransportError) and not_sent(cause)


def _decode(reply: Reply) -> dict[str, Any] | None:
    try:
        body = json.loads(reply.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class Auth:
    """Token, approval key and hashkey for one (environment, base URL, app key)."""

    def __init__(self, settings: Settings) -> None:
        if settings.base_url is None or settings.app_key is None or settings.app_secret is None:
            raise KisConfigError(
                "settings must be resolved (base URL and app key/secret) before use"
            )
        self.settings = settings
        self._app_key: Secret = settings.app_key
        self._app_secret: Secret = settings.app_secret
        self.base_url = settings.base_url.rstrip("/")
        folder = Path(settings.home) / "tokens"
        stem = f"{settings.env}-{self._app_key.fingerprint()}"
        self.cache_path = folder / f"{stem}.json"
        self.approval_path = folder / f"{stem}-approval.json"
        self.ledger_path = folder / "ledger.jsonl"
        self.lock = FileLock(folder / f"{stem}.lock")
        self._token: str | None = None
        self._reuse_until = 0.0

    # -- plumbing ---------------------------------------------------------------------------------
    def _request(
        self, endpoint: Endpoint, body: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> httpx.Request:
        return httpx.Request(
            endpoint.method,
            self.base_url + endpoint.path,
            json=dict(body),
            headers={"content-type": "application/json; charset=utf-8", **(headers or {})},
        )

    def _post(
        self,
        endpoint: Endpoint,
        body: Mapping[str, str],
        lane: Lane,
        headers: Mapping[str, str] | None = None,
    ) -> Flow[dict[str, Any]]:
        """Send one auth request (no retries: each tokenP attempt counts against the 1/min rule)."""
        context = {"endpoint": endpoint.name, "path": endpoint.path}
        yield Acquire(lane)
        try:
            reply: Reply = yield Send(self._request(endpoint, body, headers))
        except httpx.TransportError as exc:
            host = httpx.URL(self.base_url).netloc.decode()
            raise transport_error(host, endpoint.name, exc, self.settings.timeout, context) from exc
        decoded = _decode(reply)
        if is_failure(reply.status, decoded):
            raise error_from_response(reply.status, decoded, context)
        if decoded is None:
            raise KisTruncatedAnswer(
                f"{endpoint.name} answer is not a JSON object", context=context
            )
        return decoded

    def _credentials(self) -> dict[str, str]:
        return {"appkey": self._app_key.reveal(), "appsecret": self._app_secret.reveal()}

    def _load(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        # A cache written for another server (e.g. another simulator) is not ours to reuse.
        if not isinstance(data, dict) or data.get("base_url") != self.base_url:
            return {}
        return data

    def _save(self, path: Path, data: Mapping[str, Any]) -> None:
        write_private(path, json.dumps({**data, "base_url": self.base_url}).encode())

    def _ledger(self, event: str, reason: str) -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "env": self.settings.env,
            "key": self._app_key.masked(),
            "base_url": self.base_url,
            "reason": reason,
            "pid": os.getpid(),
        }
        append_private(self.ledger_path, (json.dumps(entry, ensure_ascii=False) + "\n").encode())

    def _refresh_at(self, expires_at: float, now: float) -> float:
        """When to stop reusing a credential: `token_refresh_margin` before expiry, or at 90 % of
        its life for short-lived ones (a simulator with a one-minute token)."""
        return expires_at - min(
            self.settings.token_refresh_margin, 0.1 * max(0.0, expires_at - now)
        )

    @staticmethod
    def _fresh(token: str | None, refresh_at: float, stale: str | None, now: float) -> bool:
        return bool(token) and token != stale and now < refresh_at

    # -- access token -----------------------------------------------------------------------------
    def token_flow(self, stale: str | None = None, lane: Lane = "order") -> Flow[str]:
        """A valid access token: memory, then the shared cache, then a new issuance.

        `stale` is a token the server just refused: never hand it out again.
        """
        if self._fresh(self._token, self._reuse_until, stale, time.time()):
            assert self._token is not None
            return self._token
        yield Lock(self.lock)
        try:
            return (yield from self._token_locked(stale, lane))
        finally:
            self.lock.release()

    def _token_locked(self, stale: str | None, lane: Lane) -> Flow[str]:
        data = self._load(self.cache_path)
        token, reuse_until = data.get("access_token"), float(data.get("refresh_at", 0.0))
        if self._fresh(token, reuse_until, stale, time.time()):
            self._token, self._reuse_until = token, reuse_until
            return str(token)
        if token is None:
            reason = "no cached token"
        elif token == stale:
            reason = "server refused the cached token"
        else:
            reason = "cached token expires soon"
        for attempt in (1, 2):
            wait = (
                float(data.get("last_attempt", 0.0))
                + self.settings.token_issue_interval
                - time.time()
            )
            if wait > 0:
                log.info("waiting %.1f s: KIS issues one token per minute per app key", wait)
                yield Sleep(wait)
            previous_attempt = data.get("last_attempt")
            data["last_attempt"] = time.time()
            self._save(self.cache_path, data)  # before sending: a lost answer still counts as a try
            try:
                body = yield from self._post(
                    TOKEN, {"grant_type": "client_credentials", **self._credentials()}, lane
                )
            except (KisTransportError, KisHttpError) as exc:
                if _never_reached_kis(exc):
                    # Not an issuance attempt, so a retry (or the next command) need not wait
                    # out the one-per-minute window.
                    data["last_attempt"] = previous_attempt or 0.0
                    self._save(self.cache_path, data)
                raise
            except KisTokenIssueThrottled:
                # Someone outside this cache (another machine?) issued; wait one window once.
                data["last_attempt"] = time.time()
                self._save(self.cache_path, data)
                if attempt == 2:
                    raise
                reason += " (after EGW00133)"
                continue
            # The server stamped the issuance somewhere between send and answer: count the window
            # from the answer, the later (safe) end.
            now = data["last_attempt"] = time.time()
            new_token = body.get("access_token")
            if not isinstance(new_token, str) or not new_token:
                raise KisProtocolError(
                    "token answer has no access_token", context={"path": TOKEN.path}
                )
            expires_at = parse_token_expiry(body, now)
            reuse_until = self._refresh_at(expires_at, now)
            data.update(
                access_token=new_token, expires_at=expires_at, refresh_at=reuse_until, issued_at=now
            )
            self._save(self.cache_path, data)
            self._ledger("token", reason)
            self._token, self._reuse_until = new_token, reuse_until
            return new_token
        raise AssertionError("unreachable")

    def revoke_flow(self) -> Flow[bool]:
        """Revoke the cached token (if any) and drop it from the cache. True if one was revoked."""
        yield Lock(self.lock)
        try:
            data = self._load(self.cache_path)
            token = data.pop("access_token", None)
            self._token, self._reuse_until = None, 0.0
            if not token:
                return False
            yield from self._post(REVOKE, {**self._credentials(), "token": token}, "order")
            for stamp in ("expires_at", "refresh_at"):
                data.pop(stamp, None)
            self._save(self.cache_path, data)
            self._ledger("revoke", "requested")
            return True
        finally:
            self.lock.release()

    # -- websocket approval key -------------------------------------------------------------------
    def approval_flow(self, *, renew: bool = False) -> Flow[str]:
        """The websocket approval key, cached like the token (24 h lifetime)."""
        yield Lock(self.lock)
        try:
            data = self._load(self.approval_path)
            key, reuse_until = data.get("approval_key"), float(data.get("refresh_at", 0.0))
            if not renew and self._fresh(key, reuse_until, None, time.time()):
                return str(key)
            body = {
                "grant_type": "client_credentials",
                "appkey": self._app_key.reveal(),
                "secretkey": self._app_secret.reveal(),  # the same secret under another name (§2.3)
            }
            answer = yield from self._post(APPROVAL, body, "live")
            key = answer.get("approval_key")
            if not isinstance(key, str) or not key:
                raise KisProtocolError(
                    "approval answer has no approval_key", context={"path": APPROVAL.path}
                )
            now = time.time()
            self._save(
                self.approval_path,
                {
                    "approval_key": key,
                    "issued_at": now,
                    "expires_at": now + APPROVAL_LIFETIME,
                    "refresh_at": self._refresh_at(now + APPROVAL_LIFETIME, now),
                },
            )
            self._ledger(
                "approval", "renew requested" if renew else ("expired" if data else "no cached key")
            )
            return key
        finally:
            self.lock.release()

    # -- hashkey ----------------------------------------------------------------------------------
    def hashkey_flow(self, body: Mapping[str, str], lane: Lane = "order") -> Flow[str]:
        """HASH of an order body from /uapi/hashkey (optional for KIS today; §2.4)."""
        answer = yield from self._post(HASHKEY, body, lane, headers=self._credentials())
        value = answer.get("HASH")
        if not isinstance(value, str) or not value:
            raise KisProtocolError("hashkey answer has no HASH", context={"path": HASHKEY.path})
        return value
