"""The simulated national network: a pure world model and the Kafka shell that publishes it.

Model (no I/O): ``registry``, ``world``, ``fuel``, ``grid``, ``people``, ``climate``,
``geography``, ``faults``, ``clock``, ``localtime``. Shell: ``producer``, ``runner``;
the command is ``streams.cli.simulate``. See docs/simulator.md.

Imports ``streams.config``, ``streams.contract`` and ``streams.kafka``; never the worker or the
CLI.
"""
