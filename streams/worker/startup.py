"""What a worker checks and prepares before it consumes anything, whichever way it is started."""

from __future__ import annotations

import gc

import psycopg

from streams.alerting.rules_file import load_alert_rules
from streams.config import Settings
from streams.domain.alert_rules import AlertRules
from streams.kafka.topic_admin import ensure_topics
from streams.kafka.topics import changelog_topics
from streams.logistics.refuel_plan import sync_lead_times

# The worker allocates hundreds of objects per event, nearly all short-lived. With CPython's
# default first threshold (700) the collector took 15-20 % of the computations' CPU (measured
# in-process over 50,000 reports); at 20,000 it runs about thirty times less often, for the
# same throughput as at 50,000 and less garbage held between collections. The oldest
# generation is collected every 10 collections of the middle one, so garbage in reference
# cycles does not pile up (at CPython's 100 the peak memory grew by 85 MiB; collecting the
# middle one every 5 cost a fifth of the worker's throughput; `make bench`).
GC_THRESHOLDS = (20_000, 20, 10)


def tune_garbage_collection() -> None:
    """Collect less often, and never traverse what was built at startup (modules, settings,
    the app): a full collection then walks only what the worker keeps."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def prepare_worker(settings: Settings) -> AlertRules:
    """Validate the alert rules file, create the state changelog topic when missing, make the
    state directory, give the database the fuel lead times of the rules, and tune the garbage
    collector; returns the rules.
    Raises :class:`~streams.alerting.rules_file.AlertConfigError` for a bad rules file."""
    rules = load_alert_rules(settings.alert_rules_file)
    ensure_topics(settings, changelog_topics(settings.app_id))
    # A fresh deployment may point NEZLAM_STATE_DIR at a folder nobody has made yet.
    (settings.state_dir / "worker").mkdir(parents=True, exist_ok=True)
    with psycopg.connect(settings.database_url) as conn:
        sync_lead_times(conn, rules)  # the refuel plan counts with the lead times the alerts use
    tune_garbage_collection()
    return rules
