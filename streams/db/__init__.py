"""The database schema's runner: the SQL migrations of ``schemas/migrations``, applied in order.

Imports ``streams.config`` and ``streams.resources`` only.
"""
