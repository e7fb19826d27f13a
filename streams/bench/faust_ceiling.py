"""A measuring instrument, not part of the pipeline: the fastest a Faust worker can read.

``make bench`` (:mod:`streams.bench.worker_throughput`) runs this app as a subprocess
between the bare aiokafka consumer and the real worker::

    python -m faust -A streams.bench.faust_ceiling worker -l warn

It has one agent on the worker's input topics that takes the same batches as the ingest agents
(``stream.take_events(sink_batch_size, within=sink_batch_seconds)``) and does nothing with
them: no decoding, no state tables, no produce, no database. Its rate is therefore Faust's own
per-event overhead (consumer, stream, acks, offset commits), the ceiling for any worker built
on Faust on this machine, whatever the agents do.

Configured by the same ``NEZLAM_*`` variables as the worker; the benchmark sets
``NEZLAM_APP_ID`` (the consumer group, whose start offsets it commits beforehand) and
``NEZLAM_STATE_DIR`` (a temporary directory). Its web server is off and its store is in memory.
"""

from __future__ import annotations

import faust

from streams.config import get_settings
from streams.kafka import topics
from streams.worker.faust_app import faust_app_kwargs

settings = get_settings()

app = faust.App(
    settings.app_id,
    **faust_app_kwargs(settings),
    store="memory://",
    datadir=str(settings.state_dir / "faust-ceiling"),
    web_enabled=False,
)

inputs = app.topic(*(spec.name for spec in topics.INPUT_TOPICS), key_type=bytes, value_type=bytes)


@app.agent(inputs, name="faust-ceiling")
async def take_and_drop(stream: faust.StreamT[bytes]) -> None:
    """Take batches like the ingest agents and drop them; acks and commits still happen."""
    assert isinstance(stream, faust.Stream)  # take_events is not on the StreamT protocol
    async for _events in stream.take_events(
        settings.sink_batch_size, within=settings.sink_batch_seconds
    ):
        pass
