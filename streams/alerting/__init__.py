"""Alerts beyond one point: the rules file, the on-call catalogue and delivery to
Alertmanager.

Imports ``streams.domain``, ``streams.config`` and ``streams.kafka``; never the worker or the CLI.
"""
