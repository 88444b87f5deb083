"""Demo of the image factory on the local stack: ``python -m scripts.demo``."""
