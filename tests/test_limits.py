"""Limits and robustness (issue 19, items 12, 13, 15, 16): hostile WAV headers, FIFOs, a BOM,
a full disk under the audit log and under --out, core dumps. Real files, FIFOs and tmpfs."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_roomnote
from roomnote.audio.wavfile import read_wav_info, wav_frames
from roomnote.audit import AuditLog, verify_log
from roomnote.config import load_config
from roomnote.errors import AuditError
from roomnote.synth import write_wav


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _fmt(extra: bytes = b"") -> bytes:
    body = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16) + extra
    return b"fmt " + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _data(pcm: np.ndarray) -> bytes:
    raw = pcm.astype("<i2").tobytes()
    return b"data" + struct.pack("<I", len(raw)) + raw


@pytest.fixture
def tiny_disk(tmp_path):
    """A real small filesystem (tmpfs) that can be filled up."""
    d = tmp_path / "tiny"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("needs root to mount a small tmpfs for a real full disk")
    yield d
    subprocess.run(["umount", "-l", str(d)])


def _fill(d: Path, leave: int = 0) -> Path:
    """Fill the filesystem, then free `leave` bytes again (whole pages)."""
    filler = d / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\xaa" * 4096)
        except OSError:
            pass
        if leave:
            f.truncate(max(0, os.fstat(f.fileno()).st_size - leave))
    return filler


# --- WAV headers (items 12, 16) -----------------------------------------------------------

def test_an_odd_length_fmt_chunk_with_its_pad_byte_is_a_valid_wav(tmp_path):
    pcm = (np.sin(np.arange(16000) / 8) * 8000).astype(np.int16)
    path = tmp_path / "odd.wav"
    path.write_bytes(_riff(_fmt(extra=b"\x00") + _data(pcm)))  # 17-byte fmt chunk, then the RIFF pad byte
    info = read_wav_info(path)
    assert (info.rate, info.channels, info.bits, info.data_bytes) == (16000, 1, 16, 32000)
    got = np.concatenate([f.copy() for f in wav_frames(path)])[:16000]
    assert np.array_equal(got, pcm)


@pytest.mark.parametrize("file_size", [2 << 30, (4 << 30) + 4096])
def test_a_huge_declared_fmt_chunk_is_never_allocated(tmp_path, file_size):
    """A sparse file declaring a 0xF0000000-byte format chunk: one line, and memory stays small
    (the reader runs under a 1 GiB address-space limit that the declared size would break)."""
    path = tmp_path / "huge.wav"
    with open(path, "wb") as f:
        f.write(_riff(b"fmt " + struct.pack("<I", 0xF0000000)))
        f.truncate(file_size)  # sparse: no disk used
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from roomnote.audio.wavfile import read_wav_info; from roomnote.errors import AudioError\n"
            "try:\n    read_wav_info(sys.argv[1])\nexcept AudioError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO / "daemon")})
    assert r.returncode == 0 and r.stderr == "", r.stderr[-500:]
    assert r.stdout.startswith(f"{path}: ") and ("truncated WAV" in r.stdout or "chunks before the audio" in r.stdout)


# --- FIFOs and other non-files (item 15) --------------------------------------------------

def test_a_fifo_with_no_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "session.wav"
    os.mkfifo(fifo)
    r = run_roomnote("process", str(fifo), "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"roomnote: error: {fifo}: is a FIFO (named pipe), not a WAV file; save the recording to a file and pass that"]


def test_a_fifo_with_a_writer_is_refused_with_one_line(tmp_path):
    fifo = tmp_path / "session.wav"
    os.mkfifo(fifo)
    wav = tmp_path / "real.wav"
    write_wav(wav, np.zeros(16000, np.int16))
    proc = subprocess.Popen([sys.executable, "-m", "roomnote", "process", str(fifo), "--out", str(tmp_path / "out")],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)

    def writer():
        try:
            fd = os.open(fifo, os.O_WRONLY)  # waits for the reader (if any) to open it
            with os.fdopen(fd, "wb") as f:
                f.write(wav.read_bytes())
        except OSError:
            pass  # the reader closed it: a broken pipe is the expected end

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    _, err = proc.communicate(timeout=60)
    if t.is_alive():  # never opened for reading: unblock our writer
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"roomnote: error: {fifo}: is a FIFO (named pipe), not a WAV file; save the recording to a file and pass that"]


def test_a_directory_or_fifo_as_config_is_one_line(tmp_path):
    fifo = tmp_path / "roomnote.toml"
    os.mkfifo(fifo)
    r = run_roomnote("models", "list", "--config", str(fifo), cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"roomnote: error: {fifo}: is a FIFO (named pipe), not a config file; pass a regular file with --config"]


# --- config with a BOM (item 16) ----------------------------------------------------------

def test_a_config_starting_with_a_utf8_bom_loads(tmp_path):
    cfg = tmp_path / "roomnote.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + '[notes]\nformat = "dap"\n'.encode())
    assert load_config(cfg).notes.format == "dap"


# --- the audit log on a full disk (item 13) -----------------------------------------------

def test_an_audit_write_cut_short_by_a_full_disk_leaves_whole_records_and_appending_resumes(tiny_disk):
    path = tiny_disk / "audit.jsonl"
    log = AuditLog(path)
    log.append("session_started", session_id="s0")
    while path.stat().st_size % 4096 < 4096 - 120:  # up to the end of a page
        log.append("session_started", session_id="s1")
    filler = _fill(tiny_disk)
    size = path.stat().st_size
    with pytest.raises(OSError):  # the rest of the page takes part of the record: a short write
        log.append("note_queued", note_id="n" * 80, count=1)
    assert path.stat().st_size == size
    assert (tiny_disk / "audit.jsonl").read_bytes().endswith(b"\n")  # never half a record
    n, _ = verify_log(tiny_disk / "audit.jsonl")  # the chain is intact
    filler.unlink()  # space returns
    log.append("session_ended", session_id="s9")
    assert verify_log(tiny_disk / "audit.jsonl")[0] == n + 1


def test_a_partial_last_record_is_cut_off_and_the_repair_recorded(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("session_started", session_id="s1")
    log.append("note_queued", note_id="n1")
    whole = path.read_bytes()
    partial = b'{"event":"note_delivered","hash":"12'
    path.write_bytes(whole + partial)  # a power cut mid-write
    with pytest.raises(AuditError, match="line 3 is an incomplete record"):
        verify_log(path)
    log.append("session_ended", session_id="s1")
    n, _ = verify_log(path)
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert n == 4 and path.read_bytes().startswith(whole)
    assert entries[2]["event"] == "audit_repaired" and entries[2]["dropped_bytes"] == len(partial)
    assert entries[3]["event"] == "session_ended"
    # a whole line that is damaged is tampering, not a short write: it is not "repaired"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1].replace("}", "]"))
    with pytest.raises(AuditError, match="last line of the audit log is damaged"):
        log.append("session_started", session_id="s2")
    with pytest.raises(AuditError, match="line 4 is not an audit entry"):
        verify_log(path)


# --- --out on a nearly full disk (item 16) -------------------------------------------------

def test_a_nearly_full_out_leaves_no_file_of_the_note(tiny_disk, make_speech):
    wav = make_speech([("slt", "I have been sleeping badly and I feel tired at work."),
                       ("rms", "Let us look at what happens in the evening before you go to bed.")], "fullout")
    _fill(tiny_disk, leave=4096)  # room for the first small file, not for all of them
    before = sorted(p.name for p in tiny_disk.iterdir())
    r = run_roomnote("process", str(wav), "--out", str(tiny_disk), "--format-out", "txt,md,json,fhir",
                     cwd=tiny_disk.parent)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert "cannot write the note" in err and "none of" in err and ".md" in err and ".json" in err
    assert "printed above" in err and "## Subjective" in r.stdout  # nothing lost: the note is on the terminal
    assert sorted(p.name for p in tiny_disk.iterdir()) == before  # all or nothing: nothing


# --- core dumps off in every command that holds audio (item 16) ----------------------------

@pytest.mark.parametrize("command", [["process", "{wav}", "--out", "{dir}"], ["enroll", "--from-wav", "{wav}"]])
def test_commands_holding_audio_cannot_dump_core(tmp_path, make_speech, command):
    """Run as an ordinary user: with the dumpable flag off, the kernel makes the process's /proc
    files root's, and its core limit is 0."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the command as an unprivileged user (setpriv)")
    shared = Path(tempfile.mkdtemp(prefix="roomnote-core-"))
    try:
        os.chmod(shared, 0o777)
        wav = shared / "s.wav"
        wav.write_bytes(make_speech([("slt", "I feel tired and I sleep badly.")], "core").read_bytes())
        os.chmod(wav, 0o644)
        cfg = shared / "roomnote.toml"
        cfg.write_text(f'[speakers]\nprofile = "{shared}/profile.bin"\nkey = "{shared}/profile.key"\n')
        os.chmod(cfg, 0o644)
        args = [a.format(wav=wav, dir=shared / "out") for a in command] + ["--config", str(cfg)]
        proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                                 "-m", "roomnote", *args], cwd=shared, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "HOME": str(shared),
                                                             "TMPDIR": str(shared),
                                                             "PYTHONPATH": str(REPO / "daemon")})
        seen = None
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                limits = Path(f"/proc/{proc.pid}/limits").read_text()
                owner = os.stat(f"/proc/{proc.pid}/status").st_uid
                uid = int(Path(f"/proc/{proc.pid}/status").read_text().split("Uid:")[1].split()[0])
            except (OSError, IndexError):
                break
            if uid == 65534 and "roomnote" in Path(f"/proc/{proc.pid}/cmdline").read_text():
                core = [line for line in limits.splitlines() if line.startswith("Max core file size")][0]
                seen = (core.split()[4:6], owner)
                if core.split()[4:6] == ["0", "0"] and owner == 0:
                    break
            time.sleep(0.05)
        proc.kill()
        _, err = proc.communicate()
        assert seen is not None, err[-800:]
        assert "Traceback" not in err and "error" not in err, err[-800:]
        assert seen == (["0", "0"], 0), seen  # core limit 0, and not dumpable (proc files owned by root)
    finally:
        subprocess.run(["rm", "-rf", str(shared)])


def test_an_office_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    from roomnote.provision import OfficeError, load_office

    fifo = tmp_path / "office.toml"
    os.mkfifo(fifo)
    with pytest.raises(OfficeError, match="not a regular file"):
        load_office(fifo)  # no writer: must not hang


def test_a_key_file_is_checked_and_read_through_one_descriptor(tmp_path):
    """A FIFO in a key's place gives one line at once (it used to hang in read_bytes); a
    readable key is still refused; a good key loads."""
    import threading

    from roomnote.errors import PublishError
    from roomnote.publish.keys import load_outbox_key

    fifo = tmp_path / "outbox.key"
    os.mkfifo(fifo, 0o600)
    result = {}
    t = threading.Thread(target=lambda: result.update(err=pytest.raises(PublishError, load_outbox_key, fifo)),
                         daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "reading a FIFO as a key file hung"
    assert "must be a regular file" in str(result["err"].value)
    fifo.unlink()
    fifo.write_bytes(os.urandom(32))
    fifo.chmod(0o644)
    with pytest.raises(PublishError, match="readable by other users"):
        load_outbox_key(fifo)
    fifo.chmod(0o600)
    assert len(load_outbox_key(fifo)) == 32


def test_verify_receipt_refuses_a_fifo_in_one_line(tmp_path):
    receipt, key = tmp_path / "receipt.json", tmp_path / "box.pub.pem"
    os.mkfifo(receipt)
    os.mkfifo(key)
    r = run_roomnote("verify-receipt", str(receipt), "--key", str(key), cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "regular file" in r.stderr and "Traceback" not in r.stderr
