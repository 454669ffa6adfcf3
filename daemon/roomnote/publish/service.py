"""The publishing service the appliance owns: outbox, MQTT link, commands, receipts.

    svc = PublishingService(cfg, reviser=revise_note, on_consent=appliance.give_consent,
                            on_discard=appliance.discard, state=lambda: appliance.state)
    svc.start()
    svc.put(note, redacted_transcript)   # a finished session: into the outbox, then delivered
    svc.emit({"event": "session_started", "session_id": sid})   # content-free events
    svc.stop()

Threads: one network thread owns the MQTT connection (connect with backoff, send, PUBACKs,
heartbeat); one worker thread runs commands and the time-to-live sweep, so a slow revision
never stalls delivery. put() and emit() may be called from any thread.
"""
from __future__ import annotations

import json
import logging
import queue
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from .. import __version__
from ..audit import AuditLog, content_free
from ..config import Config
from ..errors import AuditError, PublishError, RoomnoteError
from ..notes import Note
from ..redact.egress import EgressError, check_egress
from ..transcript import RedactedTranscript
from .client import explain_connack, explain_connect_error, explain_peer_alert, new_client
from .commands import Command, CommandParser, CommandRejected, RateLimit, command_kind
from .keys import load_outbox_key, load_public_key, load_signing_key
from .messages import EVENT_SCHEMA, Receipt, RedactedNote, make_receipt, utc_now
from .outbox import Entry, Outbox, OutboxCorruptError, OutboxFullError
from .sessions import DESTROYED, SessionStore
from .status import free_disk_mb, model_versions, temperature_c
from .topics import Topics

log = logging.getLogger("roomnote.publish")

Reviser = Callable[[RedactedTranscript, Note, str], Note]
_DETAIL_MAX = 240
REFUSALS_AUDIT_S = 10.0  # refused and rate-limited commands: one coalesced audit entry per this many seconds
COMMANDS_BURST, COMMANDS_PER_S = 60, 20  # per command kind (docs/threat-model.md, "Command flood")


def error_words(e: BaseException) -> str:
    """An exception's class as lowercase words ("NothingToDiscard" -> "nothing to discard"): an
    event's detail is scanned for identifiers (P2), and a CamelCase word reads like a name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", type(e).__name__).lower()


@dataclass
class _Flight:
    """A message published and waiting for its PUBACK."""
    entry: Entry | None  # None for a message held in memory (disk full)
    msg: RedactedNote | Receipt
    sent_at: float


class PublishingService:
    def __init__(self, cfg: Config, *, reviser: Reviser | None = None,
                 on_consent: Callable[[str], None] | None = None,
                 on_discard: Callable[[str | None], None] | None = None,
                 state: Callable[[], str] = lambda: "idle", role: str = "box"):
        self.cfg = cfg
        # each process its own MQTT client id: two with one id knock each other off the broker
        self.client_id = f"roomnote-{role}-{cfg.device.office}-{cfg.device.id}"[:64]
        self.topics = Topics(cfg.device.office, cfg.device.id)
        self.reviser, self.on_consent, self.on_discard, self._state = reviser, on_consent, on_discard, state
        # Keys and stores: every problem here is one clear line before anything starts.
        self._signing = load_signing_key(cfg.keys.signing_key)
        self.outbox = Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key))
        self.sessions = SessionStore(cfg.retention.dir, cfg.retention.transcript_ttl_s)
        self.audit = AuditLog(cfg.audit.file)
        practice = None
        if cfg.commands.practice_public_key:
            practice = load_public_key(cfg.commands.practice_public_key, "practice public key (commands.practice_public_key)")
        elif cfg.commands.require_signature:
            raise PublishError("commands.require_signature is true but commands.practice_public_key is empty; "
                               "set it to the practice system's Ed25519 public key (PEM)")
        self.commands = CommandParser(cfg.commands, practice, Path(cfg.retention.dir) / "command-nonces",
                                      to=f"{cfg.device.office}/{cfg.device.id}")
        self._run_limit = RateLimit(burst=COMMANDS_BURST, per_s=COMMANDS_PER_S)  # valid commands carried out
        self._answer_limit = RateLimit(burst=COMMANDS_BURST, per_s=COMMANDS_PER_S)  # refusals answered one by one
        self._refused: dict[str, int] = {}  # reason -> count since the last coalesced audit entry
        self._unanswered = 0  # refusals past the answer limit since then (counted, not answered)
        self._unreadable: dict[str, str] = {}  # outbox entry -> the error last reported for it

        self._lock = threading.RLock()  # guards _inflight, _held_in_memory, _hold_until
        self._inflight: dict[int, _Flight] = {}
        self._acks: queue.SimpleQueue = queue.SimpleQueue()
        self._held_in_memory: list[RedactedNote | Receipt] = []  # could not be written (disk full)
        self._hold_until: dict[str, float] = {}  # message id -> time; refused by the broker
        self._events: deque = deque(maxlen=1000)  # waiting for a connection
        self._commands: queue.Queue = queue.Queue(maxsize=10000)
        self._stop = threading.Event()
        self._client: mqtt.Client | None = None
        self._connected = False
        self._rescan = True
        self._last_error: str | None = None
        self._audit_failing = False  # the audit log could not be written last time (said once)
        self._started = time.monotonic()
        self._threads: list[threading.Thread] = []
        self.delivered = 0  # messages acknowledged since start (for the CLI and the benchmark)
        self.on_delivered: Callable[[str], None] | None = None  # called with the message id after PUBACK
        self._models = model_versions(cfg)

    # ---- the interface the appliance uses -------------------------------------------------

    def start(self) -> None:
        for meta in self.sessions.orphans():  # keys died with the previous process (P5)
            self._destroyed(meta.get("note_id", ""), int(meta.get("note_version", 0)), meta.get("note_sha256", ""),
                            meta.get("session_id", ""), "restart")
        self._audit("publisher_started", outbox=len(self.outbox), device=self.cfg.device.id)
        for target, name in ((self._net_loop, "roomnote-mqtt"), (self._work_loop, "roomnote-commands")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def put(self, note: Note, rt: RedactedTranscript) -> None:
        """A finished note: durable in the outbox before the first send (P7), transcript kept for revisions."""
        msg = RedactedNote.from_note(note)  # egress check (P2): raises EgressError, nothing queued
        self._enqueue(msg)
        self._audit("note_queued", note_id=msg.note_id, version=msg.version, session_id=msg.session_id)
        try:
            self.sessions.hold(note, rt, msg.sha256)
        except OSError as e:  # the note is safe; only revisions are lost, and nothing is left half-kept
            self.sessions.destroy(note.note_id)
            log.error("the transcript of note %s could not be kept for revisions (%s); the note is queued but "
                      "cannot be revised on the box", msg.note_id, e.strerror)
            self.emit({"event": "error", "reason": "transcript_not_kept", "note_id": msg.note_id})

    def _audit(self, event: str, **fields) -> None:
        """Audit, but never let a full disk stop a note: an entry that cannot be written is reported, not fatal."""
        try:
            self.audit.append(event, **fields)
            self._audit_failing = False
        except (OSError, AuditError) as e:
            if not self._audit_failing:
                log.error("the audit log cannot be written (%s); delivery goes on, entries are missing until "
                          "there is room", getattr(e, "strerror", None) or e)
            self._audit_failing = True

    def emit(self, event: dict, audit: bool = True) -> None:
        """A content-free event for /events (and the audit log unless audit is False). Fields that are
        not content-free are dropped."""
        name = str(event.get("event", ""))
        detail = event.get("detail")
        kept, dropped = content_free({k: v for k, v in event.items() if k not in ("event", "detail")})
        if dropped:
            log.warning("event %s: dropped %d field(s) that are not content-free", name[:32], len(dropped))
        try:
            if audit:
                self._audit(name if name.replace("_", "").isalnum() else "event", **kept)
        except ValueError:
            log.warning("event with an invalid name was not audited")
        body = {"schema": EVENT_SCHEMA, "event": name, "ts": utc_now(), "device_id": self.cfg.device.id, **kept}
        if isinstance(detail, str):
            body["detail"] = detail[:_DETAIL_MAX]
        try:
            # P2: the only free text of an event is its detail; every other field is a token
            # (id, state, count) checked by content_free, and an all-digit command id is not PHI
            check_egress(body.get("detail", ""))
        except EgressError as e:
            log.error("event %s not sent: %s", name[:32], e)
            return
        self._events.append(body)

    def close_sessions(self) -> None:
        """Destroy every held transcript now, each with a signed receipt queued (what stop() does first)."""
        for note_id in self.sessions.note_ids():
            self._destroy_session(note_id, "shutdown")

    def stop(self, timeout: float = 5.0) -> None:
        """Destroy every held transcript (its key would die with the process anyway), say so, disconnect."""
        self.close_sessions()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._connected and (self._pending_count() or self._events):
            time.sleep(0.05)  # give queued receipts a moment to go out now
        self._stop.set()
        for t in self._threads:
            t.join(max(timeout, 5.0))  # both threads notice the stop within a second
        self._report_refusals()
        self._audit("publisher_stopped", outbox=len(self.outbox))

    # ---- for the CLI, tests and the benchmark -----------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def wait_delivered(self, timeout: float) -> bool:
        """True when the outbox is empty and nothing is held in memory."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._pending_count():
                return True
            time.sleep(0.05)
        return not self._pending_count()

    @property
    def held_in_memory(self) -> list[str]:
        """Ids of the messages neither in the outbox nor acknowledged (the disk was full): they
        die with the process, so a command that ends must not end while there are any."""
        with self._lock:
            return [m.message_id for m in self._held_in_memory]

    def _pending_count(self) -> int:
        return len(self.outbox) + len(self._held_in_memory)

    # ---- outbox and sending -----------------------------------------------------------------

    def _enqueue(self, msg: RedactedNote | Receipt) -> None:
        try:
            entry = self.outbox.put(msg)
        except PublishError as e:  # disk full or unwritable: keep it in memory (P7), say so
            log.error("%s", e)
            with self._lock:
                self._held_in_memory.append(msg)
            self.emit({"event": "error", "reason": "outbox_disk_full" if isinstance(e, OutboxFullError)
                       else "outbox_unwritable", "message_id": msg.message_id})
            self._rescan = True
            return
        self._send(entry, msg)

    def _send(self, entry: Entry | None, msg: RedactedNote | Receipt) -> None:
        client = self._client
        if not self._connected or client is None:
            return
        with self._lock:
            if self._hold_until.get(msg.message_id, 0) > time.time():
                return  # refused by the broker: the periodic scan tries again after retry_max_s
            if len(self._inflight) >= self.cfg.outbox.max_inflight:
                self._rescan = True  # sent as soon as acknowledgements make room
                return
            if any(f.msg.message_id == msg.message_id for f in self._inflight.values()):
                return
            check_egress(json.loads(msg.payload))  # P2
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("message_id", msg.message_id)]
            props.ContentType = "application/json"
            topic = self.topics.notes if msg.kind == "notes" else self.topics.receipts
            info = client.publish(topic, msg.payload, qos=1, properties=props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._rescan = True
                return
            # registered under the lock the PUBACK handler takes, so its PUBACK cannot be seen first
            self._inflight[info.mid] = _Flight(entry, msg, time.monotonic())

    def _scan(self) -> None:
        """Send everything queued that is not in flight: after a (re)connect, a refusal, or a busy spell."""
        self._rescan = False
        with self._lock:
            flying = {f.msg.message_id for f in self._inflight.values()}
            memory = list(self._held_in_memory)
        for msg in memory:  # to disk if there is room again, else straight to the broker
            if msg.message_id not in flying:
                self._send(self._to_disk(msg), msg)
        for entry in self.outbox.entries():
            if self._stop.is_set() or not self._connected:
                return
            if entry.message_id in flying or self._hold_until.get(entry.message_id, 0) > time.time():
                continue
            with self._lock:
                if len(self._inflight) >= self.cfg.outbox.max_inflight:
                    self._rescan = True
                    return
            try:
                msg = self.outbox.read(entry)
            except FileNotFoundError:
                continue  # delivered meanwhile by another roomnote process sharing the outbox
            except (OutboxCorruptError, EgressError) as e:
                log.error("%s", e)
                self.emit({"event": "error", "reason": "outbox_entry_refused", "message_id": entry.message_id})
                continue
            except OSError as e:  # unreadable (another owner, a directory): skip it, deliver the rest
                self._entry_unreadable(entry, e)
                continue
            self._unreadable.pop(entry.name, None)
            self._send(entry, msg)

    def _entry_unreadable(self, entry: Entry, e: OSError) -> None:
        """Named once per distinct error (the scan retries it every few seconds, silently)."""
        why = e.strerror or e.__class__.__name__
        if self._unreadable.get(entry.name) == why:
            return
        self._unreadable[entry.name] = why
        log.error("outbox entry %s cannot be read (%s); it is skipped and retried, the other messages are "
                  "delivered; give it to the user roomnote runs as (chown) or move it out of %s", entry.name, why,
                  self.outbox.dir)
        self.emit({"event": "error", "reason": "outbox_entry_unreadable", "message_id": entry.message_id})

    def _to_disk(self, msg: RedactedNote | Receipt) -> Entry | None:
        """A message held in memory (disk full): into the outbox if there is room again, else None."""
        try:
            entry = self.outbox.put(msg)
        except PublishError:
            return None
        with self._lock:
            if msg in self._held_in_memory:
                self._held_in_memory.remove(msg)
        log.info("outbox: %s written to disk after all", msg.message_id)
        return entry

    def _write_held_to_disk(self) -> None:
        """Messages kept in memory for a full disk go to the outbox as soon as there is room."""
        with self._lock:
            flying = {f.msg.message_id for f in self._inflight.values()}
            memory = [m for m in self._held_in_memory if m.message_id not in flying]
        for msg in memory:
            if self._to_disk(msg) is None:
                return
            self._rescan = True

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self._acks.put((client, mid, reason_code))  # handled on the network thread, outside paho's locks

    def _drain_acks(self) -> None:
        while True:
            try:
                client, mid, rc = self._acks.get_nowait()
            except queue.Empty:
                return
            if client is not self._client:
                continue  # an old connection's
            self._acked(mid, rc)  # events' and heartbeats' PUBACKs are no flight's: ignored there

    def _acked(self, mid: int, rc) -> None:
        with self._lock:
            flight = self._inflight.pop(mid, None)
        if flight is None:
            return
        msg = flight.msg
        if getattr(rc, "is_failure", False):
            with self._lock:
                self._hold_until[msg.message_id] = time.time() + self.cfg.mqtt.retry_max_s
            log.error("the broker refused %s on %s (%s); it stays in the outbox; check the broker's ACL for "
                      "device %s", msg.message_id, self.topics.base, rc, self.cfg.device.id)
            self._audit("publish_refused", message_id=msg.message_id, reason=str(rc).replace(" ", "_"))
            self.emit({"event": "error", "reason": "publish_refused", "message_id": msg.message_id})
            return
        with self._lock:
            self._hold_until.pop(msg.message_id, None)  # accepted after a refusal: forget the refusal
        if flight.entry is not None:
            self.outbox.remove(flight.entry)  # P7: only now does it leave the outbox
        else:
            with self._lock:
                if msg in self._held_in_memory:
                    self._held_in_memory.remove(msg)
            written = self.outbox.find(msg.message_id)  # reached the disk meanwhile
            if written:
                self.outbox.remove(written)
        self.delivered += 1
        if self.on_delivered:
            self.on_delivered(msg.message_id)
        if isinstance(msg, RedactedNote):
            self._audit("note_delivered", note_id=msg.note_id, version=msg.version)
            self.emit({"event": "delivered", "note_id": msg.note_id, "version": msg.version})
        else:
            self._audit("receipt_delivered", receipt_id=msg.receipt_id)

    # ---- the network thread -----------------------------------------------------------------

    def _net_loop(self) -> None:
        delay = self.cfg.mqtt.retry_min_s
        while not self._stop.is_set():
            try:
                client = self._connect()
            except PublishError as e:
                self._link_error(str(e))
                self._stop.wait(delay * (0.75 + random.random() / 2))
                delay = min(delay * 2, self.cfg.mqtt.retry_max_s)
                continue
            try:
                ok = self._run_connection(client)
            except Exception as e:  # noqa: BLE001 - e.g. the outbox directory vanished: reconnect and retry
                log.error("delivery stopped (%s); reconnecting", e.__class__.__name__, exc_info=not isinstance(
                    e, (OSError, RoomnoteError)))
                self._connected = False
                with self._lock:
                    self._inflight.clear()
                try:
                    client.disconnect()
                except Exception:  # noqa: BLE001 - the socket may be gone already
                    pass
                ok = False
            if ok:
                delay = self.cfg.mqtt.retry_min_s
            else:
                self._stop.wait(delay * (0.75 + random.random() / 2))
                delay = min(delay * 2, self.cfg.mqtt.retry_max_s)
        self._disconnect()

    def _connect(self) -> mqtt.Client:
        m = self.cfg.mqtt
        client = new_client(m, self.client_id)
        client.max_inflight_messages_set(self.cfg.outbox.max_inflight)
        client.max_queued_messages_set(0)
        client.will_set(self.topics.status, json.dumps({"state": "offline", "device_id": self.cfg.device.id}),
                        qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        self._conn_result: Any = None
        self._peer_alert: str | None = None
        self._client = client
        try:
            client.connect(m.host, m.port, keepalive=m.keepalive_s, clean_start=True)
        except Exception as e:  # noqa: BLE001 - every failure becomes one classified line
            raise explain_connect_error(e, m) from None
        return client

    def _run_connection(self, client: mqtt.Client) -> bool:
        """Serve one connection until it drops; True if it was accepted by the broker."""
        deadline = time.monotonic() + max(10.0, self.cfg.mqtt.keepalive_s)
        accepted = False
        while not self._stop.is_set():
            rc = client.loop(timeout=0.5)
            self._drain_acks()
            if self._conn_result is not None and not accepted:
                if getattr(self._conn_result, "is_failure", True):
                    self._link_error(str(explain_connack(self._conn_result, self.cfg.mqtt)))
                    break
                accepted = True
                self._on_accepted(client)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                break
            if not accepted and time.monotonic() > deadline:
                self._link_error(f"the broker at {self.cfg.mqtt.host}:{self.cfg.mqtt.port} did not answer the "
                                 "MQTT connect; check that mqtt.port is the broker's TLS listener")
                break
            if accepted:
                self._tick(client)
        if accepted or self._connected:
            self._connected = False
            with self._lock:
                self._inflight.clear()
            if not self._stop.is_set():
                log.warning("lost the connection to the broker; %d message(s) wait in the outbox", self._pending_count())
                self._audit("broker_disconnected", outbox=len(self.outbox))
        elif self._peer_alert:
            err = explain_peer_alert(self._peer_alert, self.cfg.mqtt)
            self._link_error(str(err) if err else "the broker closed the TLS connection right after the handshake: "
                             "it most likely rejected this device's certificate; check that the broker trusts the CA "
                             f"that signed {self.cfg.mqtt.cert_file} (the broker's log says)")
        elif not self._stop.is_set() and self._conn_result is None:
            self._link_error(f"the broker at {self.cfg.mqtt.host}:{self.cfg.mqtt.port} closed the connection "
                             "before accepting it; check the broker's log")
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - the socket may be gone already
            pass
        return accepted

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self._conn_result = reason_code

    def _on_log(self, client, userdata, level, buf):
        if level == mqtt.MQTT_LOG_ERR and ("alert" in buf.lower() or "violation of protocol" in buf):
            self._peer_alert = buf

    def _on_accepted(self, client: mqtt.Client) -> None:
        self._connected = True
        if self._last_error:
            log.info("connected to the broker at %s:%d again", self.cfg.mqtt.host, self.cfg.mqtt.port)
        else:
            log.info("connected to the broker at %s:%d (TLS, MQTT 5)", self.cfg.mqtt.host, self.cfg.mqtt.port)
        self._last_error = None
        self._audit("broker_connected", outbox=len(self.outbox))
        client.subscribe(self.topics.commands_filter, qos=1)
        self._publish_status(client)
        self._next_heartbeat = time.monotonic() + self.cfg.mqtt.heartbeat_s
        self._next_scan = 0.0
        self._rescan = True

    def _tick(self, client: mqtt.Client) -> None:
        while self._events:
            body = self._events.popleft()
            client.publish(self.topics.events, json.dumps(body), qos=1)
        now = time.monotonic()
        if self._rescan or now >= self._next_scan:
            self._next_scan = now + 2.0  # also picks up entries another roomnote process queued
            self._scan()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.cfg.mqtt.heartbeat_s
            self._publish_status(client)

    def _link_error(self, text: str) -> None:
        if text != self._last_error:  # one line per distinct problem, not one per retry
            log.error("%s", text)
            self._audit("broker_unreachable", outbox=len(self.outbox))
        self._last_error = text

    def _disconnect(self) -> None:
        client = self._client
        if client is not None and self._connected:
            client.publish(self.topics.status, json.dumps({"state": "offline", "device_id": self.cfg.device.id,
                                                           "ts": utc_now()}), qos=1, retain=True)
            client.loop(timeout=0.2)
            client.disconnect()
            client.loop(timeout=0.2)
        self._connected = False

    # ---- status heartbeat -------------------------------------------------------------------

    def status(self) -> dict:
        try:
            appliance = str(self._state())
        except Exception:  # noqa: BLE001 - a heartbeat never fails because of the appliance
            appliance = "unknown"
        return {"state": "online", "appliance": appliance, "device_id": self.cfg.device.id,
                "version": __version__, "uptime_s": round(time.monotonic() - self._started, 1),
                "models": self._models, "free_disk_mb": free_disk_mb(self.cfg.outbox.dir),
                "temperature_c": temperature_c(), "outbox": len(self.outbox), "held_sessions": len(self.sessions),
                "audit_head": self.audit.head, "ts": utc_now()}

    def _publish_status(self, client: mqtt.Client) -> None:
        body = self.status()
        check_egress(body)
        client.publish(self.topics.status, json.dumps(body), qos=1, retain=True)

    # ---- commands (worker thread) -----------------------------------------------------------

    def _on_message(self, client, userdata, message):
        name = self.topics.command_name(message.topic)
        if name is None:
            return
        try:
            self._commands.put_nowait((name, bytes(message.payload)))
        except queue.Full:
            self._reject(CommandRejected("failed", "too many commands waiting; try again", name if len(name) < 32 else ""))

    def _work_loop(self) -> None:
        next_sweep = 0.0
        next_refusals = time.monotonic() + REFUSALS_AUDIT_S
        while not self._stop.is_set():
            try:
                name, payload = self._commands.get(timeout=0.25)
            except queue.Empty:
                name = None
            if name is not None:
                self._handle(name, payload)
            if time.monotonic() >= next_refusals:
                next_refusals = time.monotonic() + REFUSALS_AUDIT_S
                self._report_refusals()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + 1.0
                try:
                    self._write_held_to_disk()
                    for note_id in self.sessions.expired():
                        self._destroy_session(note_id, "ttl_expired")
                except Exception as e:  # noqa: BLE001 - the sweep runs again in a second
                    log.error("time-to-live sweep failed (%s); retrying", e.__class__.__name__)

    def _handle(self, name: str, payload: bytes) -> None:
        try:
            cmd = self.commands.parse(name, payload)
            if not self._run_limit.allow(cmd.name):
                raise CommandRejected("rate_limited", f"more than {COMMANDS_BURST} {cmd.name} commands at once or "
                                      f"{COMMANDS_PER_S} a second; try again in a few seconds", cmd.name, cmd.id)
            self._run(cmd)
        except CommandRejected as e:
            self._reject(e)
        except Exception as e:  # noqa: BLE001 - a command never stops the service
            # one line, no traceback: a flood of one kind of bad input must not flood the journal
            log.error("command %s failed unexpectedly (%s)", command_kind(name), e.__class__.__name__)
            log.debug("command failure", exc_info=True)
            self._reject(CommandRejected("failed", f"internal error ({error_words(e)})", command_kind(name)))

    def _reject(self, e: CommandRejected) -> None:
        """The sender hears why at once (/events); the audit log gets the refusals coalesced
        (_report_refusals), so junk cannot grow it by an fsynced line per message."""
        with self._lock:
            self._refused[e.reason] = self._refused.get(e.reason, 0) + 1
            if not self._answer_limit.allow(e.command or "unknown"):
                self._unanswered += 1  # past the limit: counted in the next coalesced entry only
                return
        self.emit({"event": "command_rejected", "command": e.command, "id": e.cmd_id, "reason": e.reason,
                   "detail": e.detail}, audit=False)

    def _report_refusals(self) -> None:
        """One audit entry (and one event) for every command refused or rate-limited since the last."""
        with self._lock:
            refused, unanswered = self._refused, self._unanswered
            self._refused, self._unanswered = {}, 0
        if not refused:
            return
        counts = {f"refused_{k}": v for k, v in refused.items()}
        self._audit("commands_refused", unanswered=unanswered, **counts)
        if unanswered:
            log.warning("%d command(s) refused (%s); %d of them past the answer limit, counted only",
                        sum(refused.values()), ", ".join(f"{k} {v}" for k, v in sorted(refused.items())), unanswered)
            self.emit({"event": "commands_refused", "unanswered": unanswered, **counts}, audit=False)

    def _run(self, cmd: Command) -> None:
        a = cmd.args
        if cmd.name == "ping":
            self.emit({"event": "pong", "id": cmd.id, "outbox": len(self.outbox)})
        elif cmd.name == "consent":
            if self.on_consent is None:
                raise CommandRejected("out_of_order", "no appliance is running to take consent", cmd.name, cmd.id)
            try:
                self.on_consent(a["session_ref"])
            except RoomnoteError as e:
                raise CommandRejected("out_of_order", f"the appliance refused consent ({error_words(e)})",
                                      cmd.name, cmd.id) from None
            self.emit({"event": "consent_recorded", "id": cmd.id})
        elif cmd.name == "revise":
            self._revise(cmd)
        elif cmd.name == "finalize":
            held = self.sessions.get(a["note_id"])
            if held is None:
                raise CommandRejected("out_of_order", "note not held: unknown, already finalized, discarded or expired",
                                      cmd.name, cmd.id)
            receipt = self._destroy_session(a["note_id"], "finalized")
            self.emit({"event": "finalized", "id": cmd.id, "note_id": a["note_id"], "receipt_id": receipt.receipt_id})
        elif cmd.name == "discard":
            self._discard(cmd)

    def _revise(self, cmd: Command) -> None:
        note_id = cmd.args["note_id"]
        held = self.sessions.get(note_id)
        if held is None:
            raise CommandRejected("out_of_order", "note not held: unknown, already finalized, discarded or expired",
                                  cmd.name, cmd.id)
        if self.reviser is None:
            raise CommandRejected("failed", "this box cannot revise notes", cmd.name, cmd.id)
        try:
            new = self.reviser(self.sessions.transcript(note_id), held.note, cmd.args["instruction"])
        except RoomnoteError as e:
            raise CommandRejected("failed", f"the instruction could not be applied ({error_words(e)})",
                                  cmd.name, cmd.id) from None
        if new.note_id != note_id or new.version <= held.note.version:
            raise CommandRejected("failed", "the reviser returned a note with another id or no new version",
                                  cmd.name, cmd.id)
        try:
            msg = RedactedNote.from_note(new)
        except EgressError as e:
            raise CommandRejected("failed", f"egress check refused the revision ({', '.join(e.counts)})",
                                  cmd.name, cmd.id) from None
        self.sessions.update(new, msg.sha256)
        self._audit("note_revised", note_id=note_id, version=new.version)
        self._enqueue(msg)
        self.emit({"event": "revised", "id": cmd.id, "note_id": note_id, "version": new.version})

    def _discard(self, cmd: Command) -> None:
        note_id = cmd.args.get("note_id")
        if note_id:
            held = self.sessions.get(note_id)
            dropped = self.outbox.remove_note(note_id)
            if held is None and not dropped:
                raise CommandRejected("out_of_order", "note not held and not queued", cmd.name, cmd.id)
            receipt = self._destroy_session(note_id, "discarded", extra=["unsent_note_versions"] if dropped else [])
            self.emit({"event": "discarded", "id": cmd.id, "note_id": note_id, "unsent_dropped": dropped,
                       "receipt_id": receipt.receipt_id if receipt else None})
            return
        if self.on_discard is None:
            raise CommandRejected("out_of_order", "no session is being recorded", cmd.name, cmd.id)
        try:
            self.on_discard(cmd.args.get("session_ref"))
        except RoomnoteError as e:
            raise CommandRejected("out_of_order", f"the appliance refused the discard ({error_words(e)})",
                                  cmd.name, cmd.id) from None
        self.emit({"event": "discarded", "id": cmd.id})

    # ---- destruction and receipts (P5) ------------------------------------------------------

    def _destroy_session(self, note_id: str, action: str, extra: list[str] | None = None) -> Receipt | None:
        held = self.sessions.destroy(note_id)
        if held is None and not extra:
            return None
        version = held.note.version if held else 0
        sha = held.note_sha256 if held else ""
        session_id = held.note.facts.session_id if held else ""
        return self._destroyed(note_id, version, sha, session_id, action, extra or [])

    def _destroyed(self, note_id: str, version: int, sha: str, session_id: str, action: str,
                   extra: list[str] | None = None) -> Receipt:
        receipt = make_receipt(self._signing, office=self.cfg.device.office, device=self.cfg.device.id,
                               note_id=note_id, note_version=version, note_sha256=sha, session_id=session_id,
                               action=action, destroyed=DESTROYED + (extra or []))
        self._audit("transcript_destroyed", note_id=note_id, version=version, action=action,
                    receipt_id=receipt.receipt_id)
        self._enqueue(receipt)
        return receipt


__all__ = ["PublishingService", "Reviser"]
