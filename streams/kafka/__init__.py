"""How the project talks to Kafka: client settings, topic names, offsets, outage logging.

Imports only ``streams.config`` and ``streams.contract`` of the project.
"""
