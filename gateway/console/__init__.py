"""The staff console: handoff queue, taking a conversation over, transcripts."""
