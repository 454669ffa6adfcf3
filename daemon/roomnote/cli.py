"""The `roomnote` command: run | process | enroll | models | publishing (publisher, outbox, keys,
inbox, verify-receipt, audit)."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .config import NOTE_FORMATS, load_config
from .errors import RoomnoteError
from .storage import write_atomic

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
    pr.add_argument("--format-out", default="json,md", metavar="LIST", type=_output_list,
                    help=f"files to write, comma-separated from {','.join(OUTPUTS)} (default: json,md)")
    pr.set_defaults(func=cmd_process)
    from .publish.cli import add_commands as add_publish_commands, add_process_arguments
    add_process_arguments(pr)  # --publish, --serve, --wait

    co = sub.add_parser("compose", help="make a redacted note from a transcript JSON file (docs/notes.md)")
    co.add_argument("transcript", type=Path, metavar="TRANSCRIPT.json")
    co.add_argument("--format", choices=NOTE_FORMATS, help="note format (default: notes.format of the config)")
    co.add_argument("--out", type=Path, default=Path("."), help="directory for the note files (default: .)")
    co.add_argument("--config", type=Path, help="TOML configuration file")
    co.add_argument("--format-out", default="json,md", metavar="LIST", type=_output_list,
                    help=f"files to write, comma-separated from {','.join(OUTPUTS)} (default: json,md)")
    co.set_defaults(func=cmd_compose)

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
    from .it_cli import add_commands as add_it_commands, add_model_commands
    add_model_commands(msub)  # models install
    add_publish_commands(sub)  # publisher, outbox, keys, inbox, verify-receipt, audit
    add_it_commands(sub)  # provision, selftest
    from .review.cli import add_commands as add_review_commands
    add_review_commands(sub)  # review: the therapist's review page

    en = sub.add_parser("enroll", help="enrol the therapist's voice at the box: press the button, speak about "
                        "30 s, press again (kept encrypted on this box only)")
    how = en.add_mutually_exclusive_group()
    how.add_argument("--from-wav", type=Path, metavar="FILE",
                     help="a recording of the therapist speaking alone for about 30 seconds")
    how.add_argument("--delete", action="store_true", help="delete the voice profile and its key")
    how.add_argument("--seconds", type=_enrol_seconds, metavar="N",
                     help="at the box: stop recording by itself after N seconds (10 to 120) instead of at the "
                          "second press")
    en.add_argument("--config", type=Path, help="TOML configuration file")
    en.set_defaults(func=cmd_enroll)
    return p


# Output files of `process --format-out`: name -> file suffix.
OUTPUTS = {"json": ".json", "md": ".md", "txt": ".txt", "fhir": ".fhir.json"}


def _output_list(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(OUTPUTS)}, got {text!r}")
    return list(dict.fromkeys(names))


def _render_outputs(note, markdown: str, names: list[str]) -> dict[str, str]:
    from .notes import to_dict, to_fhir, to_text

    render = {"json": lambda: json.dumps(to_dict(note), indent=2, ensure_ascii=False) + "\n",
              "md": lambda: markdown + "\n",
              "txt": lambda: to_text(note),
              "fhir": lambda: json.dumps(to_fhir(note), indent=2, ensure_ascii=False) + "\n"}
    return {f"{note.note_id}{OUTPUTS[n]}": render[n]() for n in names}


def cmd_process(args) -> int:
    from .audio.wavfile import read_wav_info, wav_frames
    from .notes import to_markdown
    from .pipeline import load_engines, new_session_id, redact_and_compose, session_facts, transcribe

    cfg = load_config(args.config)
    fmt = args.format or cfg.notes.format
    info = read_wav_info(args.wav)  # bad input fails here, before models load
    _check_out_dir(args.out)
    if args.publish:  # keys, outbox and TLS files are checked before the session is processed
        from .publish.cli import check_publish_ready
        check_publish_ready(cfg)
    engines = load_engines(cfg)  # every model, the note's encoder too, verified (P6) before any audio is read
    try:
        transcript = transcribe(wav_frames(args.wav), engines, cfg)
    finally:
        engines.close()
    log.info("recognised %d segments, %d words in %.1f s of audio (%.1f s speech)",
             len(transcript.segments), len(transcript.words), transcript.duration, transcript.speech)
    # The recording ended when the file was last written; it started `duration` before.
    ended = datetime.fromtimestamp(args.wav.stat().st_mtime, timezone.utc)
    facts = session_facts(cfg, transcript, ended, new_session_id())
    note, rt = redact_and_compose(transcript, fmt, facts, engines.encoder, engines.policy)
    if args.publish:  # into the outbox and to the broker, not to --out (publish/cli.py)
        from .publish.cli import publish_session
        return publish_session(args, cfg, note, rt)
    del rt  # kept only by the publisher, for revisions
    markdown = to_markdown(note)
    print(markdown)  # printed first, so a full disk below loses nothing
    for name, text in _render_outputs(note, markdown, args.format_out).items():
        _write_atomic(args.out / name, text)
    log.info("note %s (%s, %.0f s audio) written to %s", note.note_id, fmt, info.duration, args.out)
    return 0


def cmd_compose(args) -> int:
    """Redaction and composition exactly as `process` runs them after recognition."""
    from .notes import to_markdown
    from .notes.transcript_file import read_transcript_file, session_times
    from .pipeline import load_note_encoder, new_session_id, redact_and_compose
    from .notes.model import SessionFacts
    from .redact.topics import policy_from_config

    cfg = load_config(args.config)
    fmt = args.format or cfg.notes.format
    tf = read_transcript_file(args.transcript)  # bad input fails here, before models load
    _check_out_dir(args.out)
    encoder = load_note_encoder(cfg)  # verified (P6)
    t = tf.transcript
    started, ended = session_times(tf, datetime.fromtimestamp(args.transcript.stat().st_mtime, timezone.utc))
    facts = SessionFacts(session_id=new_session_id(), device_id=cfg.device.id, started_at=started,
                         ended_at=ended, duration_s=t.duration, speech_s=t.speech, engine=t.engine, consent=None)
    n_segments = len(t.segments)
    note, rt = redact_and_compose(t, fmt, facts, encoder, policy_from_config(cfg.redaction, encoder))
    del rt
    markdown = to_markdown(note)
    print(markdown)  # printed first, so a full disk below loses nothing
    for name, text in _render_outputs(note, markdown, args.format_out).items():
        _write_atomic(args.out / name, text)
    log.info("note %s (%s, %d segments) written to %s", note.note_id, fmt, n_segments, args.out)
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
    try:
        write_atomic(path, text)
    except OSError as e:
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
        if state == "installed" and e.files:
            from .models import verify_model
            try:
                verify_model(e, cfg.models.dir)
                state = "installed, verified"
            except RoomnoteError:
                state = "installed, FAILED verification"
        pinned = f"{len(e.files)} files pinned" if e.files else "unpinned"
        print(f"{e.name:32} {e.kind:4} {e.engine:13} {e.language or '-':3} {state}, {pinned}; {e.licence}")
    return 0


def cmd_models_hash(args) -> int:
    from .models import files_as_toml, hash_directory

    if not args.dir.is_dir():
        raise RoomnoteError(f"{args.dir}: not a directory; pass the unpacked model directory")
    print(files_as_toml(hash_directory(args.dir)))
    return 0


def _enrol_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 10 <= value <= 120:
        raise argparse.ArgumentTypeError(f"expected a number of seconds from 10 to 120, got {text!r}")
    return value


def cmd_enroll(args) -> int:
    """The therapist's voice profile: enrol at the box or from a recording, or delete it."""
    from .speakers import delete_profile, enroll_from_frames, load_encoder, save_profile
    from .speakers.profile import check_storage

    cfg = load_config(args.config)
    if args.delete:
        removed = delete_profile(cfg.speakers)
        print(f"deleted the {' and '.join(removed)}" if removed else "no voice profile to delete")
        return 0
    from .audio.vad import SileroVad
    from .audio.wavfile import read_wav_info, wav_frames
    from .models import load_manifest, verify_model

    if args.from_wav:
        read_wav_info(args.from_wav)  # bad input fails here, before models load
    check_storage(cfg.speakers)  # before anyone speaks
    manifest = load_manifest(cfg.models.manifest or None)
    vad = SileroVad(verify_model(manifest.get("silero-vad"), cfg.models.dir))
    encoder = load_encoder(cfg, manifest)
    replaced = Path(cfg.speakers.profile).exists()
    if not args.from_wav:  # at the box: button, LED and microphone as the appliance uses them
        from .enrolment import BoxEnrolment, EnrolmentCancelled

        try:
            box = BoxEnrolment(cfg, seconds=args.seconds, say=lambda line: print(line, flush=True))
            profile = box.run(vad, encoder)
        except EnrolmentCancelled as e:
            print(f"enrolment {e}")
            return 1
        profile.wipe()
    else:
        profile = enroll_from_frames(wav_frames(args.from_wav), vad, encoder, cfg)
        try:
            save_profile(profile, cfg.speakers)
        finally:
            profile.wipe()
    log.info("voice profile %s (%.0f s of speech)", "replaced" if replaced else "enrolled", profile.speech_s)
    print(f"voice profile {'replaced' if replaced else 'enrolled'} from {profile.speech_s:.0f} s of speech; "
          "kept encrypted on this box only ('roomnote enroll --delete' removes it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
