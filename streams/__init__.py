"""Live telemetry and alerting pipeline for Ukraine's Invincibility Points network."""

__version__ = "0.1.0"
