"""The `roomnote` command: run | process | models verify | models list | models hash."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .config import NOTE_FORMATS, load_config
from .errors import RoomnoteError

log = logging.getLogger("roomnote")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="roomnote: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except RoomnoteError as e:
        print(f"roomnote: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roomnote: interrupted; nothing was written", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="roomnote", description="Privacy-first clinical scribe.")
    p.add_argument("--version", action="version", version=f"roomnote {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    pr = sub.add_parser("process", help="make a redacted note from a WAV file")
    pr.add_argument("wav", type=Path, metavar="SESSION.wav")
    pr.add_argument("--format", choices=NOTE_FORMATS, help="note format (default: notes.format of the config)")
    pr.add_argument("--out", type=Path, default=Path("."), help="directory for the note's JSON and Markdown (default: .)")
    pr.add_argument("--config", type=Path, help="TOML configuration file")
    pr.set_defaults(func=cmd_process)

    r = sub.add_parser("run", help="run the appliance: button, LED, microphone (the systemd service)")
    r.add_argument("--config", type=Path, help="TOML configuration file")
    r.add_argument("--state-dir", type=Path, help="where notes are kept (default: $STATE_DIRECTORY or /var/lib/roomnote)")
    r.set_defaults(func=cmd_run)

    m = sub.add_parser("models", help="the models manifest")
    msub = m.add_subparsers(required=True, metavar="ACTION")
    for name, func, text in (("verify", cmd_models_verify, "check every installed model's SHA-256"),
                             ("list", cmd_models_list, "list the models in the manifest")):
        a = msub.add_parser(name, help=text)
        a.add_argument("--config", type=Path, help="TOML configuration file")
        a.set_defaults(func=func)
    h = msub.add_parser("hash", help="print the manifest files block for a model directory (for pinning)")
    h.add_argument("dir", type=Path)
    h.set_defaults(func=cmd_models_hash)
    return p


def cmd_process(args) -> int:
    from .audio.wavfile import read_wav_info, wav_frames
    from .notes import to_dict, to_markdown
    from .pipeline import load_engines, new_session_id, note_from_transcript, session_facts, transcribe

    cfg = load_config(args.config)
    fmt = args.format or cfg.notes.format
    info = read_wav_info(args.wav)  # bad input fails here, before models load
    _check_out_dir(args.out)
    engines = load_engines(cfg)
    try:
        transcript = transcribe(wav_frames(args.wav), engines, cfg)
    finally:
        engines.close()
    log.info("recognised %d segments, %d words in %.1f s of audio (%.1f s speech)",
             len(transcript.segments), len(transcript.words), transcript.duration, transcript.speech)
    # The recording ended when the file was last written; it started `duration` before.
    ended = datetime.fromtimestamp(args.wav.stat().st_mtime, timezone.utc)
    facts = session_facts(cfg, transcript, ended, new_session_id())
    note = note_from_transcript(transcript, fmt, facts)
    markdown = to_markdown(note)
    print(markdown)  # printed first, so a full disk below loses nothing
    _write_atomic(args.out / f"{note.note_id}.json", json.dumps(to_dict(note), indent=2, ensure_ascii=False) + "\n")
    _write_atomic(args.out / f"{note.note_id}.md", markdown + "\n")
    log.info("note %s (%s, %.0f s audio) written to %s", note.note_id, fmt, info.duration, args.out)
    return 0


def cmd_run(args) -> int:
    from .appliance import run_daemon

    return run_daemon(args.config, args.state_dir)


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RoomnoteError(f"{out}: --out must be a directory, not a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RoomnoteError(f"{out}: cannot create the output directory ({e.strerror}); choose another --out") from None
    if not os.access(out, os.W_OK):
        raise RoomnoteError(f"{out}: the output directory is not writable; choose another --out")


def _write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename: a reader never sees half a note."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise RoomnoteError(f"{path}: cannot write the note ({e.strerror}); the note was printed above, "
                            "free some space or choose another --out and run again") from None


def cmd_models_verify(args) -> int:
    from .models import is_installed, load_manifest, verify_model

    cfg = load_config(args.config)
    manifest = load_manifest(cfg.models.manifest or None)
    failed = 0
    for e in manifest.entries.values():
        if not is_installed(e, cfg.models.dir):
            print(f"{e.name:32} not installed ({e.location})")
            continue
        try:
            verify_model(e, cfg.models.dir)
            print(f"{e.name:32} ok ({len(e.files)} files)")
        except RoomnoteError as err:
            failed += 1
            print(f"{e.name:32} FAILED: {err}")
    if failed:
        raise RoomnoteError(f"{failed} installed model(s) failed verification; reinstall them from a trusted source")
    return 0


def cmd_models_list(args) -> int:
    from .models import is_installed, load_manifest

    cfg = load_config(args.config)
    manifest = load_manifest(cfg.models.manifest or None)
    print(f"manifest: {manifest.path}")
    for e in manifest.entries.values():
        state = "installed" if is_installed(e, cfg.models.dir) else "not installed"
        pinned = f"{len(e.files)} files pinned" if e.files else "unpinned"
        print(f"{e.name:32} {e.kind:4} {e.engine:13} {e.language or '-':3} {state}, {pinned}; {e.licence}")
    return 0


def cmd_models_hash(args) -> int:
    from .models import files_as_toml, hash_directory

    if not args.dir.is_dir():
        raise RoomnoteError(f"{args.dir}: not a directory; pass the unpacked model directory")
    print(files_as_toml(hash_directory(args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
