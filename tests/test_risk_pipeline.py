"""Risk exchanges spoken by flite through the real pipeline (`roomnote process`: VAD, recogniser,
redaction, composer), with no voice enrolled, the default: a disclosure is flagged, a question
and its reply are shown together and attributed to nobody, and nothing is denied for the client."""
from __future__ import annotations

import json

from conftest import run_roomnote

VOICES = {"therapist": "rms", "client": "slt"}
DISCLOSURE = [("therapist", "How have the evenings been?"),
              ("client", "Lonely. Sometimes I wish I could just not wake up.")]
QUESTION_AND_NO = [("therapist", "Have you had any thoughts of suicide?"),
                   ("client", "No. Never. I would not do that to my kids.")]


def _note(make_speech, tmp_path, turns, name):
    wav = make_speech([(VOICES[who], text) for who, text in turns], name)
    r = run_roomnote("process", str(wav), "--out", str(tmp_path / name), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (js,) = (tmp_path / name).glob("*.json")
    note = json.loads(js.read_text())
    return note, [it for sec in note["sections"] for it in sec["items"] if it["kind"].startswith("risk")]


def test_spoken_risk_is_documented_as_said_with_no_voice_enrolled(make_speech, tmp_path):
    note, risk = _note(make_speech, tmp_path, DISCLOSURE + QUESTION_AND_NO, "risk-exchanges")
    assert note["risk_flags"] == ["suicidal_ideation"]
    lines = [it for it in risk if it["category"] not in ("flag", "suicidal_ideation:summary")]
    assert {it["category"] for it in lines} >= {"suicidal_ideation:disclosure", "suicidal_ideation:screening"}
    assert all("speakers not identified" in it["text"] for it in lines), lines
    assert not any("client said" in it["text"] or it["category"].endswith(":denial") for it in risk)
    for it in risk:
        assert it["evidence"] and all(e["segment_id"].startswith("s") for e in it["evidence"])
