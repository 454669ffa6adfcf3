"""The note formats: which sections each has and what the composer puts in each.

A section lists the kinds of content it holds, in order:
  facts          what the device observed: duration, speech time, modality, time code
  reports        client statements about feelings, symptoms and events (verbatim quotes)
  goals          goals the client names (verbatim quotes)
  themes         topics the session dwelt on (labels, with evidence)
  risk           risk statements, screening questions and denials, or "Risk not assessed"
  interventions  therapeutic techniques heard in the session (labels, with evidence)
  responses      how the client took up the work (verbatim quotes)
  plan           homework, next steps, next session (verbatim quotes)
Every format holds every kind but facts exactly once, so nothing found is dropped;
facts sit in the formats that have an objective-data section and in every note's header.
"""
from __future__ import annotations

from dataclasses import dataclass

CONTENT_KINDS = ("facts", "reports", "goals", "themes", "risk", "interventions", "responses", "plan")


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    purpose: str  # what a clinician expects here; documentation only, never printed in a note
    contents: tuple[str, ...]


FORMATS: dict[str, list[SectionSpec]] = {
    "soap": [
        SectionSpec("subjective", "Subjective",
                    "The client's own account: feelings, symptoms, events, goals, in their words.",
                    ("reports", "goals")),
        SectionSpec("objective", "Objective",
                    "What the device observed (duration, speech time, modality) and the "
                    "interventions heard. Audio only: no claims about appearance or affect.",
                    ("facts", "interventions")),
        SectionSpec("assessment", "Assessment",
                    "Themes of the session, risk, and how the client responded.",
                    ("themes", "risk", "responses")),
        SectionSpec("plan", "Plan", "Homework, next steps and the next session.", ("plan",)),
    ],
    "dap": [
        SectionSpec("data", "Data",
                    "Observed facts, the client's account and the interventions heard.",
                    ("facts", "reports", "interventions")),
        SectionSpec("assessment", "Assessment",
                    "Themes of the session, risk, and how the client responded.",
                    ("themes", "risk", "responses")),
        SectionSpec("plan", "Plan", "Goals, homework, next steps and the next session.",
                    ("goals", "plan")),
    ],
    "birp": [
        SectionSpec("behavior", "Behavior",
                    "How the client presented, in their words: reports, goals, themes, risk.",
                    ("reports", "goals", "themes", "risk")),
        SectionSpec("intervention", "Intervention", "The techniques used in the session.",
                    ("interventions",)),
        SectionSpec("response", "Response", "How the client responded to the interventions.",
                    ("responses",)),
        SectionSpec("plan", "Plan", "Homework, next steps and the next session.", ("plan",)),
    ],
    "girp": [
        SectionSpec("goals", "Goals", "The goals the client named or worked on.", ("goals",)),
        SectionSpec("intervention", "Intervention", "The techniques used toward the goals.",
                    ("interventions",)),
        SectionSpec("response", "Response",
                    "The client's response and progress: responses, reports, themes, risk.",
                    ("responses", "reports", "themes", "risk")),
        SectionSpec("plan", "Plan", "Homework, next steps and the next session.", ("plan",)),
    ],
}

FORMAT_TITLES = {"soap": "SOAP", "dap": "DAP", "birp": "BIRP", "girp": "GIRP"}


def sections_for(fmt: str) -> list[SectionSpec]:
    """The sections of a format; ValueError naming the valid formats if there is none."""
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown note format {fmt!r}; valid formats: {', '.join(sorted(FORMATS))}") from None
