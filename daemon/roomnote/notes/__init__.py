"""Clinical notes composed on the box: formats, composer, rendering.

    note = compose_note(redacted_transcript, "soap", facts)
    to_dict(note)      # JSON-ready, schema "roomnote.note/1"
    to_markdown(note)  # for the clinician
"""
from .composer import compose_note
from .formats import FORMATS
from .model import Evidence, Item, Note, Section, SessionFacts
from .render import to_dict, to_markdown

__all__ = ["compose_note", "FORMATS", "to_dict", "to_markdown", "Note", "SessionFacts",
           "Section", "Item", "Evidence"]
