"""Trigger adapters: decode a trigger, call one handler in ``shared``, shape the result.

No Azure SDK call lives here, so every handler runs in tests without a
Functions host.
"""
