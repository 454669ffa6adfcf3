"""`roomnote run` with a practice network: the appliance hands its notes to the publishing
service, and the service's commands reach the appliance.

    svc = open_publisher(cfg, state=lambda: appliance.state)  # settings problems: one line, before READY=1
    appliance = Appliance(cfg, engines, svc, emit=events_to(svc))
    connect(svc, appliance, engines)   # consent, discard, revise
    svc.start(); appliance.run(); svc.stop()

The service's callbacks run on its command thread, so they only post to the appliance's
event queue (`give_consent`; `discard` also waits briefly for the control thread's answer,
so the practice system hears whether anything was discarded).
"""
from __future__ import annotations

from typing import Callable

from ..config import Config
from ..errors import PublishError
from ..sinks import log_event
from .client import check_client_certificate, tls_context
from .service import PublishingService


def open_publisher(cfg: Config, state: Callable[[], str]) -> PublishingService:
    """The service, its keys, outbox, session store and audit log opened, and the TLS files
    loaded: a missing key, an unreadable certificate or a bad path raises a one-line
    RoomnoteError here, before the models load and before systemd hears READY=1."""
    try:
        check_client_certificate(cfg.mqtt)
        tls_context(cfg.mqtt)  # the key belongs to the certificate, the CA file is a CA
    except PublishError as e:
        raise PublishError(f"{e} (a box without a practice network: set mqtt.enabled = false)") from None
    from ..notes.revise import revise_note

    return PublishingService(cfg, reviser=revise_note, state=state)  # state: the heartbeat's "appliance"


def events_to(svc: PublishingService) -> Callable[[dict], None]:
    """The appliance's content-free events: to the log as before, and to MQTT /events.

    The service adds the device id and the time itself; the appliance's `reason` is a
    sentence of its own (never session words), so it travels as the event's free-text
    `detail`, which the egress check sees (P2). The appliance's "delivered" (the note is in
    the outbox) goes out as "queued": on /events "delivered" is the broker's acknowledgement."""
    def emit(event: dict) -> None:
        log_event(event)
        wire = {k: v for k, v in event.items() if k not in ("device", "at", "reason")}
        if wire.get("event") == "delivered":
            wire["event"] = "queued"
        if event.get("reason"):
            wire["detail"] = str(event["reason"])
        svc.emit(wire)

    return emit


def connect(svc: PublishingService, appliance, engines) -> None:
    """The service's commands to the appliance; revisions with the box's own encoder."""
    from ..notes.revise import set_shared_encoder

    set_shared_encoder(engines.encoder)  # revisions judge sentences as the first version did
    svc.on_consent = appliance.give_consent
    svc.on_discard = appliance.discard
