"""The engine: one request from admission to a typed result.

Gates (concurrency, rate limit, queue wait), the HTTP attempt, the retry rule and the
statistics. Imports `_base`, `_decode` and the provider kit; knows no provider by name.
"""
