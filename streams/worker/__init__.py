"""The worker: Faust in one module (``faust_app``), and around it the tasks, checkpoints,
metrics and web endpoint that run the pure core of ``streams.domain`` on Kafka.

Imports ``streams.domain``, ``streams.kafka``, ``streams.sinks``, ``streams.alerting``,
``streams.config`` and ``streams.contract``; never the CLI, the stack, the simulator or the
benchmarks.
"""
