"""Keeping records in sync: triage (what memory and DNS decide), plan (pure), apply
(single-entry API writes), one round (engine), and the records memory."""
