"""Decoding: the cattrs rules, the msgspec mirrors, and `to_dict`/`from_dict`.

Imports only `taskbridge._base`.
"""
