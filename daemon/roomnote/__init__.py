"""roomnote: a privacy-first clinical scribe that runs on a box in the therapist's office."""

__version__ = "0.1.0"
