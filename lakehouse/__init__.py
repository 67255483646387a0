"""The lakehouse: families, commands, projections in use, and the entry points (CLI, server).

Importing this package is cheap: the CLI's mutation verbs must start fast.
"""

__all__: list[str] = []
