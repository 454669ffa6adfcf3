"""`roomnote process --format-out`: every output form from real synthesised speech, the
encoder verified at start-up (P6), and bad output lists refused in one line."""
from __future__ import annotations

import base64
import json
import shutil

from conftest import run_roomnote
from roomnote.models import load_manifest, model_root
from roomnote.notes.encoder import ENCODER_MODEL, MODEL_FILE

TURNS = [
    ("rms", "Hello, how have you been this week?"),
    ("slt", "I have been feeling anxious at work and I cannot sleep at night."),
    ("rms", "It sounds like work has been really hard. Take a deep breath with me."),
    ("slt", "That helps. I feel a little calmer now."),
    ("rms", "For homework, write down the worried thoughts. I will see you next week."),
]


def test_every_output_form_is_written(make_speech, tmp_path):
    wav = make_speech(TURNS, "outputs")
    out = tmp_path / "out"
    r = run_roomnote("process", str(wav), "--out", str(out), "--format", "dap",
                     "--format-out", "json,md,txt,fhir", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    (stem,) = {f.split(".")[0] for f in files}
    assert files == [f"{stem}.fhir.json", f"{stem}.json", f"{stem}.md", f"{stem}.txt"]
    note = json.loads((out / f"{stem}.json").read_text())
    assert note["schema"] == "roomnote.note/2" and note["format"] == "dap"
    assert note["composer"]["encoder"] == ENCODER_MODEL
    text = (out / f"{stem}.txt").read_text()
    assert text.startswith("DAP PSYCHOTHERAPY NOTE\n") and text.isascii()
    fhir = json.loads((out / f"{stem}.fhir.json").read_text())
    assert fhir["resourceType"] == "DocumentReference"
    assert base64.b64decode(fhir["content"][0]["attachment"]["data"]).decode() == text
    assert (out / f"{stem}.md").read_text().strip() == r.stdout.strip()


def test_only_the_requested_forms_are_written(make_speech, tmp_path):
    wav = make_speech(TURNS, "outputs")
    r = run_roomnote("process", str(wav), "--out", str(tmp_path / "o"), "--format-out", "txt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p.suffix for p in (tmp_path / "o").iterdir()] == [".txt"]


def test_an_unknown_output_form_is_refused_and_nothing_is_written(make_speech, tmp_path):
    wav = make_speech(TURNS, "outputs")
    r = run_roomnote("process", str(wav), "--out", str(tmp_path / "o"), "--format-out", "json,pdf", cwd=tmp_path)
    assert r.returncode == 2 and "expected a comma-separated list of json, md, txt, fhir" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_tampered_encoder_stops_processing_before_any_audio_is_read(make_speech, tmp_path, default_config):
    src = model_root(load_manifest().get(ENCODER_MODEL), default_config.models.dir)
    models = tmp_path / "models"
    shutil.copytree(src, models / ENCODER_MODEL)
    with open(models / ENCODER_MODEL / MODEL_FILE, "r+b") as f:
        f.seek(1000)
        f.write(b"\0\1\2\3")
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text(f'[models]\ndir = "{models}"\n')
    r = run_roomnote("process", str(make_speech(TURNS, "outputs")), "--config", str(cfg),
                     "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 2
    (line,) = [x for x in r.stderr.splitlines() if "error" in x]
    assert ENCODER_MODEL in line and "SHA-256" in line
    assert not any((tmp_path / "o").glob("*"))


def test_the_encoder_can_be_switched_off(make_speech, tmp_path):
    cfg = tmp_path / "roomnote.toml"
    cfg.write_text('[notes]\nencoder = ""\n')
    r = run_roomnote("process", str(make_speech(TURNS, "outputs")), "--config", str(cfg),
                     "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (js,) = (tmp_path / "o").glob("*.json")
    assert json.loads(js.read_text())["composer"]["encoder"] is None


def test_a_scripted_session_spoken_by_flite_keeps_the_risk_rules(make_speech, tmp_path):
    """Session 02 of tests/data (grief, risk never discussed) through the real pipeline:
    whatever the recogniser makes of it, the note says risk was not assessed, denies nothing,
    and every item is backed by a segment of the recording."""
    from scripted import all_sessions

    s = next(x for x in all_sessions() if x.name.startswith("02-"))
    voices = {"therapist": "rms", "client": "slt"}
    wav = make_speech([(voices[who], text) for who, text in s.turns], "scripted-02")
    r = run_roomnote("process", str(wav), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (js,) = (tmp_path / "o").glob("*.json")
    note = json.loads(js.read_text())
    items = [it for sec in note["sections"] for it in sec["items"]]
    assert [it["kind"] for it in items if it["kind"].startswith("risk")] == ["risk_not_assessed"]
    assert note["risk_flags"] == [] and "deni" not in js.read_text().lower()
    assert sum(it["kind"] in ("quote", "theme", "intervention", "plan") for it in items) >= 3
    for it in items:
        if it["kind"] not in ("fact", "empty", "risk_not_assessed", "no_speech"):
            assert it["evidence"] and all(e["segment_id"].startswith("s") for e in it["evidence"])
