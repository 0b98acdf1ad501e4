"""The public facade: `TaskBridge` and its batch, stream, wait and watch front ends.

Imports the engine and everything below it.
"""
