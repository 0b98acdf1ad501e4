"""Values every layer shares: errors, task models, settings values, secret handling.

The bottom layer: it imports nothing else of taskbridge.
"""
