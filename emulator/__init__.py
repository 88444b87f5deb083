"""Local emulator of Azure Resource Manager and DevTest Labs for the image factory.

Run it with ``python -m emulator --state-dir DIR``; see emulator/README.md.
"""
