"""`roomnote review`: the therapist's review page on the workstation.

The inbox (publish/inbox.py) receives notes and receipts into a folder; this package serves
a small local web page over that folder: a live list of notes, one note with its evidence,
redactions, consent and facts, and the actions that go back to the box (format switch,
revise, finalize), plus the therapist's own edited version, copy for the EHR and downloads.
"""
