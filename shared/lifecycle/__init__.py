"""Image lifecycle: retention, reconciliation, expiry and the watchdog."""
