"""IT's subcommands: provision, models install, selftest. Registered by roomnote.cli."""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import RoomnoteError


def add_commands(sub) -> None:
    p = sub.add_parser("provision", help="IT: set this box up from its office file (config, keys, TLS request)")
    p.add_argument("--office", type=Path, required=True, metavar="FILE", help="the office file (office.example.toml)")
    p.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                   help="provision the system mounted at DIR (e.g. an SD card) instead of this one")
    p.add_argument("--rotate-keys", action="store_true",
                   help="replace the outbox, signing and TLS keys (and make a new certificate request)")
    p.add_argument("--cert", type=Path, metavar="FILE", help="install the device certificate the practice CA signed")
    p.add_argument("--owner", default="roomnote", metavar="USER",
                   help="the service user that owns the keys (default: roomnote)")
    p.set_defaults(func=cmd_provision)

    s = sub.add_parser("selftest", help="IT: check configuration, models, microphone, button and LED, broker, "
                       "clock, disk and temperature; exit 0 when all pass")
    s.add_argument("--config", type=Path, default=None, help="TOML configuration (default: /etc/roomnote/roomnote.toml)")
    s.add_argument("--button-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the button press (default 30)")
    s.add_argument("--skip", default="", metavar="LIST", help="checks to skip, comma-separated (e.g. button)")
    s.add_argument("--no-publish", action="store_true", help="do not publish the result on the status topic")
    s.set_defaults(func=cmd_selftest)


def add_model_commands(msub) -> None:
    from .model_bundle import DEFAULT_MAX_BYTES

    a = msub.add_parser("install", help="install a model archive (zip or tar of a vosk model) after checking its "
                        "SHA-256 against the manifest")
    a.add_argument("bundle", type=Path, metavar="BUNDLE", help="the model archive (.zip, .tar, .tar.gz)")
    a.add_argument("--config", type=Path, help="TOML configuration file (models.dir, models.manifest)")
    a.add_argument("--root", type=Path, metavar="DIR",
                   help="install into the system mounted at DIR (e.g. an SD card): its models.dir, read from "
                        "DIR/etc/roomnote/roomnote.toml unless --config is given")
    a.add_argument("--max-size-mb", type=int, default=DEFAULT_MAX_BYTES // (1 << 20), metavar="MIB",
                   help=f"refuse archives that unpack to more than this many MiB (default {DEFAULT_MAX_BYTES >> 20})")
    a.set_defaults(func=cmd_models_install)


def cmd_provision(args) -> int:
    from .provision import OfficeError, provision

    try:
        done, models = provision(args.office, args.root, owner=args.owner, rotate_keys=args.rotate_keys,
                                 cert=args.cert)
    except OfficeError as e:
        for line in e.problems:
            print(f"roomnote: error: {line}", file=sys.stderr)
        return 2
    if args.root.resolve() != Path("/"):
        print(f"paths below are the box's own; on this machine they are under {args.root}")
    for line in done:
        print(line)
    failed = [(n, d) for n, ok, d in models if not ok]
    for name, ok, detail in models:
        print(f"model {name}: {'ok, ' + detail if ok else 'FAILED: ' + detail}")
    if failed:
        raise RoomnoteError(f"{len(failed)} model(s) missing or failed verification (listed above); install them "
                            "with 'roomnote models install BUNDLE' and provision again")
    missing_cert = any(line.startswith("device certificate") and "missing" in line for line in done)
    print("provisioned" + (" (the device certificate is still missing: see above)" if missing_cert else ""))
    return 0


def cmd_models_install(args) -> int:
    from .config import load_config
    from .model_bundle import install_bundle
    from .models import load_manifest

    root = args.root
    if root is not None and not root.is_dir():
        raise RoomnoteError(f"--root {root}: not a directory; give the mounted system (e.g. /mnt/sdcard)")
    config = args.config or (root / "etc/roomnote/roomnote.toml" if root is not None else None)
    if root is not None and args.config is None and not config.is_file():
        raise RoomnoteError(f"{config}: missing; run roomnote provision --root {root} first, or pass --config")
    cfg = load_config(config)

    def under_root(p: str) -> str:  # the box's own paths, under --root on this machine
        return str(root / p.lstrip("/")) if root is not None and p else p

    manifest = load_manifest(under_root(cfg.models.manifest) or None)
    models_dir = Path(under_root(cfg.models.dir))
    for line in install_bundle(args.bundle, manifest, models_dir, max_bytes=args.max_size_mb << 20):
        print(line)
    return 0


def cmd_selftest(args) -> int:
    from .coredump import no_core_dumps
    from .selftest import run_selftest

    no_core_dumps()  # the microphone check holds audio (P1)
    config = args.config or Path("/etc/roomnote/roomnote.toml")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    report = run_selftest(config, button_timeout=args.button_timeout, skip=skip, publish=not args.no_publish,
                          say=lambda line: print(line, file=sys.stderr, flush=True))
    print(report.table())
    return 0 if report.passed else 1
