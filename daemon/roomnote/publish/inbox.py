"""`roomnote inbox`: the therapist's workstation end of the practice network.

It connects with its own certificate, subscribes to the office's notes, receipts and events,
and writes each note version into a folder as <note id>.v<version>.json / .md / .txt. A version
it already has is dropped (the box sends at least once; the inbox keeps exactly one). It also
sends revise, finalize and discard, signed with the practice key when one is given.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..config import Config
from ..errors import PublishError
from ..notes.render import SCHEMA as NOTE_SCHEMA, from_dict, to_markdown, to_text
from ..storage import write_atomic
from .client import explain_connack, explain_connect_error, new_client
from .commands import signed_bytes
from .keys import load_public_key, load_signing_key, sign
from .messages import RECEIPT_SCHEMA, verify_receipt
from .topics import Topics, office_filter, parse

log = logging.getLogger("roomnote.inbox")
_NOTE_ID = re.compile(r"^[0-9a-f]{32}$")
SESSION_EXPIRY_S = 7 * 86400  # the broker keeps the inbox's subscription and queued notes this long


class Inbox:
    """Receives notes and receipts into a folder; one connection, reconnecting by itself."""

    def __init__(self, cfg: Config, out: Path, *, device: str = "+", device_key: Path | None = None,
                 on_note: Callable[[dict], None] | None = None, client_id: str | None = None,
                 on_receipt: Callable[[dict], None] | None = None,
                 on_status: Callable[[str, dict], None] | None = None):
        self.cfg, self.out, self.device = cfg, Path(out), device
        self.device_key = load_public_key(device_key, "device public key") if device_key else None
        self.on_note = on_note
        self.on_receipt = on_receipt  # called with each new receipt once it is stored (the review page)
        self.on_status = on_status  # (device, heartbeat) for the review page's live status; never stored
        self.received = self.duplicates = 0
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "receipts").mkdir(exist_ok=True)
        # one persistent session per workstation: the broker keeps notes for it while it is off
        self.client_id = client_id or f"roomnote-inbox-{cfg.device.office}-{socket.gethostname()}"[:64]
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._devices = read_devices(self.out)  # note id -> its box; this inbox is the file's only writer

    def connect(self) -> None:
        m = self.cfg.mqtt
        c = new_client(m, self.client_id)
        c.on_connect, c.on_message, c.on_disconnect = self._on_connect, self._on_message, self._on_disconnect
        c.reconnect_delay_set(0.2, 5)
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S  # notes published while we are away wait at the broker
        try:
            c.connect(m.host, m.port, keepalive=m.keepalive_s, clean_start=False, properties=props)
        except Exception as e:  # noqa: BLE001
            raise explain_connect_error(e, m) from None
        self._client = c

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _on_connect(self, client, userdata, flags, rc, properties):
        if rc.is_failure:
            log.error("%s", explain_connack(rc, self.cfg.mqtt))
            return
        office = self.cfg.device.office
        kinds = ("notes", "receipts", "events") + (("status",) if self.on_status else ())
        client.subscribe([(office_filter(office, k, self.device), 1) for k in kinds])
        self._connected.set()
        log.info("inbox connected; writing notes of office %s to %s", office, self.out)

    def _on_disconnect(self, client, userdata, flags, rc, properties):
        self._connected.clear()

    def _on_message(self, client, userdata, msg):
        where = parse(msg.topic)
        if where is None:
            return
        office, device, kind = where
        if kind == "status":  # a box's heartbeat, for the review page's live status; never stored
            try:
                if self.on_status and msg.payload:
                    self.on_status(device, json.loads(msg.payload))
            except Exception:  # noqa: BLE001 - a bad heartbeat never stops the inbox
                log.warning("a status message from %s is not JSON; ignored", device)
            return
        try:
            if kind == "notes":
                self._note(device, bytes(msg.payload))
            elif kind == "receipts":
                self._receipt(device, bytes(msg.payload))
        except Exception as e:  # noqa: BLE001 - one bad message never stops the inbox
            log.error("a %s message from %s could not be stored (%s)", kind, device, e.__class__.__name__)

    def _note(self, device: str, payload: bytes) -> None:
        d = json.loads(payload)
        if d.get("schema") != NOTE_SCHEMA or not _NOTE_ID.match(str(d.get("note_id", ""))):
            log.error("a message on %s's notes topic is not a roomnote note; ignored", device)
            return
        stem = f"{d['note_id']}.v{int(d['version'])}"
        with self._lock:
            if (self.out / f"{stem}.json").exists():
                self.duplicates += 1
                log.info("note %s from %s: duplicate dropped", stem, device)
                return
            note = from_dict(d)
            write_atomic(self.out / f"{stem}.md", to_markdown(note).encode())
            write_atomic(self.out / f"{stem}.txt", to_text(note).encode())
            write_atomic(self.out / f"{stem}.json", payload)  # last: its presence means "have it"
            self._remember(d["note_id"], device)
            self.received += 1
        print(f"received note {stem} from {device} -> {self.out / (stem + '.md')}", flush=True)
        if self.on_note:
            self.on_note(d)

    def _remember(self, note_id: str, device: str) -> None:
        if self._devices.get(note_id) != device:
            self._devices[note_id] = device
            write_atomic(self.out / "devices.json", json.dumps(self._devices, indent=1).encode())

    def _receipt(self, device: str, payload: bytes) -> None:
        d = json.loads(payload)
        if d.get("schema") != RECEIPT_SCHEMA:
            return
        path = self.out / "receipts" / f"{d['receipt_id']}.json"
        if path.exists():
            return
        write_atomic(path, payload)
        state = "saved"
        if self.device_key is not None:
            try:
                verify_receipt(payload, self.device_key)
                state = "signature ok"
            except PublishError as e:
                state = f"SIGNATURE FAILED: {e}"
        print(f"receipt from {device}: {d['action']} note {d['note_id']} ({state}) -> {path}", flush=True)
        if self.on_receipt:
            self.on_receipt(d)

    def loop_forever(self, stop: threading.Event) -> None:
        assert self._client is not None
        self._client.loop_start()
        try:
            stop.wait()
        finally:
            self._client.disconnect()
            self._client.loop_stop()


def read_devices(out: Path) -> dict[str, str]:
    """The inbox's devices.json: note id -> the box that sent it."""
    index = Path(out) / "devices.json"
    return json.loads(index.read_text()) if index.exists() else {}


def device_of(out: Path, note_id: str) -> str:
    known = read_devices(out)
    if note_id not in known:
        raise PublishError(f"note {note_id} is not in the inbox at {out}; pass --device, or --out of the inbox "
                           "that received it")
    return known[note_id]


def send_command(cfg: Config, device: str, name: str, fields: dict, *,
                 sign_key: Path | Ed25519PrivateKey | None = None, wait_s: float = 10.0) -> dict | None:
    """Publish one command and wait for the box's event answering it (None if none came in time).

    sign_key: the practice's private key, or its file (a caller sending many commands, like
    the review page, loads it once and passes the key)."""
    body = {"id": uuid.uuid4().hex, **fields}
    if sign_key is not None:
        key = sign_key if isinstance(sign_key, Ed25519PrivateKey) else load_signing_key(sign_key)
        body.update(ts=int(time.time()), nonce=secrets.token_urlsafe(24))
        body["sig"] = sign(key, signed_bytes(name, body))
    m = cfg.mqtt
    c = new_client(m, f"roomnote-cmd-{uuid.uuid4().hex[:8]}")
    answer: dict = {}
    got = threading.Event()
    subscribed = threading.Event()
    topics = Topics(cfg.device.office, device)

    def on_connect(client, userdata, flags, rc, properties):
        if rc.is_failure:
            answer["error"] = str(explain_connack(rc, m))
            got.set()
            return
        client.subscribe(topics.events, qos=1)

    def on_subscribe(client, userdata, mid, rcs, properties):
        subscribed.set()

    def on_message(client, userdata, msg):
        try:
            ev = json.loads(msg.payload)
        except ValueError:
            return
        if ev.get("id") == body["id"]:
            answer.update(ev)
            got.set()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    try:
        c.connect(m.host, m.port, keepalive=m.keepalive_s)
    except Exception as e:  # noqa: BLE001
        raise explain_connect_error(e, m) from None
    c.loop_start()
    try:
        if not subscribed.wait(10) and not got.is_set():
            raise PublishError(f"the broker at {m.host}:{m.port} did not accept the inbox's subscription; check its ACL")
        if "error" in answer:
            raise PublishError(answer["error"])
        info = c.publish(topics.command(name), json.dumps(body), qos=1)
        info.wait_for_publish(10)
        got.wait(wait_s)
    finally:
        c.disconnect()
        c.loop_stop()
    return answer or None
