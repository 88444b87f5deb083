"""Benchmark and measurement harness of the image factory on the local stack.

``python -m scripts.bench`` runs the pipeline on a generated fleet and
writes ``.bench/results.json`` and ``docs/benchmarks.md``. The modules
also serve the chaos, fault and scale tests.
"""
