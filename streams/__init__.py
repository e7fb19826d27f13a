"""Live telemetry and alerting pipeline for Ukraine's Invincibility Points network.

The packages import one way (``tests/unit/test_layout.py``): ``domain`` imports nothing of the
project; ``kafka``, ``sinks`` and ``alerting`` import ``domain``, ``config`` and ``contract``; the
worker imports those; only ``cli`` imports ``cli``.
"""

__version__ = "0.1.0"
