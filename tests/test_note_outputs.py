"""What leaves the box: JSON (roomnote.note/2), plain text for the EHR, FHIR R4
DocumentReference; and the generator interface's evidence check and redaction."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime

import pytest

from roomnote.errors import RoomnoteError
from roomnote.notes import FORMATS, Item, compose_note, revise_note, to_dict, to_fhir, to_text
from roomnote.notes.encoder import load_encoder
from roomnote.notes.generator import ExtractiveGenerator, generate_note, unsupported_items
from roomnote.notes.model import RISK_NOT_ASSESSED, Evidence
from roomnote.redact.egress import check_egress

from scripted import all_sessions

SESSIONS = {s.name[:2]: s for s in all_sessions()}


@pytest.fixture(scope="module")
def encoder(default_config):
    return load_encoder(None, default_config.models.dir)


def composed(key, encoder, fmt="soap"):
    s = SESSIONS[key]
    rt = s.transcript()
    return s, rt, compose_note(rt, fmt, s.facts(), encoder=encoder)


# --- JSON ----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(SESSIONS))
def test_json_schema_2_and_it_passes_the_egress_check(encoder, key):
    s, rt, note = composed(key, encoder)
    d = json.loads(json.dumps(to_dict(note)))
    assert d["schema"] == "roomnote.note/2"
    assert set(d) >= {"note_id", "version", "format", "session", "sections", "risk_flags",
                      "redaction_counts", "composer", "revisions"}
    assert d["composer"] == {"generator": "extractive", "encoder": "all-minilm-l6-v2-int8", "classifier": "note-classifiers"}
    for sec in d["sections"]:
        for it in sec["items"]:
            for e in it["evidence"]:
                assert set(e) == {"segment_id", "start", "end", "cue", "basis", "score"}
    check_egress(d)
    check_egress(to_dict(revise_note(rt, note, "rewrite as girp", encoder=encoder)))


# --- plain text ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_text_pastes_cleanly(encoder, fmt):
    s, rt, note = composed("02", encoder, fmt)
    text = to_text(note)
    assert text.isascii() and "\t" not in text and "\r" not in text
    assert not re.search(r"^#|\*\*|\(\d\d:\d\d:\d\d", text, re.M)  # no markup, no evidence links
    lines = text.splitlines()
    assert lines[0] == f"{fmt.upper()} PSYCHOTHERAPY NOTE"
    assert all(len(line) <= 78 for line in lines)
    for spec in FORMATS[fmt]:
        assert f"{spec.title.upper()}:" in lines
    assert RISK_NOT_ASSESSED in " ".join(lines).replace("  ", " ")
    assert "Suggested CPT code: 90834" in text and "Consent: verbal consent" in text
    assert "box-test" in text and f"version {note.version}" in text


def test_plain_text_flags_risk(encoder):
    s, rt, note = composed("03", encoder)
    assert "RISK FLAGGED FOR CLINICIAN REVIEW" in to_text(note)


# --- FHIR ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_fhir_document_reference_has_the_required_fields(encoder, fmt):
    s, rt, note = composed("03", encoder, fmt)
    doc = json.loads(json.dumps(to_fhir(note)))
    assert doc["resourceType"] == "DocumentReference"
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", doc["id"])
    assert doc["status"] == "current" and doc["docStatus"] == "preliminary"
    assert doc["type"]["coding"][0] == {"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}
    assert set(doc["subject"]) == {"display"}  # a placeholder: no client identity on the box
    assert datetime.fromisoformat(doc["date"]).tzinfo is not None
    assert doc["author"][0]["identifier"] == {"system": "urn:roomnote:device", "value": "box-test"}
    period = doc["context"]["period"]
    assert period == {"start": s.facts().started_at.isoformat(), "end": s.facts().ended_at.isoformat()}
    assert doc["context"]["event"][0]["coding"][0]["code"] == "90837"
    text_att, json_att = (c["attachment"] for c in doc["content"])
    assert text_att["contentType"] == "text/plain; charset=utf-8"
    raw = base64.b64decode(text_att["data"])
    assert raw.decode() == to_text(note) and text_att["size"] == len(raw)
    assert base64.b64decode(text_att["hash"]) == hashlib.sha1(raw).digest()
    assert json_att["contentType"] == "application/json"
    assert json.loads(base64.b64decode(json_att["data"])) == json.loads(json.dumps(to_dict(note)))
    assert "relatesTo" not in doc


def test_fhir_revision_replaces_the_previous_version(encoder):
    s, rt, note = composed("01", encoder)
    doc = to_fhir(revise_note(rt, note, "shorter", encoder=encoder))
    assert doc["id"].endswith("-v2")
    assert doc["relatesTo"] == [{"code": "replaces", "target": {"reference": f"DocumentReference/{note.note_id}-v1"}}]


def test_fhir_without_a_time_code_has_no_event(encoder):
    s = SESSIONS["29"]
    note = compose_note(s.transcript(), "soap", s.facts(minutes=12), encoder=encoder)
    assert "event" not in to_fhir(note)["context"]


# --- generator -----------------------------------------------------------------------------

class SummaryGenerator:
    """Writes one prose line per cited passage from its own words (like a grounded LLM)."""

    name = "test-summary"

    def write(self, section, passages):
        out = []
        for it in section.items:
            for e in it.evidence[:1]:
                words = passages[e.segment_id].split()
                out.append(Item(f"Client described {' '.join(words[:8])}.", [e], "quote", "summary"))
        return out


class InventingGenerator(SummaryGenerator):
    """Adds claims nobody made, risk words, and bad citations; all must be dropped."""

    name = "test-inventing"

    def write(self, section, passages):
        good = super().write(section, passages)
        e = good[0].evidence[0] if good else Evidence("s0001", 2.0, 3.0)
        return good + [
            Item("Client reported a relaxing holiday in the mountains with cousins.", [e], "quote"),
            Item("Client denies suicidal ideation.", [e], "quote"),
            Item("Client described work.", [Evidence("s9999", 0.0, 1.0)], "quote"),
            Item("Client described work.", [], "quote"),
            Item(f"Client described {' '.join(passages[e.segment_id].split()[:3])}.",
                 [replace(e, start=e.start - 500)], "quote"),
        ]


class LeakingGenerator(SummaryGenerator):
    """A grounded line that carries an identifier: redaction removes it before it leaves."""

    name = "test-leaking"

    def write(self, section, passages):
        return [replace(it, text=it.text[:-1] + " said Jennifer Morrison.") for it in super().write(section, passages)]


def test_the_extractive_generator_is_the_default(encoder):
    s, rt, note = composed("01", encoder)
    same, dropped = generate_note(rt, "soap", s.facts(), ExtractiveGenerator(), encoder=encoder)
    assert same == note and dropped == 0 and same.generator == "extractive"


def test_grounded_prose_is_kept_and_risk_and_facts_stay_as_composed(encoder):
    s, rt, note = composed("03", encoder)
    out, dropped = generate_note(rt, "soap", s.facts(), SummaryGenerator(), encoder=encoder)
    assert dropped == 0 and out.generator == "test-summary"
    assert any(it.category == "summary" for x in out.sections for it in x.items)
    keep = lambda n: [it.text for x in n.sections for it in x.items if it.kind in ("risk", "fact")]
    assert keep(out) == keep(note)
    assert unsupported_items(out, rt) == []
    assert to_dict(out)["composer"]["generator"] == "test-summary"


def test_unsupported_generator_output_is_dropped(encoder):
    s, rt, note = composed("03", encoder)
    out, dropped = generate_note(rt, "soap", s.facts(), InventingGenerator(), encoder=encoder)
    text = json.dumps(to_dict(out))
    assert "holiday" not in text and "denies" not in text and "s9999" not in text
    assert dropped == 5 * sum(1 for x in note.sections if any(it.kind not in
                              ("risk", "fact", "risk_not_assessed", "empty") for it in x.items))
    assert unsupported_items(out, rt) == []


def test_generator_output_is_redacted_before_it_leaves(encoder):
    s, rt, note = composed("01", encoder)
    out, dropped = generate_note(rt, "soap", s.facts(), LeakingGenerator(), encoder=encoder)
    text = json.dumps(to_dict(out))
    # a name the transcript does not hold fails the support check, so the line is dropped
    assert "Jennifer" not in text and "Morrison" not in text and dropped > 0
    check_egress(to_dict(out))


def test_support_check_rejects_composer_items_that_lost_their_grounds(encoder):
    s, rt, note = composed("01", encoder)
    sec = note.sections[0]
    forged = replace(note, sections=[replace(sec, items=[*sec.items, Item('"i won the lottery"', [sec.items[0].evidence[0]], "quote")]),
                                     *note.sections[1:]])
    (bad, why), = unsupported_items(forged, rt)
    assert bad.text == '"i won the lottery"' and "quotes words" in why
    labelled = replace(note, sections=[replace(sec, items=[Item("Intervention: hypnosis", [sec.items[0].evidence[0]], "intervention", "hypnosis")])])
    assert "taxonomy" in unsupported_items(labelled, rt)[0][1]


def test_revision_refused_is_a_roomnote_error():
    from roomnote.errors import RevisionRefused
    assert issubclass(RevisionRefused, RoomnoteError)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_receiver_rebuilds_the_same_note_from_its_json(fmt, encoder):
    """The inbox renders Markdown and text from the JSON it received (notes.from_dict):
    the result must be what the box itself renders, revisions and topic counts included."""
    from roomnote.notes import from_dict, to_markdown

    s = SESSIONS["01"]
    rt = s.transcript()
    note = revise_note(rt, compose_note(rt, fmt, s.facts(), encoder=encoder), "shorter")
    wire = json.loads(json.dumps(to_dict(note)))
    back = from_dict(wire)
    assert to_dict(back) == wire
    assert to_markdown(back) == to_markdown(note) and to_text(back) == to_text(note)
    check_egress(wire)
