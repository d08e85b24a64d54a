"""The invoice sync engine: cursors, exports, backfill, the shared KSeF rate limiter."""
