"""Grafana dashboards as code: one module per dashboard, built with grafana-foundation-sdk.

``python -m streams.dashboards`` (``make dashboards``) writes them to ``dashboards/*.json``;
``tests/unit/test_dashboards.py`` fails when the committed files differ from what this code
generates. See ``docs/dashboards.md``.

Imports ``streams.config`` and ``streams.domain``; never the worker or the CLI.
"""
