"""Promise P2: the egress check re-scans outgoing payloads and refuses PHI."""
import pytest

from roomnote.redact.egress import EgressError, check_egress, scan_payload


def note_payload(item_text: str) -> dict:
    return {
        "schema": "roomnote.note/1", "note_id": "n1", "created_at": "2026-11-24T10:00:00+00:00",
        "session": {"date": "2026-11-24", "started_at": "2026-11-24T09:00:00+00:00", "device_id": "d1"},
        "sections": [{"key": "subjective", "title": "Subjective",
                      "items": [{"text": item_text, "kind": "report", "category": "mood",
                                 "evidence": [{"segment_id": "s0001", "start": 1.0, "end": 2.0, "cue": "felt"}]}]}],
        "redaction_counts": {"NAME": 1},
    }


def test_clean_note_with_a_date_of_service_passes():
    check_egress(note_payload("client reported feeling low since [NAME] moved out last week"))


@pytest.mark.parametrize("text, kind", [
    ("call me at five five five one two one two", "PHONE"),
    ("write to john dot smith at gmail dot com", "EMAIL"),
    ("it happened on the fourteenth of march", "DATE"),
])
def test_phi_in_a_note_item_is_refused(text, kind):
    with pytest.raises(EgressError) as err:
        check_egress(note_payload(text))
    assert kind in err.value.counts
    # the error names kinds and counts, never the value
    for word in ("five", "john", "smith", "gmail", "fourteenth", "march"):
        assert word not in str(err.value)


def test_plain_text_payloads_are_scanned_too():
    assert "PHONE" in scan_payload("my number is five five five one two one two")
    assert scan_payload("i slept five hours and felt ten out of ten") == {}


@pytest.mark.parametrize("text, kind", [
    ("my ssn is four one two eight eight nine nine oh one", "SSN"),
    ("she grew up in sacramento", "PLACE"),
    ("my grandmother is ninety four years old", "AGE"),
    ("the fax is five five five two two one nine nine eight eight", "FAX"),
    ("my medical record number is four four five five six six", "MRN"),
    ("my license plate is seven x y z one two three", "VEHICLE"),
    ("see www dot sarahs bakery dot com", "URL"),
    ("from ten dot oh dot oh dot fifty five", "IP"),
    ("Client Sarah Johnson reported feeling low.", "NAME"),
])
def test_every_kind_is_refused(text, kind):
    with pytest.raises(EgressError) as err:
        check_egress(note_payload(text))
    assert kind in err.value.counts


def test_pseudonyms_and_topic_markers_pass():
    check_egress(note_payload("[Person A] said [Person B] moved to [PLACE]; [discussed: immigration status]."))
    check_egress(note_payload("My sister [Person AB], doctor [Person C] and [NAME] at [PHONE]."))


def test_fact_items_are_scanned_like_any_other_item():
    """The box's own fact items pass because they hold no date (facts.py puts the date of
    service in the session block); a date or identifier in one is refused like anywhere."""
    from datetime import datetime, timedelta, timezone

    from roomnote.notes.facts import fact_items
    from roomnote.notes.model import SessionFacts
    from roomnote.notes.render import _item_dict

    start = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    facts = SessionFacts(session_id="sess1", device_id="d1", started_at=start,
                         ended_at=start + timedelta(minutes=50), duration_s=3000.0, speech_s=2400.0,
                         engine="vosk", consent="clinician-attested")
    payload = note_payload("client reported feeling low")
    payload["sections"][0]["items"] = [_item_dict(it) for it in fact_items(facts, True)]
    check_egress(payload)
    fact = note_payload("Session on 2026-11-24, 09:00-09:50, 50 min.")
    fact["sections"][0]["items"][0]["kind"] = "fact"
    assert scan_payload(fact) == {"DATE": 1}
    fact["sections"][0]["items"][0]["text"] = "Session on 2026-11-24 with Sarah Johnson, call 555-121-2121."
    with pytest.raises(EgressError) as err:
        check_egress(fact)
    assert set(err.value.counts) == {"DATE", "NAME", "PHONE"}
    assert scan_payload(note_payload("it happened on 2026-11-24")) == {"DATE": 1}


def test_receipts_with_random_ids_and_hashes_always_pass():
    """Ids, hashes and signatures are machine-written: a random hex id must never read as a
    code (this once refused a receipt whose uuid happened to look like one)."""
    import hashlib
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from roomnote.publish.messages import make_receipt

    key = Ed25519PrivateKey.generate()
    for i in range(300):
        r = make_receipt(key, office="office-1", device="box-1", note_id=hashlib.md5(b"%d" % i).hexdigest(),
                         note_version=1, note_sha256=hashlib.sha256(b"%d" % i).hexdigest(),
                         session_id=hashlib.sha1(b"%d" % i).hexdigest()[:16], action="finalized",
                         destroyed=["transcript", "session_key"])
        check_egress(json.loads(r.payload))


def test_an_evidence_cue_is_scanned_like_the_items():
    payload = note_payload("client reported feeling low")
    payload["sections"][0]["items"][0]["evidence"][0]["cue"] = "call me at five five five one two one two"
    assert "PHONE" in scan_payload(payload)


def test_heartbeats_with_real_audit_hashes_always_pass(tmp_path):
    """The status heartbeat carries the audit log's newest hash (hex, letters and digits): a
    real audit log's heads must never read as a code, or no heartbeat leaves the box."""
    from roomnote.audit import AuditLog

    log = AuditLog(tmp_path / "audit.log")
    for i in range(200):
        log.append("delivered", note_id=f"{i:032x}", version=1)
        check_egress({"state": "online", "appliance": "idle", "device_id": "room-a", "version": "0.1.0",
                      "models": {"whisper-tiny-en": "1.0.0"}, "outbox": 0, "audit_head": log.head,
                      "ts": "2026-12-02T06:30:00Z"})
