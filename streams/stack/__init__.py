"""The local stack: Kafka, PostgreSQL, Prometheus and Alertmanager started on this machine,
and the namespaces that keep tests and benchmarks apart from ``make run``.

Imports ``streams.config``, ``streams.kafka``, ``streams.db`` and ``streams.resources``; never the
worker or the CLI.
"""
