"""Who may use the review page, and how: bind rules, the login password, sessions, CSRF.

By default the page listens on 127.0.0.1 only and needs no login: the workstation's user is
the therapist. Any other address is the practice network, so the page then refuses to start
unless it has TLS (a certificate and key) and a login (an scrypt password hash). Without a
login, a request from a non-loopback client, or naming a non-loopback Host (DNS rebinding),
is refused whatever the bind address.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from pathlib import Path

from ..config import ReviewConfig
from ..errors import RoomnoteError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1  # about 32 MB and 0.1 s per check
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SESSION_COOKIE = "roomnote_review"
MAX_FAILED_LOGINS = 5  # per client address within FAILED_WINDOW_S, then refused for a while
FAILED_WINDOW_S = 300.0


class ReviewError(RoomnoteError):
    """The review page cannot start or act as configured; one line says what to do."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a Host header ("127.0.0.1:8765", "[::1]:80", "name")."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ReviewError("the password is shorter than 10 characters; choose a longer one")
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(dk)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        kind, n, r, p, salt, dk = stored.split("$")
        if kind != "scrypt":
            raise ValueError
        return int(n), int(r), int(p), base64.b64decode(salt, validate=True), base64.b64decode(dk, validate=True)
    except ValueError:
        raise ReviewError("review.password_hash is not an scrypt hash from `roomnote review --hash-password`; "
                          "make a new one") from None


def check_password(password: str, stored: str) -> bool:
    n, r, p, salt, dk = _parse_hash(stored)
    got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 << 20, dklen=len(dk))
    return hmac.compare_digest(got, dk)


def check_bind(cfg: ReviewConfig, host: str) -> None:
    """Refuse to serve the practice network without TLS and a login (one line each)."""
    for key in ("tls_cert", "tls_key"):
        path = getattr(cfg, key)
        if path and not Path(path).expanduser().is_file():
            raise ReviewError(f"review.{key}: {path} not found; give the PEM file for https, or \"\" for none")
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise ReviewError("review.tls_cert and review.tls_key go together; set both (https) or neither")
    if cfg.password_hash:
        _parse_hash(cfg.password_hash)
    if is_loopback(host):
        return
    missing = [what for what, ok in (("TLS (review.tls_cert and review.tls_key)", cfg.tls_cert and cfg.tls_key),
                                     ("a login (review.password_hash)", cfg.password_hash)) if not ok]
    if missing:
        raise ReviewError(f"refusing to serve notes on {host}, a network address, without {' and '.join(missing)}; "
                          "bind to 127.0.0.1, or configure them (README, \"The review page\")")


class Sessions:
    """Logged-in browsers (random cookie -> expiry) and failed logins per client, in memory only:
    restarting the page logs everyone out."""

    def __init__(self, hours: float):
        self.ttl = hours * 3600
        self._live: dict[str, float] = {}
        self._failed: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._live[sid] = time.monotonic() + self.ttl
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            exp = self._live.get(sid)
            if exp is None or exp < time.monotonic():
                self._live.pop(sid, None)
                return False
            return True

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._live.pop(sid or "", None)

    def attempt(self, client: str) -> float | None:
        """Before the (slow) password check: None if the client is locked out, else a token.

        The attempt counts as failed from this moment, under the lock, so concurrent guesses
        cannot all pass the check before the first failure is recorded; succeeded() takes it back."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failed.get(client, []) if now - t < FAILED_WINDOW_S]
            if len(recent) >= MAX_FAILED_LOGINS:
                self._failed[client] = recent
                return None
            recent.append(now)
            self._failed[client] = recent
            return now

    def succeeded(self, client: str, token: float) -> None:
        with self._lock:
            recent = self._failed.get(client, [])
            if token in recent:
                recent.remove(token)


class Csrf:
    """A token per browser session (or per run, without a login), required on every POST."""

    def __init__(self):
        self._key = secrets.token_bytes(32)

    def token(self, sid: str | None) -> str:
        return hmac.new(self._key, (sid or "local").encode(), hashlib.sha256).hexdigest()

    def check(self, sid: str | None, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.token(sid), given)
