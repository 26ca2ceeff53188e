"""Reviewing past conversations: search, transcripts, tags, notes, labels, exports,
training data, stats, the audit log and erasure (CONTRACT.md "Staff console API")."""
