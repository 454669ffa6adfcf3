"""Commands from the practice network: schema, size limit, optional Ed25519 signatures.

A command is published to roomnote/v1/<office>/<device>/commands/<name> as one JSON object
(schema in README.md, "Commands"). Anything wrong with it raises CommandRejected with a
reason code; the service turns that into an error event. Nothing from the payload is ever
echoed back except a well-formed command id, so an error event cannot carry session text.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..storage import write_atomic
from ..config import CommandsConfig
from .keys import canonical_json, verify
from .topics import COMMANDS

# \Z, not $: "$" also matches before a final newline, and an id with a newline is not an id
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
_NOTE_ID = re.compile(r"[0-9a-f]{32}\Z")
_REF = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")
_TO = re.compile(r"[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}\Z")  # <office>/<device>
MAX_INSTRUCTION = 1000
MAX_DEPTH = 4  # a command is one flat object; deeper nesting is refused before json.loads
SIGNED_SCHEMA = "roomnote.command/2"  # what a signature covers (see signed_bytes)

# Per command: field -> (required, validator). Common fields: id (required), ts, nonce, sig.
_ARGS: dict[str, dict[str, tuple[bool, Any]]] = {
    "consent": {"session_ref": (True, _REF)},
    "revise": {"note_id": (True, _NOTE_ID), "instruction": (True, "instruction")},
    "finalize": {"note_id": (True, _NOTE_ID)},
    "discard": {"note_id": (False, _NOTE_ID), "session_ref": (False, _REF)},
    "ping": {},
}
assert set(_ARGS) == set(COMMANDS)
_COMMON = {"id", "to", "ts", "nonce", "sig"}


class CommandRejected(Exception):
    """reason: malformed | too_large | unknown_command | invalid_args | unsigned | bad_signature |
    wrong_device | stale | replayed | rate_limited | out_of_order | failed. detail: fixed text, never from the payload."""

    def __init__(self, reason: str, detail: str, command: str = "", cmd_id: str | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.command, self.cmd_id = reason, detail, command, cmd_id


@dataclass(frozen=True)
class Command:
    name: str
    id: str
    args: dict[str, Any] = field(default_factory=dict)
    signed: bool = False


def signed_bytes(name: str, body: dict[str, Any]) -> bytes:
    """What the practice system signs: a version tag, the command name and every field except sig.

    The body must carry "to": "<office>/<device>" (the one box it is for), so a signature made
    for one box is refused by every other. Signatures of the first format (no tag, no "to")
    never verify against these bytes and are refused with a reason that says so."""
    return canonical_json({"schema": SIGNED_SCHEMA, "command": name, **{k: v for k, v in body.items() if k != "sig"}})


def too_deep(payload: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if [ and { nest deeper than limit in a JSON text (outside strings): checked before
    json.loads, which recurses once per level (a RecursionError on thousands of them)."""
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False  # the usual command: no scan needed
    depth = 0
    in_string = escaped = False
    for b in payload:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True  # stop at once: junk costs a few bytes' scan
        elif b in (0x5D, 0x7D):
            depth -= 1
    return False


def _valid_instruction(v: Any) -> bool:
    return (isinstance(v, str) and 0 < len(v.strip()) and len(v) <= MAX_INSTRUCTION
            and all(c.isprintable() for c in v))


class CommandParser:
    def __init__(self, cfg: CommandsConfig, practice_key: Ed25519PublicKey | None,
                 nonce_file: Path | None = None, to: str = ""):
        self.cfg = cfg
        self.to = to  # "<office>/<device>" of this box: a command for another box is refused
        self.key = practice_key
        self._nonces: dict[str, float] = {}  # nonce -> its command's timestamp
        self._lock = threading.Lock()
        self._nonce_file = nonce_file
        if nonce_file and nonce_file.exists():  # replay protection survives a restart
            for line in nonce_file.read_text(errors="replace").splitlines():
                ts, _, nonce = line.partition(" ")
                try:
                    self._nonces[nonce] = float(ts)
                except ValueError:
                    continue
            self._prune(time.time(), rewrite=True)

    def parse(self, name: str, payload: bytes, now: float | None = None) -> Command:
        now = time.time() if now is None else now
        if len(payload) > self.cfg.max_bytes:
            raise CommandRejected("too_large", f"command payload over {self.cfg.max_bytes} bytes", _short(name))
        if name not in _ARGS:
            raise CommandRejected("unknown_command", f"unknown command; known: {', '.join(COMMANDS)}")
        if too_deep(payload):
            raise CommandRejected("malformed", f"payload nests deeper than {MAX_DEPTH} levels", name)
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise CommandRejected("malformed", "payload is not UTF-8 JSON", name) from None
        if not isinstance(body, dict):
            raise CommandRejected("malformed", "payload is not a JSON object", name)
        cmd_id = body.get("id")
        if not (isinstance(cmd_id, str) and _ID.match(cmd_id)):
            raise CommandRejected("malformed", "id missing or not 1-64 letters, digits, - or _", name)
        to = body.get("to")
        if to is not None and not (isinstance(to, str) and _TO.match(to)):
            raise CommandRejected("malformed", "to is not <office>/<device>", name, cmd_id)
        if to is not None and self.to and to != self.to:
            raise CommandRejected("wrong_device", "this command is addressed to another box", name, cmd_id)
        spec = _ARGS[name]
        unknown = set(body) - _COMMON - set(spec)
        if unknown:
            raise CommandRejected("malformed", f"{len(unknown)} unknown field(s) for {name}", name, cmd_id)
        args = {}
        for key, (required, check) in spec.items():
            if key not in body:
                if required:
                    raise CommandRejected("invalid_args", f"{name} needs {key}", name, cmd_id)
                continue
            value = body[key]
            ok = _valid_instruction(value) if check == "instruction" else isinstance(value, str) and check.match(value)
            if not ok:
                raise CommandRejected("invalid_args", f"{key} is not valid", name, cmd_id)
            args[key] = value
        signed = self._check_signature(name, body, cmd_id, now)
        return Command(name, cmd_id, args, signed)

    def _check_signature(self, name: str, body: dict, cmd_id: str, now: float) -> bool:
        sig = body.get("sig")
        if sig is None:
            if self.cfg.require_signature:
                raise CommandRejected("unsigned", "this box accepts only signed commands", name, cmd_id)
            return False
        if self.key is None:
            raise CommandRejected("bad_signature", "signed command but no practice key is configured", name, cmd_id)
        ts, nonce = body.get("ts"), body.get("nonce")
        if not isinstance(ts, int) or isinstance(ts, bool) or not (isinstance(nonce, str) and _NONCE.match(nonce)):
            raise CommandRejected("malformed", "a signed command needs ts (unix seconds) and nonce (16-64 chars)",
                                  name, cmd_id)
        if self.to and body.get("to") is None:
            raise CommandRejected("bad_signature", f"old signature format: a signed command must name its box in "
                                  f"\"to\" and be signed as {SIGNED_SCHEMA}; update the practice system", name, cmd_id)
        if not isinstance(sig, str) or not verify(self.key, sig, signed_bytes(name, body)):
            raise CommandRejected("bad_signature", "signature does not verify with the practice key", name, cmd_id)
        if abs(now - ts) > self.cfg.max_skew_s:
            raise CommandRejected("stale", f"timestamp outside the {self.cfg.max_skew_s} s window", name, cmd_id)
        with self._lock:
            if nonce in self._nonces:
                raise CommandRejected("replayed", "nonce already used", name, cmd_id)
            self._nonces[nonce] = float(ts)
            if self._nonce_file:
                with open(self._nonce_file, "a") as f:
                    f.write(f"{ts} {nonce}\n")
            if len(self._nonces) > 10000:
                self._prune(now, rewrite=True)
        return True

    def _prune(self, now: float, rewrite: bool) -> None:
        # a nonce older than the window can never be accepted again anyway (stale)
        horizon = now - 2 * self.cfg.max_skew_s
        self._nonces = {n: t for n, t in self._nonces.items() if t >= horizon}
        if rewrite and self._nonce_file:
            write_atomic(self._nonce_file, "".join(f"{int(t)} {n}\n" for n, t in self._nonces.items()))


def _short(name: str) -> str:
    return name if name in _ARGS else ""


class RateLimit:
    """Token buckets per command kind: `burst` at once, then `per_s` a second.

    MQTT does not tell a subscriber who published a message (the broker's ACL decides who may),
    so the box limits per kind: the command topic's name, unknown names sharing one bucket.
    The service keeps two: commands that are carried out, and answers to refused ones (past
    that, a refusal is only counted); so junk, however much, never delays a valid command."""

    def __init__(self, burst: float = 60, per_s: float = 20):
        self.burst, self.per_s = float(burst), float(per_s)
        self._buckets: dict[str, tuple[float, float]] = {}  # kind -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, kind: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.get(kind, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.per_s)
            ok = tokens >= 1.0
            self._buckets[kind] = (tokens - 1.0 if ok else tokens, now)
            return ok


def command_kind(name: str) -> str:
    """The rate-limit bucket of a command topic's name."""
    return name if name in _ARGS else "unknown"
