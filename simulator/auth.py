"""Credentials, access tokens, websocket approval keys and the per-app-key rate limit.

Time here is the wall clock (monotonic for windows, KST for the advertised expiry): clients cache
tokens against their own wall clock, whatever moment the synthetic market is at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulator.calendar import KST
from simulator.wire import KisReject

REISSUE_SAME_TOKEN_WITHIN = (
    6 * 3600.0
)  # kis-api.md §2.1: a new request within 6 h returns the same token


class TokenIssueRefused(Exception):
    """tokenP called again within the issuance window (HTTP 403, `error_code` body)."""


def _gateway(msg_cd: str, msg1: str) -> KisReject:
    return KisReject(msg_cd, msg1, http_status=500)


def check_credentials(app_key: str | None, app_secret: str | None, valid: tuple[str, str]) -> None:
    if not app_key:
        raise _gateway("EGW00102", "AppKey는 필수입니다.")
    if not secrets.compare_digest(app_key, valid[0]):
        raise _gateway("EGW00103", "유효하지 않은 AppKey입니다.")
    if not app_secret:
        raise _gateway("EGW00104", "AppSecret은 필수입니다.")
    if not secrets.compare_digest(app_secret, valid[1]):
        raise _gateway("EGW00105", "유효하지 않은 AppSecret입니다.")


def _jwt_like(app_key: str, issued: float, expires: float) -> str:
    """A JWT-shaped opaque token (clients must not parse it; KIS's is a real JWT)."""

    def b64(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    aud = hashlib.sha256(app_key.encode()).hexdigest()[:36]
    payload = {
        "sub": "token",
        "aud": aud,
        "iss": "kisdb-sim",
        "iat": int(issued),
        "exp": int(expires),
        "jti": secrets.token_urlsafe(24),
    }
    return f"{b64({'typ': 'JWT', 'alg': 'HS512'})}.{b64(payload)}.{secrets.token_urlsafe(64)}"


@dataclass
class _Token:
    app_key: str
    issued_mono: float
    expires_mono: float
    expires_kst: datetime
    revoked: bool = False


@dataclass
class TokenStore:
    ttl: float
    issue_interval: float = 60.0
    expire_after: float | None = None  # fault: server-side expiry regardless of ttl
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _last_call: dict[str, float] = field(default_factory=dict)
    _current: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _expiry(self, tok: _Token) -> float:
        if self.expire_after is not None:
            return min(tok.expires_mono, tok.issued_mono + self.expire_after)
        return tok.expires_mono

    def issue(self, app_key: str) -> tuple[str, _Token, bool]:
        """Return (token, record, new). Raises TokenIssueRefused inside the issuance window."""
        now = time.monotonic()
        with self._lock:
            last = self._last_call.get(app_key)
            if last is not None and now - last < self.issue_interval:
                raise TokenIssueRefused()
            self._last_call[app_key] = now
            current = self._current.get(app_key)
            if current is not None:
                tok = self._tokens[current]
                alive = not tok.revoked and now < self._expiry(tok)
                if alive and now - tok.issued_mono < REISSUE_SAME_TOKEN_WITHIN:
                    return current, tok, False
            expires_kst = datetime.now().astimezone() + timedelta(seconds=self.ttl)
            tok = _Token(
                app_key, now, now + self.ttl, expires_kst.astimezone(KST).replace(tzinfo=None)
            )
            token = _jwt_like(app_key, time.time(), time.time() + self.ttl)
            self._tokens[token] = tok
            self._current[app_key] = token
            return token, tok, True

    def check(self, authorization: str | None, app_key: str) -> None:
        if not authorization:
            raise _gateway("EGW00122", "token을 찾을 수 없습니다.")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _gateway("EGW00205", "credentials_type이 유효하지 않습니다.(Bearer)")
        with self._lock:
            tok = self._tokens.get(token.strip())
            if tok is None or tok.revoked or tok.app_key != app_key:
                raise _gateway("EGW00121", "유효하지 않은 token 입니다.")
            if time.monotonic() >= self._expiry(tok):
                raise _gateway("EGW00123", "기간이 만료된 token 입니다.")

    def revoke(self, token: str) -> bool:
        with self._lock:
            tok = self._tokens.get(token)
            if tok is None or tok.revoked:
                return False
            tok.revoked = True
            return True

    def expire_all(self) -> None:
        """Runtime fault: every token issued so far is expired from now on."""
        now = time.monotonic()
        with self._lock:
            for tok in self._tokens.values():
                tok.expires_mono = min(tok.expires_mono, now)

    def reset_issue_window(self) -> None:
        with self._lock:
            self._last_call.clear()


@dataclass
class ApprovalStore:
    """Websocket approval keys (UUID-like), each tied to the app key that asked for it."""

    _keys: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, app_key: str) -> str:
        key = str(uuid.uuid4())
        with self._lock:
            self._keys[key] = app_key
        return key

    def app_key_of(self, approval_key: str) -> str | None:
        with self._lock:
            return self._keys.get(approval_key)


class RateLimiter:
    """Sliding one-second window per app key: at most `limit` accepted requests in any 1.0 s span.

    Whether KIS counts a rolling or a calendar second is unconfirmed (kis-api.md §3); the rolling
    window is the stricter reading, so a client that passes here passes on either. Refused requests
    do not count against the window.
    """

    def __init__(self, limit: float | None) -> None:
        self.limit = int(limit) if limit else 0  # 0 = unlimited
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, app_key: str) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(app_key, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.limit:
                return False
            window.append(now)
            return True


def rate_limited() -> KisReject:
    return _gateway("EGW00201", "초당 거래건수를 초과하였습니다.")
