"""The appliance: `roomnote run`. One control thread, one event queue, one state machine.

    idle -> armed (consent) -> recording -> processing -> publishing -> idle, and error

The button, the microphone, the session's recogniser, the note hand-off and the signal
handlers never change state themselves: they post an event, and the control thread (the
only one that touches the state, the LED and the microphone's life) handles it. The
control loop also pings systemd's watchdog, so a stuck loop gets the service restarted.

Interfaces for what plugs in later:
- `sink.put(note, rt)`: where finished notes go (`NoteSink`; default: a directory).
- `emit(event)`: content-free events (a dict; default: the log).
- `Appliance.give_consent(session_ref)` / `withdraw_consent(session_ref)`: consent from the
  practice system (`consent.mode = "external"`), thread-safe.
- `Appliance.discard(session_ref=None)`: the practice system's `discard` of a session that
  is not a note yet (publish/appliance_link.py); finished notes are discarded by note id
  in the publishing service.
"""
from __future__ import annotations

import logging
import math
import os
import queue
import re
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from .audio.mic import MicSource
from .config import Config
from .errors import AudioError, RoomnoteError
from .hardware.panel import LongPress, Press, open_panel
from .notes import Note
from .pipeline import Engines
from .sdnotify import Notifier, watchdog_interval
from .session import ConsentRecord, NoteReady, Session, SessionFailed
from .sinks import log_event
from .transcript import RedactedTranscript

log = logging.getLogger("roomnote.appliance")

STATES = ("idle", "armed", "recording", "processing", "publishing", "error")
LED_FOR_STATE = {"idle": "off", "armed": "armed", "recording": "on", "processing": "processing",
                 "publishing": "processing", "error": "error"}
SESSION_REF = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would accept a trailing newline
TICK_S = 0.1  # timers (arming, maximum length) are checked this often


class NoteSink(Protocol):
    """Takes a finished, redacted note; returns once the note is safe (raises if it is not)."""

    def put(self, note: Note, rt: RedactedTranscript) -> None: ...


Emit = Callable[[dict], None]


class ConsentError(RoomnoteError):
    pass


class NothingToDiscard(ConsentError):
    """No session being recorded or processed, and no consent waiting, for that reference."""


class NoteAlreadyFinished(ConsentError):
    """The session is a note already (being queued): discard it by its note id."""


# Events: posted by workers (Press and LongPress by the button), handled on the control thread.
@dataclass(frozen=True)
class ConsentGiven:
    ref: str
    at: datetime


@dataclass(frozen=True)
class ConsentWithdrawn:
    ref: str


@dataclass(frozen=True)
class DiscardRequest:
    ref: str | None  # None: whatever is being recorded or processed now
    answer: queue.SimpleQueue  # the control thread puts what it dropped, or the refusal


@dataclass(frozen=True)
class MicLost:
    session_id: str
    reason: str


@dataclass(frozen=True)
class MicClosed:
    session_id: str


@dataclass(frozen=True)
class Delivered:
    session_id: str
    note_id: str


@dataclass(frozen=True)
class DeliveryFailed:
    session_id: str
    reason: str


@dataclass(frozen=True)
class Shutdown:
    why: str


class Appliance:
    def __init__(self, cfg: Config, engines: Engines, sink: NoteSink, *, emit: Emit = log_event,
                 notifier: Notifier | None = None, pin_factory=None,
                 microphone: Callable[..., MicSource] = MicSource):
        self.cfg, self.engines, self.sink, self.emit = cfg, engines, sink, emit
        self.notifier = notifier or Notifier()
        self.make_mic = microphone
        self.events: queue.SimpleQueue = queue.SimpleQueue()  # put() is safe from signal handlers
        self.state, self.reason = "idle", ""
        self.session: Session | None = None
        self.mic: MicSource | None = None  # open, or still closing
        self.consent: ConsentRecord | None = None  # consent waiting for a start press
        self.consent_until = 0.0
        self.warn_at = self.stop_at = math.inf
        self.warned = False
        self.stop_pressed_at = 0.0
        self.after_error = ""  # a device loss: shown once the session's note is delivered
        self.undelivered: tuple[str, Note, RedactedTranscript] | None = None
        self.exit_when_done = self.done = False
        self.button, self.light = open_panel(cfg.hardware, self.press, self.long_press, pin_factory)

    # -- the thread-safe interface: everything here only posts an event ----------------------

    def post(self, event) -> None:
        self.events.put(event)

    def press(self) -> None:
        self.post(Press())

    def long_press(self) -> None:
        self.post(LongPress())

    def give_consent(self, session_ref: str) -> None:
        """The practice system's consent for the next session (`consent.mode = external`).

        `session_ref` is the practice system's id for the session (letters, digits, - and _,
        at most 64): it is recorded in the note and in events, so it must not identify the
        client. The box arms; the next press starts recording.
        """
        self.post(ConsentGiven(_check_ref(session_ref), datetime.now(timezone.utc)))

    def withdraw_consent(self, session_ref: str) -> None:
        """The practice system withdrew consent: disarm, or drop that session at once (P4)."""
        self.post(ConsentWithdrawn(_check_ref(session_ref)))

    def discard(self, session_ref: str | None = None, timeout: float = 5.0) -> str:
        """The practice system's discard (MQTT `discard` without a note id), thread-safe.

        The session being recorded or processed (with that reference, or any when None) is
        dropped at once (P4); else consent waiting for that session is cancelled. Returns
        "session" or "consent"; raises NothingToDiscard, or NoteAlreadyFinished while the
        note is being queued (the practice system then discards it by its note id).
        """
        ref = _check_ref(session_ref) if session_ref is not None else None
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self.post(DiscardRequest(ref, answer))
        try:
            outcome = answer.get(timeout=timeout)
        except queue.Empty:
            raise ConsentError("the appliance did not answer the discard in time") from None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def request_shutdown(self, why: str = "shutdown") -> None:
        self.post(Shutdown(why))

    def install_signal_handlers(self) -> None:
        """SIGTERM (systemctl stop) and SIGINT finish a recording's note, then exit."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self.request_shutdown(signal.Signals(signum).name))

    # -- the control thread ------------------------------------------------------------------

    def run(self) -> None:
        """The control loop; returns after a shutdown request, once any note is handed on."""
        every = watchdog_interval()
        pinged = 0.0
        self._enter("idle")
        self.notifier.ready(self.status())
        try:
            while not self.done:
                try:
                    self._handle(self.events.get(timeout=TICK_S))
                except queue.Empty:
                    pass
                self._timers(time.monotonic())
                if every and time.monotonic() - pinged >= every:
                    self.notifier.watchdog()
                    pinged = time.monotonic()
        finally:
            self._close()

    def _handle(self, ev) -> None:
        match ev:
            case Press():
                self._on_press()
            case LongPress():
                self._on_long_press()
            case ConsentGiven():
                self._on_consent(ev)
            case ConsentWithdrawn():
                self._on_consent_withdrawn(ev.ref)
            case DiscardRequest():
                ev.answer.put(self._on_discard_request(ev.ref))
            case MicLost() if self._current(ev.session_id) and self.state == "recording":
                self.after_error = f"microphone lost ({ev.reason})"
                self._stop("device_lost")
            case MicClosed():
                self._mic_closed()
            case NoteReady() if self._current(ev.session_id):
                self._publish(ev.session_id, ev.note, ev.rt)
            case SessionFailed() if self._current(ev.session_id):
                self._close_mic()  # failed while recording: nothing takes the audio any more
                self.session = None
                self.warn_at = self.stop_at = math.inf
                self._fail(ev.reason)
            case Delivered() if self._current(ev.session_id):
                self._delivered(ev)
            case DeliveryFailed() if self._current(ev.session_id):
                self.session = None
                self._fail(ev.reason)
            case Shutdown():
                self._on_shutdown(ev.why)
            case _:
                log.debug("stale event", extra={"EVENT": type(ev).__name__})

    def _current(self, session_id: str) -> bool:
        return self.session is not None and self.session.id == session_id

    # -- presses and consent -----------------------------------------------------------------

    def _on_press(self) -> None:
        if self.state in ("idle", "error"):
            if self.undelivered is not None:  # the last note could not be handed on: try again
                self._publish(*self.undelivered)
            elif self.consent is not None:  # still valid (e.g. the microphone failed to open)
                self._start()
            elif self.cfg.consent.mode == "clinician":
                self._arm(ConsentRecord("clinician", datetime.now(timezone.utc)), self.cfg.consent.arm_timeout_s)
            else:
                self._refuse("no consent for this session from the practice system")
        elif self.state == "armed":
            self._start()
        elif self.state == "recording":
            self._stop("button")
        else:  # processing, publishing: nothing to do; say the press was seen
            self.light.show("ack")
            log.info("press ignored", extra={"STATE": self.state})

    def _on_long_press(self) -> None:
        if self.state in ("recording", "processing"):
            self._discard("withdrawn at the box")
        elif self.state == "armed":
            self.consent = None
            log.info("consent cancelled", extra={"STATE": self.state})
            self._enter("idle")
        elif self.state == "publishing":
            self.light.show("ack")  # the note is already being handed on

    def _arm(self, consent: ConsentRecord, valid_s: float) -> None:
        self.consent, self.consent_until = consent, time.monotonic() + valid_s
        self._enter("armed")

    def _on_consent(self, ev: ConsentGiven) -> None:
        self.emit(self._event("consent", ref=ev.ref))
        consent = ConsentRecord("external", ev.at, ev.ref)
        if self.state in ("idle", "error", "armed"):
            self._arm(consent, self.cfg.consent.valid_s)
        else:  # for the next session, once this one is done
            self.consent, self.consent_until = consent, time.monotonic() + self.cfg.consent.valid_s

    def _on_consent_withdrawn(self, ref: str) -> None:
        if self.consent is not None and self.consent.ref == ref:
            self.consent = None
            if self.state == "armed":
                self._enter("idle")
        if self.state in ("recording", "processing") and self.session.consent.ref == ref:
            self._discard("withdrawn in the practice system")

    def _on_discard_request(self, ref: str | None) -> str | Exception:
        def matches(consent: ConsentRecord | None) -> bool:
            return ref is None or (consent is not None and consent.ref == ref)

        if self.state in ("recording", "processing") and matches(self.session.consent):
            self._discard("withdrawn in the practice system")
            return "session"
        if self.state == "publishing" and matches(self.session.consent):
            return NoteAlreadyFinished("the session is a note already; discard it by its note id")
        if self.consent is not None and matches(self.consent):
            self.consent = None
            log.info("consent cancelled", extra={"STATE": self.state})
            if self.state == "armed":
                self._enter("idle")
            return "consent"
        return NothingToDiscard("no session is being recorded for that reference")

    def _refuse(self, reason: str) -> None:
        log.warning("press refused", extra={"REASON": reason})
        self.emit(self._event("refused", reason=reason))
        self.light.show("refused")

    # -- recording ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self.mic is not None:  # the last stream has not closed (a hung device): never two at once (P3)
            self._refuse("the microphone of the last session has not closed yet; unplug it and plug it in again")
            return
        consent = self.consent
        session = Session(self.engines, self.cfg, consent, self.post)
        sid = session.id
        mic = self.make_mic(self.cfg.microphone, on_audio=session.feed,
                            on_lost=lambda reason: self.post(MicLost(sid, reason)),
                            on_closed=lambda: self.post(MicClosed(sid)))
        self.light.microphone_opening()  # P3: lit before the stream opens
        try:
            mic.open()
        except AudioError as e:
            self.light.microphone_closed()  # nothing was opened
            self._fail(str(e))  # consent stays: the next press tries the microphone again
            return
        self.consent = None  # used by this session
        self.session, self.mic = session, mic
        session.start(mic.rate, mic.channels)
        limit = self.cfg.session.max_minutes * 60
        self.stop_at = session.t0 + limit
        warn = self.cfg.session.warn_minutes * 60
        self.warn_at = self.stop_at - warn if 0 < warn < limit else math.inf
        self.warned, self.after_error = False, ""
        self.emit(self._event("started", session=sid, consent=consent.mode, ref=consent.ref or None,
                              device_name=mic.device, rate=mic.rate))
        self._enter("recording")

    def _close_mic(self) -> None:
        """Close the stream; the LED goes dark only once it has closed (P3)."""
        if self.mic is None:
            return
        if self.mic.close():
            self._mic_closed()
        else:
            log.error("microphone did not close; the LED stays lit until it does",
                      extra={"SESSION_ID": self.session.id if self.session else "-"})

    def _mic_closed(self) -> None:
        if self.mic is not None and self.mic.closed.is_set():
            self.mic = None
            self.light.microphone_closed()

    def _stop(self, reason: str) -> None:
        session, mic = self.session, self.mic
        self._close_mic()
        session.finish()
        self.stop_pressed_at = time.monotonic()
        self.warn_at = self.stop_at = math.inf
        log.info("recording stopped", extra={"SESSION_ID": session.id, "REASON": reason,
                                             "DURATION_S": round(session.elapsed, 1), "OVERFLOWS": mic.overflows})
        self.emit(self._event("stopped", session=session.id, reason=reason,
                              duration_s=round(session.elapsed, 1), overflows=mic.overflows))
        self._enter("processing")

    def _discard(self, reason: str) -> None:
        """A withdrawal: close the microphone, drop everything of the session, emit only "discarded"."""
        session = self.session
        if self.state == "recording":
            self._close_mic()
        session.discard()
        self.session = None
        self.warn_at = self.stop_at = math.inf
        self.after_error = ""
        log.info("session discarded", extra={"SESSION_ID": session.id, "REASON": reason})
        self.emit(self._event("discarded", session=session.id, reason=reason))
        self._settle()

    # -- the note ----------------------------------------------------------------------------

    def _publish(self, session_id: str, note: Note, rt: RedactedTranscript) -> None:
        self.undelivered = (session_id, note, rt)
        if self.session is None:  # a retry after a failed hand-off
            self.session = _Delivery(session_id)
        self._enter("publishing")

        def work() -> None:
            try:
                self.sink.put(note, rt)
            except Exception as e:
                reason = str(e) if isinstance(e, RoomnoteError) else f"note hand-off failed ({e.__class__.__name__})"
                self.post(DeliveryFailed(session_id, reason))
            else:
                self.post(Delivered(session_id, note.note_id))

        threading.Thread(target=work, name=f"publish-{session_id}", daemon=True).start()

    def _delivered(self, ev: Delivered) -> None:
        self.undelivered, self.session = None, None
        after_stop = round(time.monotonic() - self.stop_pressed_at, 2) if self.stop_pressed_at else None
        log.info("note delivered", extra={"SESSION_ID": ev.session_id, "NOTE_ID": ev.note_id,
                                          "AFTER_STOP_S": after_stop})
        self.emit(self._event("delivered", session=ev.session_id, note=ev.note_id, after_stop_s=after_stop))
        self.stop_pressed_at = 0.0
        if self.after_error:
            self._fail(self.after_error)
            self.after_error = ""
        else:
            self._settle(led="delivered")

    # -- errors, timers, shutdown ------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        log.error("error", extra={"REASON": reason, "STATE": self.state})
        self.emit(self._event("error", reason=reason))
        self._enter("error", reason)
        if self.exit_when_done:
            self.done = True

    def _settle(self, led: str | None = None) -> None:
        """After a session: armed if consent for the next one is waiting, else idle."""
        if self.consent is not None and time.monotonic() < self.consent_until:
            self._enter("armed")
        else:
            self.consent = None
            self._enter("idle", led=led)
        if self.exit_when_done:
            self.done = True

    def _timers(self, now: float) -> None:
        if self.consent is not None and now >= self.consent_until and self.state != "recording":
            log.info("consent lapsed", extra={"MODE": self.consent.mode})
            self.emit(self._event("consent_lapsed", ref=self.consent.ref or None))
            self.consent = None
            if self.state == "armed":
                self._enter("idle")
        if self.state == "recording":
            if now >= self.stop_at:
                self._stop("max_length")
            elif now >= self.warn_at and not self.warned:
                self.warned = True
                minutes = round((self.stop_at - now) / 60, 1)
                log.info("maximum length near", extra={"SESSION_ID": self.session.id, "STOPS_IN_MIN": minutes})
                self.emit(self._event("warning", session=self.session.id, stops_in_min=minutes))
                self.light.show("warning")
                self.notifier.status(self.status())

    def _on_shutdown(self, why: str) -> None:
        log.info("shutting down", extra={"REASON": why, "STATE": self.state})
        self.exit_when_done = True
        if self.state == "recording":
            self._stop("shutdown")
        elif self.state not in ("processing", "publishing"):
            self.done = True

    def _close(self) -> None:
        if isinstance(self.session, Session) and self.state != "publishing":
            self.session.discard(timeout=5)  # an exit that did not wait for the note
        self._close_mic()
        self.button.close()
        if self.mic is None:  # never darken the LED of a microphone that may be open (P3)
            self.light.close()
        self.notifier.stopping("stopping")

    # -- state, status and events ------------------------------------------------------------

    def _enter(self, state: str, reason: str = "", led: str | None = None) -> None:
        self.light.show(led or LED_FOR_STATE[state])  # first: whoever sees the new state sees its LED
        previous, self.state, self.reason = self.state, state, reason
        sid = self.session.id if self.session is not None else None
        log.info("state %s", state, extra={"STATE": state, "PREVIOUS": previous, "SESSION_ID": sid or "-"})
        self.notifier.status(self.status())
        self.emit(self._event("state", state=state, session=sid, reason=reason or None))

    def status(self) -> str:
        """One line for `systemctl status`: the state and what it is about."""
        s, sid = self.state, self.session.id if self.session is not None else ""
        if s == "idle":
            then = "arm, then press again to record" if self.cfg.consent.mode == "clinician" else "record once consent arrives"
            return f"idle: ready ({self.engines.transcriber.name}); press to {then}"
        if s == "armed":
            return f"armed: consent {self.consent.describe()}; press to record" if self.consent else "armed"
        if s == "recording":
            left = f", stops in {max(0, (self.stop_at - time.monotonic()) / 60):.0f} min" if self.warned else ""
            return f"recording: session {sid}{left}"
        if s == "processing":
            return f"processing: making the note of session {sid}"
        if s == "publishing":
            return f"publishing: handing on the note of session {sid}"
        return f"error: {self.reason}"

    def _event(self, kind: str, **fields) -> dict:
        ev = {"event": kind, "device": self.cfg.device.id, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        ev.update((k, v) for k, v in fields.items() if v is not None)
        return ev


@dataclass
class _Delivery:
    """Stands for a session whose note is being handed on again after a failure."""

    id: str
    consent: ConsentRecord | None = None


def _check_ref(ref: str) -> str:
    if not isinstance(ref, str) or not SESSION_REF.match(ref):
        raise ConsentError(f"session reference {ref!r} is not valid: use 1 to 64 letters, digits, '-' or '_' "
                           "(the practice system's id for the session, nothing that names the client)")
    return ref


def state_directory(given: str | Path | None) -> Path:
    """--state-dir, else systemd's $STATE_DIRECTORY, else /var/lib/roomnote."""
    if given:
        return Path(given)
    env = os.environ.get("STATE_DIRECTORY", "")
    return Path(env.split(":")[0]) if env else Path("/var/lib/roomnote")


def run_daemon(config_path: Path | None, state_dir: Path | None) -> int:
    """`roomnote run`: check the settings, load and verify the models (P6), tell systemd we
    are ready, serve. Notes go to the practice's broker through the publishing service
    (mqtt.enabled, the default), else into <state directory>/notes."""
    from .config import load_config
    from .pipeline import load_engines
    from .sdnotify import setup_logging

    where = setup_logging()
    notifier = Notifier()
    appliance: Appliance | None = None
    publisher = None
    try:
        cfg = load_config(config_path)
        if cfg.mqtt.enabled:  # keys, outbox, TLS files: one line each, before READY=1
            from .publish.appliance_link import open_publisher
            publisher = open_publisher(cfg, state=lambda: appliance.state if appliance else "starting")
        else:
            notes = _notes_directory(state_dir)
        notifier.status("loading and verifying models")
        engines = load_engines(cfg)
    except RoomnoteError as e:
        notifier.status(f"error: {e}")
        raise
    log.info("starting", extra={"LOG": where, "ENGINE": engines.transcriber.name, "CONSENT": cfg.consent.mode,
                                "PUBLISH": "mqtt" if publisher else "directory"})
    try:
        if publisher is None:
            from .sinks import NoteDirectory
            appliance = Appliance(cfg, engines, NoteDirectory(notes), notifier=notifier)
        else:
            from .publish.appliance_link import connect, events_to
            appliance = Appliance(cfg, engines, publisher, emit=events_to(publisher), notifier=notifier)
            connect(publisher, appliance, engines)
            publisher.start()
        appliance.install_signal_handlers()
        appliance.run()  # returns once a recording's note is in the outbox (SIGTERM)
    except RoomnoteError as e:
        notifier.status(f"error: {e}")
        raise
    finally:
        if publisher is not None:
            publisher.stop()  # held transcripts destroyed, receipts sent if the broker is there
        engines.close()
    log.info("stopped")
    return 0


def _notes_directory(state_dir: Path | None) -> Path:
    notes = state_directory(state_dir) / "notes"
    try:
        notes.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise RoomnoteError(f"{notes}: cannot create the notes directory ({e.strerror}); "
                            "check the state directory (--state-dir or StateDirectory=)") from None
    if not os.access(notes, os.W_OK):
        raise RoomnoteError(f"{notes}: not writable; check the state directory's owner")
    return notes
