"""Integration tests: the real local services, in the ``test`` namespace (see conftest.py)."""
