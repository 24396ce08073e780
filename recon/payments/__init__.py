"""Money that moved: intents and their references, webhook ingest, the spool, recording."""
