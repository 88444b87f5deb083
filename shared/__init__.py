"""Core of the image factory: configuration, planning, pipeline steps and state.

Nothing in this package imports ``azure.functions``: the adapters in ``functions/``
decode triggers and call the handlers here, so every handler runs in tests
without a Functions host.
"""
