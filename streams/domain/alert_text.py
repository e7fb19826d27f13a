"""How alerts read: one line in the words on-call staff use, in English or Ukrainian.

On-call staff read these on a phone at night, so each line says where (the point's name and
oblast), what is wrong, and for fuel what to do. Times are local wall-clock times (the
configured zone, Europe/Kyiv by default), because that is what a dispatcher plans with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["en", "uk"]
LANGUAGES: tuple[Language, ...] = ("en", "uk")

_EN: Mapping[str, str] = {
    "fuel_low": "Generator at {where} runs dry in about {hours}, around {at} — "
    "plan a fuel delivery",
    "fuel_low.stopped": "Generator at {where} has fuel for about {hours} of running — "
    "plan a fuel delivery",
    "fuel_critical": "Generator at {where} runs dry in about {hours}, around {at} — "
    "send fuel now, delivery takes {lead}",
    "fuel_critical.stopped": "Generator at {where} has fuel for only {hours} of running — "
    "send fuel now, delivery takes {lead}",
    "fuel.resolved": "Generator at {where} has enough fuel again: about {hours} of running",
    "fuel.refuelled": "Generator at {where} refuelled: about {hours} of running",
    "fuel_low.refuelled": "Generator at {where} refuelled, but only for about {hours}, "
    "until around {at} — plan the next delivery",
    "fuel_unreachable": "No truck reaches {where} before its generator runs dry: {reason}",
    "fuel_unreachable.no_reason": "no truck in the plan reaches it in time",
    "fuel_unreachable.resolved": "A truck is planned for {where} again",
    "fuel.refuelled_unreachable": "Generator at {where} refuelled",
    "point_silent": "{where} is silent: no reports since {since}",
    "point_silent.resolved": "{where} reports again",
    "activation_overdue": "{where} is not open {deadline} after the activation order of {at}",
    "activation_overdue.resolved": "{where} no longer awaits opening (opened or stood down)",
    "over_capacity": "{where} is over capacity: {people} people for {capacity} places",
    "over_capacity.resolved": "{where} is within capacity again: {people} people "
    "for {capacity} places",
    "over_capacity.expired": "{where}: over-capacity estimate expired (arrivals without "
    "departure aged out, no new count): {people} people for {capacity} places",
    "no_power": "{where} is open without power: no grid and the generator is not running",
    "no_power.battery": "{where} is open on batteries: no grid and the generator is not running",
    "no_power.resolved": "{where} has power again",
    "heating_off": "{where} is open with the heating off{inside}",
    "heating_off.cold": "{where} is cold inside: {temp}",
    "heating_off.inside": ", {temp} inside",
    "heating_off.resolved": "{where} is heated again",
    "internet_down": "{where} is open without internet",
    "internet_down.resolved": "{where} is online again",
    "point.not_open": "{where} is no longer open (now {status})",
    "unit.hours": "{n} h",
    "unit.minutes": "{n} min",
    "unit.celsius": "{n} °C",
}

_UK: Mapping[str, str] = {
    "fuel_low": "Генератор, {where}: пального на {hours}, скінчиться близько {at} — "
    "сплануйте доставку",
    "fuel_low.stopped": "Генератор, {where}: пального на {hours} роботи — сплануйте доставку",
    "fuel_critical": "Генератор, {where}: пального на {hours}, скінчиться близько {at} — "
    "везіть пальне зараз, доставка займає {lead}",
    "fuel_critical.stopped": "Генератор, {where}: пального лише на {hours} роботи — "
    "везіть пальне зараз, доставка займає {lead}",
    "fuel.resolved": "Генератор, {where}: пального знову достатньо, на {hours} роботи",
    "fuel.refuelled": "Генератор, {where}: заправлено, пального на {hours} роботи",
    "fuel_low.refuelled": "Генератор, {where}: заправлено, але лише на {hours}, "
    "приблизно до {at} — сплануйте наступну доставку",
    "fuel_unreachable": "Жодна машина не встигає до {where}, поки є пальне: {reason}",
    "fuel_unreachable.no_reason": "у плані немає машини, що встигає",  # noqa: RUF001
    "fuel_unreachable.resolved": "До {where} знову запланована машина",
    "fuel.refuelled_unreachable": "Генератор, {where}: заправлено",
    "point_silent": "{where} мовчить: немає звітів з {since}",
    "point_silent.resolved": "{where} знову на зв'язку",
    "activation_overdue": "{where} не відкрився за {deadline} після наказу про активацію о {at}",  # noqa: RUF001
    "activation_overdue.resolved": "{where} більше не очікує відкриття (відкрився або відбій)",  # noqa: RUF001
    "over_capacity": "{where} переповнений: {people} людей на {capacity} місць",
    "over_capacity.resolved": "{where} більше не переповнений: {people} людей на {capacity} місць",
    "over_capacity.expired": "{where}: оцінка переповнення застаріла (прибуття без вибуття, "
    "нового підрахунку немає): {people} людей на {capacity} місць",
    "no_power": "{where} відкритий без живлення: немає мережі, генератор не працює",
    "no_power.battery": "{where} відкритий на батареях: немає мережі, генератор не працює",
    "no_power.resolved": "{where} знову з живленням",
    "heating_off": "{where} відкритий без опалення{inside}",
    "heating_off.cold": "{where}: холодно всередині, {temp}",
    "heating_off.inside": ", всередині {temp}",
    "heating_off.resolved": "{where} знову опалюється",
    "internet_down": "{where} відкритий без інтернету",
    "internet_down.resolved": "{where} знову з інтернетом",
    "point.not_open": "{where} більше не відкритий (тепер {status})",
    "unit.hours": "{n} год",
    "unit.minutes": "{n} хв",
    "unit.celsius": "{n} °C",
}

_TEXTS: Mapping[Language, Mapping[str, str]] = {"en": _EN, "uk": _UK}


def say(language: Language, key: str, **values: object) -> str:
    """The line ``key`` (e.g. ``fuel_low`` or ``no_power.resolved``) with ``values`` filled in."""
    return _TEXTS[language][key].format(**values)


def where(name: str, oblast: str) -> str:
    """How a point is named in a line: its name and, in brackets, its oblast."""
    return f"{name} ({oblast})"


def hours(value: float, language: Language) -> str:
    """A duration given in hours, as precise as it is useful: 45 min, 3.5 h, 14 h."""
    if value < 1.0:
        return say(language, "unit.minutes", n=max(1, round(value * 60)))
    if value < 10.0:
        return say(language, "unit.hours", n=f"{value:.1f}".removesuffix(".0"))
    return say(language, "unit.hours", n=f"{value:.0f}")


def duration(seconds: float, language: Language) -> str:
    """A duration given in seconds, in minutes below two hours, else in hours."""
    if seconds < 2 * 3600:
        return say(language, "unit.minutes", n=round(seconds / 60))
    return hours(seconds / 3600, language)


def celsius(value: float, language: Language) -> str:
    """A temperature, one decimal."""
    return say(language, "unit.celsius", n=f"{value:.1f}")


def clock(ts: float, now: float, zone: str) -> str:
    """Local time of ``ts``: ``04:10`` on the day of ``now``, else ``16.01 04:10``."""
    tz = _zone(zone)
    moment = datetime.fromtimestamp(ts, tz)
    if moment.date() == datetime.fromtimestamp(now, tz).date():
        return moment.strftime("%H:%M")
    return moment.strftime("%d.%m %H:%M")


def zoned_clock(ts: float, now: float, zone: str, lang: Language) -> str:
    """:func:`clock` naming its zone, as summaries say it: ``09:59 Kyiv time``.

    On-call read summaries far from the point (and Alertmanager shows UTC elsewhere), so a bare
    ``09:59`` is ambiguous; the zone's city (the last part of its IANA name) removes the doubt.
    """
    city = zone.rsplit("/", 1)[-1].replace("_", " ")
    local = clock(ts, now, zone)
    if lang == "uk":
        return f"{local} ({city})"
    return f"{local} {city} time"


def check_zone(zone: str) -> None:
    """Raise ``ValueError`` unless ``zone`` is an IANA time zone known on this machine."""
    try:
        _zone(zone)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {zone!r} (expected e.g. Europe/Kyiv)") from exc


@cache
def _zone(zone: str) -> tzinfo:
    return ZoneInfo(zone)
