"""Clinical notes composed on the box: formats, composer, encoder, revision, rendering.

    note = compose_note(redacted_transcript, "soap", facts, encoder=load_encoder(...))
    note2 = revise_note(redacted_transcript, note, "shorter")
    to_dict(note)      # JSON-ready, schema "roomnote.note/2" (docs/note-schema.md)
    to_markdown(note)  # for the clinician
    to_text(note)      # plain text for an EHR
    to_fhir(note)      # FHIR R4 DocumentReference
"""
from .composer import compose_note
from .fhir import to_fhir
from .formats import FORMATS
from .model import Evidence, Item, Note, Revision, Section, SessionFacts
from .render import from_dict, to_dict, to_markdown, to_text
from .revise import revise_note

__all__ = ["compose_note", "revise_note", "FORMATS", "to_dict", "from_dict", "to_markdown", "to_text", "to_fhir",
           "Note", "SessionFacts", "Section", "Item", "Evidence", "Revision"]
