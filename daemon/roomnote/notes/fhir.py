"""The note as a FHIR R4 DocumentReference, for EHRs that import FHIR documents.

The note travels as attachments (base64): the plain text (render.to_text) for reading,
and the roomnote.note/2 JSON for systems that want the structure. The box holds no client
identity, so `subject` is a placeholder reference by display only; the practice's EHR
links the document to its patient. `author` is the device. docStatus is "preliminary"
until the therapist finalises the note (a later version is a new DocumentReference whose
relatesTo says it replaces the one before).
"""
from __future__ import annotations

import base64
import hashlib
import json

from .formats import FORMAT_TITLES
from .model import Note
from .render import to_dict, to_text

LOINC = "http://loinc.org"
PROGRESS_NOTE = ("11506-3", "Progress note")
PSYCHOTHERAPY_SETTING = ("394913002", "Psychotherapy")  # SNOMED CT practice setting
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ID_SYSTEM = "urn:roomnote:note"
DEVICE_SYSTEM = "urn:roomnote:device"
SUBJECT_PLACEHOLDER = "Client of this session (identity held by the practice EHR, not by the device)"


def _attachment(content_type: str, data: bytes, title: str, creation: str) -> dict:
    return {"contentType": content_type, "language": "en",
            "data": base64.b64encode(data).decode("ascii"), "size": len(data),
            "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
            "title": title, "creation": creation}


def resource_id(note: Note) -> str:
    return f"{note.note_id}-v{note.version}"


def to_fhir(note: Note) -> dict:
    f = note.facts
    title = FORMAT_TITLES.get(note.format, note.format.upper())
    created = note.created_at.isoformat()
    text = to_text(note).encode("utf-8")
    structured = json.dumps(to_dict(note), ensure_ascii=False).encode("utf-8")
    doc: dict = {
        "resourceType": "DocumentReference",
        "id": resource_id(note),
        "identifier": [{"system": ID_SYSTEM, "value": f"{note.note_id}/v{note.version}"}],
        "status": "current",
        "docStatus": "preliminary",
        "type": {"coding": [{"system": LOINC, "code": PROGRESS_NOTE[0], "display": PROGRESS_NOTE[1]}],
                 "text": f"{title} psychotherapy progress note"},
        "subject": {"display": SUBJECT_PLACEHOLDER},
        "date": created,
        "author": [{"identifier": {"system": DEVICE_SYSTEM, "value": f.device_id},
                    "display": f"roomnote device {f.device_id}"}],
        "description": f"{title} note, version {note.version}, composed on the device",
        "content": [
            {"attachment": _attachment("text/plain; charset=utf-8", text, f"{title} note", created)},
            {"attachment": _attachment("application/json", structured, "roomnote.note/2", created),
             "format": {"system": "urn:roomnote:schema", "code": "roomnote.note/2"}},
        ],
        "context": {
            "period": {"start": f.started_at.isoformat(), "end": f.ended_at.isoformat()},
            "practiceSetting": {"coding": [{"system": SNOMED, "code": PSYCHOTHERAPY_SETTING[0],
                                            "display": PSYCHOTHERAPY_SETTING[1]}]},
        },
    }
    if note.cpt_code:
        doc["context"]["event"] = [{"coding": [{"system": CPT, "code": note.cpt_code}]}]
    if note.version > 1:
        doc["relatesTo"] = [{"code": "replaces",
                             "target": {"reference": f"DocumentReference/{note.note_id}-v{note.version - 1}"}}]
    return doc
