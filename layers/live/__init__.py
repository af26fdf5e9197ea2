"""The live pipeline: bus, stream schema and decoder, ingest, live state, snapshots, history, feeds."""
