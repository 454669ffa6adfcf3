"""`roomnote inbox`: the therapist's workstation end of the practice network.

It connects with its own certificate, subscribes to the office's notes, receipts and events,
and writes each note version into a folder as <note id>.v<version>.json / .md / .txt. A version
it already has is dropped (the box sends at least once; the inbox keeps exactly one). It also
sends revise, finalize and discard, signed with the practice key when one is given.

A message is acknowledged to the broker only once it is stored (or refused as not a roomnote
message): when the disk is full, the note stays at the broker, which sends it again after the
inbox reconnects (every RETRY_S). Every id that becomes a file name is checked first, and a
note or receipt is accepted only from the box that owns it (the topic's device, which the
broker's ACL ties to the box's certificate).
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
_NOTE_ID = re.compile(r"[0-9a-f]{32}\Z")  # \Z: "$" would let an id end in a newline
_RECEIPT_ID = re.compile(r"[0-9a-f]{8,64}\Z")
_DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
MAX_VERSION = 1_000_000
RECEIPT_ACTIONS = ("finalized", "ttl_expired", "discarded", "restart", "shutdown")  # messages.make_receipt
FAILED_RECEIPTS = "receipts/failed"  # receipts whose signature did not verify: evidence, never trusted
SESSION_EXPIRY_S = 7 * 86400  # the broker keeps the inbox's subscription and queued notes this long
RETRY_S = (2.0, 60.0)  # after a storage failure: reconnect (the broker resends) after 2 s, doubling to 60 s


class Refused(ValueError):
    """A message that is not a valid roomnote note or receipt of its sender: dropped (and acknowledged)."""


class Inbox:
    """Receives notes and receipts into a folder; one connection, reconnecting by itself."""

    def __init__(self, cfg: Config, out: Path, *, device: str = "+", device_key: Path | None = None,
                 on_note: Callable[[dict], None] | None = None, client_id: str | None = None,
                 on_receipt: Callable[[dict], None] | None = None,
                 on_status: Callable[[str, dict], None] | None = None, device_keys: Path | None = None):
        self.cfg, self.out, self.device = cfg, Path(out), device
        self.device_key = load_public_key(device_key, "device public key") if device_key else None
        self.device_keys = Path(device_keys).expanduser() if device_keys else None  # <device>.pub.pem each
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
        self._retry_at: float | None = None  # when to reconnect so the broker resends what was not stored
        self._retry_s = RETRY_S[0]

    def connect(self) -> None:
        m = self.cfg.mqtt
        c = new_client(m, self.client_id)
        c.manual_ack_set(True)  # PUBACK only once a message is stored: a full disk must not lose a note
        c.on_connect, c.on_message, c.on_disconnect = self._on_connect, self._on_message, self._on_disconnect
        c.reconnect_delay_set(0.2, 5)
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S  # notes published while we are away wait at the broker
        self._props = props
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
        office, device, kind = where or ("", "", "")
        try:
            if where is None or not _DEVICE.match(device):
                pass
            elif kind == "status":  # a box's heartbeat, for the review page's live status; never stored
                self._status(device, bytes(msg.payload))
            elif kind == "notes":
                self._note(device, bytes(msg.payload))
            elif kind == "receipts":
                self._receipt(device, bytes(msg.payload))
        except OSError as e:  # storage failed: no PUBACK, so the broker keeps the message and sends it again
            with self._lock:
                if self._retry_at is None:
                    self._retry_at = time.monotonic() + self._retry_s
                    self._retry_s = min(self._retry_s * 2, RETRY_S[1])
            log.error("a %s message from %s could not be stored (%s); not acknowledged: the broker keeps it and "
                      "it is fetched again when there is room; free space in %s", kind, device,
                      e.strerror or e.__class__.__name__, self.out)
            return
        except Refused as e:
            log.error("a %s message from %s was refused: %s", kind, device[:64], e)
        except Exception as e:  # noqa: BLE001 - one bad message never stops the inbox
            log.error("a %s message from %s is not a valid roomnote message (%s); dropped", kind, device[:64],
                      e.__class__.__name__)
        client.ack(msg.mid, msg.qos)

    def _status(self, device: str, payload: bytes) -> None:
        try:
            if self.on_status and payload:
                self.on_status(device, json.loads(payload))
        except Exception:  # noqa: BLE001 - a bad heartbeat never stops the inbox
            log.warning("a status message from %s is not JSON; ignored", device)

    def _note(self, device: str, payload: bytes) -> None:
        d = json.loads(payload)
        if not isinstance(d, dict) or d.get("schema") != NOTE_SCHEMA or not _NOTE_ID.match(str(d.get("note_id", ""))):
            raise Refused("not a roomnote note")
        v = d.get("version")
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_VERSION:
            raise Refused("the note's version is not a number from 1")
        owner = self._devices.get(d["note_id"])
        if owner not in (None, device):
            raise Refused(f"note {d['note_id']} belongs to {owner}; another box cannot send versions of it")
        stem = f"{d['note_id']}.v{v}"
        with self._lock:
            self._retry_s = RETRY_S[0]
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
        """Checked before anything is written: the id (it becomes a file name), the box (the
        receipt's device must be the topic's, and the note's owner), and the signature when this
        inbox has the box's key. A receipt of the right box whose signature fails is kept apart,
        in receipts/failed/ (the review page warns about it, never trusts it); any other is refused."""
        d = json.loads(payload)
        if not isinstance(d, dict) or d.get("schema") != RECEIPT_SCHEMA:
            raise Refused("not a roomnote receipt")
        rid, note_id = d.get("receipt_id"), d.get("note_id")
        if not (isinstance(rid, str) and _RECEIPT_ID.match(rid)) or not (isinstance(note_id, str)
                                                                         and _NOTE_ID.match(note_id)):
            raise Refused("the receipt's receipt_id or note_id is not a hex id")
        if d.get("device_id") != device or d.get("office") != self.cfg.device.office:
            raise Refused("the receipt names another box than the one that sent it")
        if d.get("action") not in RECEIPT_ACTIONS:
            raise Refused("the receipt's action is not one a box takes")
        owner = self._devices.get(note_id)
        if owner not in (None, device):
            raise Refused(f"receipt for note {note_id}, which belongs to {owner}")
        key = self._key_for(device)
        state = "saved, signature not checked (no key for this box)"
        folder = self.out / "receipts"
        if key is not None:
            try:
                verify_receipt(payload, key)
                state = "signature ok"
            except PublishError as e:
                state = f"SIGNATURE FAILED: {e}; kept apart in {FAILED_RECEIPTS}/"
                folder = self.out / FAILED_RECEIPTS
                folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{rid}.json"
        if path.exists():
            return
        write_atomic(path, payload)
        print(f"receipt from {device}: {d['action']} note {d['note_id']} ({state}) -> {path}", flush=True)
        if self.on_receipt:
            self.on_receipt(d)

    def _key_for(self, device: str):
        if self.device_key is not None:
            return self.device_key
        if self.device_keys is not None:
            pem = self.device_keys / f"{device}.pub.pem"  # device: checked against _DEVICE
            if pem.is_file():
                return load_public_key(pem, "device public key")
        return None

    def _redeliver(self) -> None:
        """Reconnect to the persistent session: the broker resends every message not acknowledged."""
        c, m = self._client, self.cfg.mqtt
        log.info("inbox: reconnecting to fetch the messages that could not be stored")
        c.disconnect()
        c.loop_stop()
        c.connect_async(m.host, m.port, keepalive=m.keepalive_s, clean_start=False, properties=self._props)
        c.loop_start()

    def loop_forever(self, stop: threading.Event) -> None:
        assert self._client is not None
        self._client.loop_start()
        try:
            while not stop.wait(0.25):
                with self._lock:
                    due = self._retry_at is not None and time.monotonic() >= self._retry_at
                    if due:
                        self._retry_at = None
                if due:
                    self._redeliver()
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
    # "to" names the one box the command is for; the signature covers it (commands.signed_bytes)
    body = {"id": uuid.uuid4().hex, "to": f"{cfg.device.office}/{device}", **fields}
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
