"""Fuel-depletion forecasts per generator, over the pure forecaster in ``streams.domain``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.domain.fuel_forecast import Forecast, FuelReading, update
from streams.domain.timestamps import iso
from streams.kafka import topics
from streams.worker.outputs import Outputs
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import PointStates

METHOD = "kalman-running-time-v1"


class FuelProcessor:
    """Feeds each telemetry reading to its point's forecaster (the ``fuel`` part of its record)."""

    def __init__(self, directory: PointDirectory) -> None:
        self._directory = directory

    def on_telemetry(
        self, messages: Sequence[dict[str, Any]], states: PointStates, out: Outputs
    ) -> list[Forecast | None]:
        """Update forecasts for a batch of validated telemetry (in event-time order per point);
        returns the forecast each report produced, aligned with ``messages`` (None: none)."""
        forecasts: list[Forecast | None] = []
        published: dict[str, dict[str, Any]] = {}
        for msg in messages:
            point_id = msg["point_id"]
            info = self._directory.get(point_id)
            if info is None or info.fuel_tank_l is None:
                forecasts.append(None)
                continue
            record = states.of(point_id)
            state = record.fuel
            if state is None and msg["fuel_level_l"] is None:
                forecasts.append(None)
                continue  # no fuel sensor (yet): nothing to forecast
            reading = FuelReading(msg["_ts"], msg["fuel_level_l"], msg["generator_running"])
            new_state, forecast = update(state, reading, info.fuel_tank_l)
            record.fuel = new_state
            states.changed(point_id)
            if forecast.level_l is not None:
                message = forecast_message(point_id, forecast)
                out.store(topics.FUEL_FORECAST, message)
                published[point_id] = message
            forecasts.append(forecast)
        # Every forecast is a row; the topic gets each point's newest of the batch (the same
        # thing at the live rate, where a batch holds one report per point at most).
        for point_id, message in published.items():
            out.emit(topics.FUEL_FORECAST, point_id, message)
        return forecasts


def forecast_message(point_id: str, forecast: Forecast) -> dict[str, Any]:
    """A ``points.fuel_forecast`` message (also the ``fuel_forecast`` row)."""
    return {
        "point_id": point_id,
        "ts": iso(forecast.ts),
        "fuel_level_l": forecast.level_l,
        "burn_rate_lph": forecast.burn_rate_lph,
        "hours_to_empty": forecast.hours_to_empty,
        "empty_at": None if forecast.empty_at is None else iso(forecast.empty_at),
        "confidence": forecast.confidence,
        "generator_running": forecast.generator_running,
        "refuel_detected": forecast.refuel_detected,
        "method": METHOD,
    }
