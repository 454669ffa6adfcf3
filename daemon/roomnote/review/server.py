"""`roomnote review`: the inbox (MQTT) and the review page (uvicorn) in one process."""
from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from pathlib import Path

from ..config import Config
from ..errors import RoomnoteError
from .security import ReviewError, check_bind

log = logging.getLogger("roomnote.review")
RECONNECT_S = 5.0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise ReviewError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port, or stop "
                          "what uses it") from None
    sock.listen(64)
    return sock


def _inbox_thread(inbox, stop: threading.Event) -> threading.Thread:
    """Connect (retrying while the broker is away: the page still shows what is stored) and run."""

    def run():
        last = ""
        while not stop.is_set():
            try:
                inbox.connect()
                break
            except RoomnoteError as e:
                if str(e) != last:
                    log.error("inbox: %s; retrying every %.0f s", e, RECONNECT_S)
                    last = str(e)
                stop.wait(RECONNECT_S)
        if not stop.is_set():
            inbox.loop_forever(stop)

    t = threading.Thread(target=run, name="review-inbox", daemon=True)
    t.start()
    return t


def _server_class(uvicorn):
    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises SIGTERM after its shutdown, which would end the process before the
            # inbox is stopped; run_review sets handle_exit as the handler itself instead
            yield

    return Server


def run_review(cfg: Config, host: str, port: int) -> None:
    try:
        import uvicorn

        from .app import ReviewApp
    except ImportError as e:
        raise ReviewError(f"the review page needs its web stack ({e.name} is missing); install it with "
                          "pip install 'roomnote[review]'") from None
    from ..publish.inbox import Inbox, send_command
    from .store import Store

    rc = cfg.review
    check_bind(rc, host)
    tls = bool(rc.tls_cert and rc.tls_key)
    store = Store(Path(rc.inbox), Path(rc.device_keys) if rc.device_keys else None)
    sign_key = None
    if rc.sign_key:
        from ..publish.keys import load_signing_key
        # loaded once: a bad key is one line now, not at the first click, and no file read per command
        sign_key = load_signing_key(Path(rc.sign_key).expanduser())

    def sender(device: str, name: str, fields: dict):
        return send_command(cfg, device, name, fields, sign_key=sign_key, wait_s=rc.answer_wait_s)

    app = ReviewApp(cfg, store, sender, tls=tls)
    # not `inbox listen`'s client id: both may run on one workstation, each with its own session
    client_id = f"roomnote-review-{cfg.device.office}-{socket.gethostname()}"[:64]
    inbox = Inbox(cfg, store.dir, on_note=app.note_arrived, on_receipt=app.receipt_arrived, client_id=client_id,
                  on_status=app.status_arrived, device_keys=store.device_keys)  # receipts verified before stored
    app.broker_connected = lambda: inbox.connected
    sock = _listen(host, port)
    stop = threading.Event()
    thread = _inbox_thread(inbox, stop)
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    log.info("review page on %s://%s:%d/ (%s); notes of office %s in %s", scheme, shown, sock.getsockname()[1],
             "login required" if rc.password_hash else "this computer only, no login", cfg.device.office, store.dir)
    _Server = _server_class(uvicorn)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", server_header=False,
                            ssl_certfile=rc.tls_cert and str(Path(rc.tls_cert).expanduser()) or None,
                            ssl_keyfile=rc.tls_key and str(Path(rc.tls_key).expanduser()) or None,
                            timeout_graceful_shutdown=2)
    server = _Server(config)
    app.stopping = lambda: server.should_exit
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        thread.join(5)
        sock.close()
    log.info("review page stopped; inbox received %d note(s), dropped %d duplicate(s)", inbox.received,
             inbox.duplicates)
