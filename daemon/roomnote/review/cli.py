"""`roomnote review [--config FILE] [--host H] [--port P]` and `roomnote review --hash-password`."""
from __future__ import annotations

import getpass
import sys
from pathlib import Path

from ..config import load_config
from .security import ReviewError, hash_password


def add_commands(sub) -> None:
    r = sub.add_parser("review", help="the therapist's review page: receive notes and review, revise, finalize "
                       "and copy them in a browser")
    r.add_argument("--config", type=Path, help="TOML with [mqtt] (the workstation's certificate), device.office "
                   "and [review]")
    r.add_argument("--host", help="address to listen on (default: review.host, 127.0.0.1); any other address "
                   "needs TLS and a login")
    r.add_argument("--port", type=int, help="port (default: review.port, 8765)")
    r.add_argument("--inbox", type=Path, help="the inbox folder (default: review.inbox)")
    r.add_argument("--hash-password", action="store_true",
                   help="read a password (twice; or one line on stdin) and print review.password_hash for it")
    r.set_defaults(func=cmd_review)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password for the review page: ")
    if getpass.getpass("again: ") != first:
        raise ReviewError("the two passwords differ; nothing was printed, try again")
    return first


def cmd_review(args) -> int:
    if args.hash_password:
        print(f'password_hash = "{hash_password(_read_password())}"')
        return 0
    from dataclasses import replace

    from ..cli import require_config
    from .server import run_review

    require_config(args, "review", "notes into ~/roomnote-inbox with the box's TLS files")
    cfg = load_config(args.config)
    rc = cfg.review
    if args.inbox:
        rc = replace(rc, inbox=str(args.inbox))
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ReviewError(f"--port {args.port}: expected 0 to 65535")
    cfg = replace(cfg, review=rc)
    run_review(cfg, args.host or rc.host, rc.port if args.port is None else args.port)
    return 0
