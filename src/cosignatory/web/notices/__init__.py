"""Email notices: an outbox filled in the event's transaction, sent after it commits."""
