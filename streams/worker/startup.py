"""What a worker checks and prepares before it consumes anything, whichever way it is started."""

from __future__ import annotations

import psycopg

from streams.alert_config import load_alert_rules
from streams.config import Settings
from streams.domain.alert_rules import AlertRules
from streams.refuel_plan import sync_lead_times
from streams.stack.topics import ensure_topics
from streams.topics import changelog_topics


def prepare_worker(settings: Settings) -> AlertRules:
    """Validate the alert rules file, create the state changelog topic when missing, make the
    state directory, and give the database the fuel lead times of the rules; returns the rules.
    Raises :class:`~streams.alert_config.AlertConfigError` for a bad rules file."""
    rules = load_alert_rules(settings.alert_rules_file)
    ensure_topics(settings, changelog_topics(settings.app_id))
    # A fresh deployment may point NEZLAM_STATE_DIR at a folder nobody has made yet.
    (settings.state_dir / "worker").mkdir(parents=True, exist_ok=True)
    with psycopg.connect(settings.database_url) as conn:
        sync_lead_times(conn, rules)  # the refuel plan counts with the lead times the alerts use
    return rules
