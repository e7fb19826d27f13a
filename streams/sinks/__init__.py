"""Where the worker's outputs go: batched, idempotent database writes and batched Kafka
output messages.

Imports ``streams.config``, ``streams.kafka`` and ``streams.domain``; never the worker or the CLI.
"""
