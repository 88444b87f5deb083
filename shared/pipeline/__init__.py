"""Stage handlers of the pipeline: plan, build, capture, distribute, finalize.

Each handler takes a :class:`~shared.context.Factory` and a stage message and
is idempotent: a repeated delivery, or a delivery after a crash half-way,
leaves the same result.
"""
