"""Local runner that hosts the Functions app on Azurite without Azure Functions Core Tools.

Run it with ``python -m devhost``; README.md in this folder lists what it emulates.
"""
