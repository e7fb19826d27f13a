"""Outdoor and indoor temperature: a cold season, a daily cycle, heated rooms cooling when off.

Outdoor: a yearly sinusoid (about -4 °C in late January, +21 °C in late July), a daily swing
of ±3 °C (coldest at 03:00 local) and 0.4 °C colder per degree of latitude north of 49°.
Indoor: relaxes exponentially towards the heating set point (17.5-21.5 °C) while heating is
on, or towards outdoors + 6 °C (buildings; tents + 2 °C) when it is off, with a time constant of
3 h (buildings) or 45 min (tents).
"""

from __future__ import annotations

import math
import time

HEATING_BELOW_C = 15.0  # a point heats when it is colder than this outside
BUILDING_TAU_S = 3 * 3600.0
TENT_TAU_S = 45 * 60.0
BUILDING_UNHEATED_GAIN_C = 6.0  # walls, neighbours, people: a cold room stays above outdoors
TENT_UNHEATED_GAIN_C = 2.0
SETPOINT_C = (17.5, 21.5)


def outdoor_c(t: float, local_hour: float, lat: float) -> float:
    """Outdoor temperature at epoch ``t`` for a place at latitude ``lat``."""
    day_of_year = time.gmtime(t).tm_yday
    season = 8.5 - 12.5 * math.cos(2.0 * math.pi * (day_of_year - 20) / 365.25)
    daily = -3.0 * math.cos(2.0 * math.pi * (local_hour - 3.0) / 24.0)
    return season + daily - 0.4 * (lat - 49.0)


def relax(current_c: float, target_c: float, dt_s: float, tau_s: float) -> float:
    """Indoor temperature after ``dt_s`` seconds of moving towards ``target_c``."""
    return target_c + (current_c - target_c) * math.exp(-dt_s / tau_s)
