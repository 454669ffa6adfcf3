"""Subcommands for publishing: publisher, outbox, keys, inbox, verify-receipt, audit verify,
and `process --publish`. Registered by roomnote.cli."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from pathlib import Path

from ..config import load_config
from ..errors import PublishError, RoomnoteError

log = logging.getLogger("roomnote")
CONFIG_HELP = "TOML configuration file (on a box: /etc/roomnote/roomnote.toml; on a workstation: its workstation.toml)"


def add_process_arguments(pr: argparse.ArgumentParser) -> None:
    pr.add_argument("--publish", action="store_true",
                    help="queue the note in the encrypted outbox and deliver it to the broker (not to --out)")
    pr.add_argument("--serve", action="store_true",
                    help="with --publish: keep running for revise/finalize/discard until the note is finalized, "
                         "discarded or expires")
    pr.add_argument("--wait", type=float, default=30.0, metavar="S",
                    help="with --publish: seconds to wait for the broker's acknowledgement (default 30)")


def add_commands(sub) -> None:
    p = sub.add_parser("publisher", help="deliver the outbox and answer commands until stopped (SIGTERM)")
    p.add_argument("--config", type=Path, help=CONFIG_HELP)
    p.set_defaults(func=cmd_publisher)

    o = sub.add_parser("outbox", help="the encrypted outbox")
    osub = o.add_subparsers(required=True, metavar="ACTION")
    a = osub.add_parser("list", help="list queued messages (ids only; nothing is decrypted)")
    a.add_argument("--config", type=Path, help=CONFIG_HELP)
    a.set_defaults(func=cmd_outbox_list)
    a = osub.add_parser("send", help="deliver everything queued, then exit")
    a.add_argument("--config", type=Path, help=CONFIG_HELP)
    a.add_argument("--wait", type=float, default=60.0, metavar="S", help="give up after S seconds (default 60)")
    a.set_defaults(func=cmd_outbox_send)

    k = sub.add_parser("keys", help="provisioning keys")
    ksub = k.add_subparsers(required=True, metavar="ACTION")
    a = ksub.add_parser("init", help="create this box's outbox key and receipt signing key (if missing)")
    a.add_argument("--config", type=Path, help=CONFIG_HELP)
    a.set_defaults(func=cmd_keys_init)
    a = ksub.add_parser("practice", help="create an Ed25519 key pair for signing commands (practice system)")
    a.add_argument("file", type=Path, help="private key file to create; the public key goes to FILE.pub.pem")
    a.set_defaults(func=cmd_keys_practice)

    v = sub.add_parser("verify-receipt", help="check a deletion receipt's signature")
    v.add_argument("file", type=Path, help="the receipt (receipts/<receipt id>.json in the inbox)")
    v.add_argument("--key", type=Path, required=True, help="the device's public key (PEM, from `roomnote keys init`)")
    v.set_defaults(func=cmd_verify_receipt)

    au = sub.add_parser("audit", help="the box's audit log")
    ausub = au.add_subparsers(required=True, metavar="ACTION")
    a = ausub.add_parser("verify", help="check the audit log's hash chain")
    a.add_argument("--config", type=Path, help=CONFIG_HELP)
    a.add_argument("--file", type=Path, help="an audit log file (default: audit.file of the config)")
    a.set_defaults(func=cmd_audit_verify)

    i = sub.add_parser("inbox", help="the therapist's workstation: receive notes, send revise/finalize")
    isub = i.add_subparsers(required=True, metavar="ACTION")
    a = isub.add_parser("listen", help="write every received note into a folder until stopped")
    a.add_argument("--config", type=Path, help="TOML with [mqtt] (the workstation's certificate) and device.office")
    a.add_argument("--out", type=Path, required=True, help="folder for the notes (Markdown, text, JSON) and receipts")
    a.add_argument("--device", default="+", help="only this box (default: every box of the office)")
    a.add_argument("--device-key", type=Path, help="a box's public key: check receipts as they arrive")
    a.set_defaults(func=cmd_inbox_listen)
    for name, text in (("revise", "ask the box for a revision"), ("finalize", "finalize the note: the box destroys the transcript and sends a signed receipt"),
                       ("discard", "discard the note and its transcript"), ("ping", "ask a box to answer")):
        a = isub.add_parser(name, help=text)
        if name != "ping":
            a.add_argument("note_id", help="the note's id (32 hex characters, as in the inbox's file names)")
        if name == "revise":
            a.add_argument("instruction", help='e.g. "rewrite as dap"')
        a.add_argument("--config", type=Path, help=CONFIG_HELP)
        a.add_argument("--out", type=Path, help="the inbox folder (finds the box that sent the note)")
        a.add_argument("--device", help="the box's device id (default: looked up in --out)")
        a.add_argument("--sign-key", type=Path, help="the practice's Ed25519 private key (boxes that require signatures)")
        a.add_argument("--wait", type=float, default=15.0, metavar="S", help="seconds to wait for the box's answer")
        a.set_defaults(func=cmd_inbox_command, command=name)


def _reviser():
    from ..notes.revise import revise_note
    return revise_note


def _until_signalled() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def check_publish_ready(cfg) -> None:
    """Everything `process --publish` needs, checked before a session is processed, so bad
    settings cost a line, not a session's note."""
    from .client import check_client_certificate
    from .keys import load_outbox_key, load_signing_key
    from .outbox import Outbox

    load_signing_key(cfg.keys.signing_key)
    Outbox(cfg.outbox.dir, load_outbox_key(cfg.keys.outbox_key))
    check_client_certificate(cfg.mqtt)


def publish_session(args, cfg, note, rt) -> int:
    """`process --publish`: queue (P7), deliver; the note is not printed (journals keep no notes)."""
    from .service import PublishingService

    fmt = note.format
    svc = PublishingService(cfg, reviser=_reviser(), role="process")
    svc.start()
    stop = _until_signalled()
    try:
        svc.put(note, rt)
        if svc.outbox.find(f"{note.note_id}.v{note.version}") is not None:
            print(f"note {note.note_id} v{note.version} ({fmt}) queued in the outbox", flush=True)
        else:
            print(f"note {note.note_id} v{note.version} ({fmt}) could NOT be written to the outbox "
                  f"({cfg.outbox.dir}: disk full or unwritable); it is held in memory", flush=True)
        if args.serve:
            while not stop.is_set() and note.note_id in svc.sessions:
                stop.wait(0.2)
        delivered = svc.wait_delivered(args.wait)
        svc.close_sessions()  # the receipts too must reach the disk or the broker before this process ends
        held = svc.held_in_memory
        if held and not stop.is_set():
            print(f"{len(held)} message(s) (note {note.note_id}) are only in memory: the outbox cannot store them "
                  f"and the broker has not acknowledged them; waiting until either works: free space in "
                  f"{cfg.outbox.dir} or bring the broker back (stopping now loses them)", flush=True)
        while svc.held_in_memory and not stop.is_set():  # P7: never end with a note that exists nowhere else
            stop.wait(0.2)
        delivered = delivered or svc.wait_delivered(0)
    finally:
        svc.stop()
    lost = svc.held_in_memory
    if lost:
        raise PublishError(f"stopped with {len(lost)} message(s) ({', '.join(lost)}) neither in the outbox nor "
                           f"acknowledged by the broker: they are lost; free space in {cfg.outbox.dir} and "
                           "process the recording again")
    if delivered:
        print(f"note {note.note_id} delivered (broker acknowledged)", flush=True)
    else:
        print(f"note {note.note_id} not delivered yet ({svc.last_error or 'no acknowledgement'}); it stays in the "
              "outbox and `roomnote publisher` delivers it", flush=True)
    return 0


def cmd_publisher(args) -> int:
    from ..cli import require_config
    from .service import PublishingService

    require_config(args, "publisher")
    cfg = load_config(args.config)
    check_publish_ready(cfg)  # a missing key, CA or certificate is one line and exit 2, not "running"
    svc = PublishingService(cfg, reviser=_reviser(), role="publisher")
    stop = _until_signalled()
    svc.start()
    log.info("publisher for %s/%s running; %d message(s) in the outbox", cfg.device.office, cfg.device.id,
             len(svc.outbox))
    stop.wait()
    svc.stop()
    return 0


def cmd_outbox_send(args) -> int:
    from ..cli import require_config
    from .service import PublishingService

    require_config(args, "outbox send")
    cfg = load_config(args.config)
    svc = PublishingService(cfg, reviser=None, role="outbox")
    svc.start()
    ok = svc.wait_delivered(args.wait)
    svc.stop()
    if not ok:
        raise PublishError(f"{len(svc.outbox)} message(s) still in the outbox after {args.wait:.0f} s "
                           f"({svc.last_error or 'no acknowledgement'})")
    print(f"outbox empty: {svc.delivered} message(s) delivered")
    return 0


def cmd_outbox_list(args) -> int:
    from .outbox import list_entries

    cfg = load_config(args.config)
    d = Path(cfg.outbox.dir)
    if not d.is_dir():
        print(f"outbox {d}: empty (not created yet)")
        return 0
    try:
        rows = list_entries(d)
    except OSError as e:
        raise PublishError(f"{d}: cannot read the outbox ({e.strerror}); run as the user roomnote runs as") from None
    now = time.time()
    for e in rows:
        st = (d / e.name).stat()
        print(f"{e.seq:8d}  {e.message_id:48}  {st.st_size:7d} B  queued {now - st.st_mtime:8.0f} s ago")
    print(f"{len(rows)} message(s) in {d}")
    return 0


def cmd_keys_init(args) -> int:
    from ..cli import require_config
    from .keys import init_device_keys

    require_config(args, "keys init")
    cfg = load_config(args.config)
    for line in init_device_keys(cfg.keys.outbox_key, cfg.keys.signing_key):
        print(line)
    return 0


def cmd_keys_practice(args) -> int:
    from .keys import new_ed25519_pair

    if args.file.exists():
        raise RoomnoteError(f"{args.file}: already exists; choose a new file name (keys are never overwritten)")
    pub = new_ed25519_pair(args.file)
    print(f"created {args.file}; set commands.practice_public_key on each box to a copy of {pub}")
    return 0


def cmd_verify_receipt(args) -> int:
    from .keys import load_public_key
    from .messages import verify_receipt

    from ..regular_file import NotRegularFile, read_regular

    try:
        data = read_regular(args.file, 1 << 20)  # a FIFO or device gives one line, never a hang
    except NotRegularFile as e:
        raise PublishError(f"{e}: a receipt is a regular file; pass the receipt's .json file") from None
    except OSError as e:
        raise PublishError(f"{args.file}: cannot read the receipt ({e.strerror or e})") from None
    try:
        d = verify_receipt(data, load_public_key(args.key, "device public key"))
    except PublishError as e:
        raise PublishError(f"{args.file}: {e}") from None
    print(f"receipt ok: {d['action']} note {d['note_id']} v{d['note_version']} (sha256 {d['note_sha256'][:16]}...) "
          f"on {d['device_id']}; destroyed {', '.join(d['destroyed'])} at {d['destroyed_at']}")
    return 0


def cmd_audit_verify(args) -> int:
    from ..audit import verify_log

    path = args.file or Path(load_config(args.config).audit.file)
    n, head = verify_log(path)
    print(f"audit log ok: {n} entries, chain intact, head {head}")
    return 0


def cmd_inbox_listen(args) -> int:
    from .inbox import Inbox

    cfg = load_config(args.config)
    inbox = Inbox(cfg, args.out, device=args.device, device_key=args.device_key)
    stop = _until_signalled()
    inbox.connect()
    inbox.loop_forever(stop)
    log.info("inbox stopped: %d note(s) received, %d duplicate(s) dropped", inbox.received, inbox.duplicates)
    return 0


def cmd_inbox_command(args) -> int:
    from .inbox import device_of, send_command

    cfg = load_config(args.config)
    name = args.command
    fields = {}
    if name != "ping":
        fields["note_id"] = args.note_id
    if name == "revise":
        fields["instruction"] = args.instruction
    if args.device:
        device = args.device
    elif args.out and name != "ping":
        device = device_of(args.out, args.note_id)
    else:
        raise RoomnoteError("pass --device (the box's device id) or --out (the inbox folder that received the note)")
    answer = send_command(cfg, device, name, fields, sign_key=args.sign_key, wait_s=args.wait)
    if answer is None:
        raise PublishError(f"{name} sent to {device}, but no answer within {args.wait:.0f} s; the box may be offline "
                           "(commands are not queued for it): try again later")
    if answer.get("event") == "command_rejected":
        raise PublishError(f"{device} rejected {name}: {answer.get('reason')}: {answer.get('detail')}")
    extra = {k: v for k, v in answer.items() if k in ("note_id", "version", "receipt_id", "outbox")}
    print(f"{device}: {answer.get('event')} {json.dumps(extra)}")
    return 0

