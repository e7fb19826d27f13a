"""The message contract: the one place that parses and validates a message of any topic.

Every consumer calls :meth:`Contract.validate` and gets either the message as a dict or a
:class:`Rejection` that says, in words a person fixing a field gateway understands, which
field broke which rule. :func:`dead_letter` turns a rejection into the dead-letter record.
The JSON Schemas live in ``schemas/`` (one per topic, named in :mod:`streams.kafka.topics`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import fastjsonschema
import orjson

from streams.domain.timestamps import iso
from streams.kafka.topics import INPUT_TOPICS, OUTPUT_TOPICS, deadletter_spec
from streams.resources import schema_file

#: Every rejection reason; the dead-letter schema's ``reason`` enum lists the same codes.
REASONS: tuple[str, ...] = (
    "invalid_json",
    "not_an_object",
    "schema",
    "future_timestamp",
    "unknown_point",
    "unknown_topic",
    "database_rejected",
    "too_large",
    "old_timestamp",
    "missing_key",
    "key_mismatch",
    "internal_error",
)

#: The dead-letter record keeps at most this much of the original payload (``payload``); the
#: whole original is identified by ``payload_bytes`` and ``payload_sha256`` and stays readable
#: at its source topic, partition and offset for the topic's retention. Every other field is
#: bounded too, so a dead letter stays far below Kafka's 1 MB record limit whatever came in.
DEADLETTER_EXCERPT_BYTES = 16 * 1024
_FIELD_MAX_CHARS = 1024
# Nothing before this year reaches date arithmetic (datetime cannot go below year 1, and an
# offset can push "0001-01-01T00:30:00+01:00" there); real reports are never that old.
_EARLIEST_YEAR = 2000

# RFC 3339 section 5.6: 'T' and 'Z' in either case, the offset with a colon. Stricter than
# fastjsonschema's built-in date-time regex, which also takes '+0200'.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
# A date-time that would be valid but for the missing offset: the commonest gateway mistake.
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?", re.ASCII)
_TS_EXAMPLE = "2025-01-15T08:30:00+02:00"
_SHOW_MAX = 80

_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "object": "a JSON object",
    "array": "a JSON array",
}
_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was not accepted; becomes a dead-letter record.

    ``reason`` is one of :data:`REASONS`; ``field`` a dotted path (``labels.oblast``) or None
    when the message as a whole is at fault; ``value`` the offending value (None when absent);
    ``rule`` the broken rule (``minimum: 0``, ``enum: open|standby|closed``); ``message`` one
    sentence that names the topic, the field and the value.
    """

    reason: str
    field: str | None
    value: object
    rule: str | None
    message: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A topic's compiled validator and whether its schema declares ``ts``."""

    validate: Callable[[Any], Any]
    has_ts: bool


class Contract:
    """Validates messages of every topic against its JSON Schema (validators compiled once).

    ``deadletter_topic`` (the configured dead-letter topic name) is optional: pass it to
    validate dead-letter records too.
    """

    def __init__(
        self,
        *,
        max_future_skew_seconds: float,
        max_age_seconds: float = float("inf"),
        max_message_bytes: int = 1024 * 1024,
        deadletter_topic: str | None = None,
    ) -> None:
        schemas = {spec.name: spec.schema for spec in (*INPUT_TOPICS, *OUTPUT_TOPICS)}
        if deadletter_topic is not None:
            schemas[deadletter_topic] = deadletter_spec(deadletter_topic).schema
        self._skew = max_future_skew_seconds
        self._max_age = max_age_seconds
        self._max_bytes = max_message_bytes
        self._compiled = {
            topic: _compile(schema) for topic, schema in schemas.items() if schema is not None
        }

    def accept(
        self, topic: str, key: bytes | None, raw: bytes, *, now: float
    ) -> dict[str, Any] | Rejection:
        """Validate one consumed message of an input topic: size, content, then its key.

        Input topics are keyed by ``point_id`` (a point's messages share a partition, and its
        state lives there): the key must be present and equal the body's ``point_id``. Never
        raises: an unexpected error becomes an ``internal_error`` rejection, so one message can
        never take its batch down.
        """
        try:
            if len(raw) > self._max_bytes:
                return Rejection(
                    "too_large", None, len(raw), f"max message size: {self._max_bytes} bytes",
                    f"{topic}: the message is {len(raw)} bytes, at most {self._max_bytes} "
                    "allowed (NEZLAM_MAX_MESSAGE_BYTES)",
                )
            result = self.validate(topic, raw, now=now)
            if isinstance(result, Rejection):
                return result
            return _check_key(topic, key, result)
        except Exception as exc:  # any failure is this message's, never the batch's
            return internal_error(topic, exc)

    def validate(self, topic: str, raw: bytes | str, *, now: float) -> dict[str, Any] | Rejection:
        """Parse and validate one message of ``topic``.

        Returns the message as a dict, with ``ts`` kept as sent and its epoch seconds added
        under ``_ts`` (private, not part of the contract), or the first problem found as a
        :class:`Rejection`. ``now`` (epoch seconds) bounds how far ``ts`` may be in the future.
        """
        compiled = self._compiled.get(topic)
        if compiled is None:
            return Rejection(
                "unknown_topic",
                None,
                topic,
                None,
                f"no schema for topic {topic!r}; known topics: {', '.join(self._compiled)}",
            )
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _invalid_json(topic, raw, exc)
        if type(message) is not dict:
            return Rejection(
                "not_an_object",
                None,
                None,
                "type: object",
                f"{topic}: the message is {_TYPE_WORDS[_json_type(message)]}, "
                "must be a JSON object",
            )
        try:
            compiled.validate(message)
        except fastjsonschema.JsonSchemaValueException as exc:
            return _schema_rejection(topic, exc)
        if compiled.has_ts:
            return self._check_ts(topic, message, now)
        return message

    def _check_ts(
        self, topic: str, message: dict[str, Any], now: float
    ) -> dict[str, Any] | Rejection:
        ts: str = message["ts"]
        if int(ts[:4]) < _EARLIEST_YEAR:
            return self._too_old(topic, ts, f"year >= {_EARLIEST_YEAR}")
        epoch = _from_iso(ts).timestamp()  # the schema's format check proved it parses
        if now - epoch > self._max_age:
            return self._too_old(topic, ts, f"max age: {self._max_age:g} s")
        ahead = epoch - now
        if ahead > self._skew:
            return Rejection(
                "future_timestamp",
                "ts",
                ts,
                f"max future skew: {self._skew:g} s",
                f"{topic}: field 'ts' is {ts!r}, {ahead:.0f} s ahead of the pipeline clock; "
                f"at most {self._skew:g} s allowed (check the sender's clock and time zone)",
            )
        message["_ts"] = epoch
        return message

    def _too_old(self, topic: str, ts: str, rule: str) -> Rejection:
        return Rejection(
            "old_timestamp",
            "ts",
            ts,
            rule,
            f"{topic}: field 'ts' is {ts!r}, older than the pipeline keeps "
            f"(at most {self._max_age:g} s before its clock, NEZLAM_MAX_EVENT_AGE_SECONDS); "
            "check the sender's clock",
        )


def _check_key(
    topic: str, key: bytes | None, message: dict[str, Any]
) -> dict[str, Any] | Rejection:
    point_id = message.get("point_id")
    if point_id is None:
        return message  # a topic not keyed by point
    if key is None:
        return Rejection(
            "missing_key", None, None, "key: point_id",
            f"{topic}: the message has no key; key it by its point_id ({_show(point_id)})",
        )
    if key != point_id.encode():
        shown = key.decode("utf-8", errors="backslashreplace")
        return Rejection(
            "key_mismatch", "point_id", point_id, "key == point_id",
            f"{topic}: the message key {_show(shown)} differs from its point_id "
            f"{_show(point_id)}; key every message by its point_id",
        )
    return message


def internal_error(topic: str, exc: BaseException) -> Rejection:
    """The rejection for a message whose handling failed unexpectedly (a bug to report)."""
    return Rejection(
        "internal_error", None, None, None,
        _clip(f"{topic}: handling this message failed ({type(exc).__name__}: {exc}); "
              "please report it with this dead letter"),
    )


def unknown_point(topic: str, point_id: str) -> Rejection:
    """The rejection for a message about a point that ``points.registry`` does not know."""
    return Rejection(
        "unknown_point",
        "point_id",
        point_id,
        "registered in points.registry",
        f"{topic}: field 'point_id' is {point_id!r}, which is not in points.registry; "
        "register the point before sending its data",
    )


def dead_letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    raw: bytes | str,
    rejection: Rejection,
    *,
    now: float,
) -> bytes:
    """The dead-letter record (JSON bytes valid against ``deadletter.schema.json``).

    Bounded in size whatever the input: ``payload`` holds at most
    :data:`DEADLETTER_EXCERPT_BYTES` of the original (as text when it is UTF-8, else base64),
    ``payload_truncated`` says whether that is all of it, and ``payload_bytes`` and
    ``payload_sha256`` identify the original, which stays at its source offset for replay.
    ``now`` (epoch seconds) stamps ``rejected_at``.
    """
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw
    excerpt = data[:DEADLETTER_EXCERPT_BYTES]
    payload, encoding, kept = _encode_payload(excerpt, len(excerpt) < len(data))
    record = {
        "source_topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else _clip(key.decode("utf-8", errors="backslashreplace")),
        "reason": rejection.reason,
        "field": None if rejection.field is None else _clip(rejection.field),
        "value": _bounded_value(rejection.value),
        "rule": None if rejection.rule is None else _clip(rejection.rule),
        "message": _clip(rejection.message),
        "payload": payload,
        "payload_encoding": encoding,
        "payload_truncated": kept < len(data),
        "payload_bytes": len(data),
        "payload_sha256": hashlib.sha256(data).hexdigest(),
        "rejected_at": iso(now),
    }
    # default=repr: a Rejection built elsewhere may carry a value JSON has no type for.
    return orjson.dumps(record, default=repr)


def _clip(text: str) -> str:
    return text if len(text) <= _FIELD_MAX_CHARS else text[: _FIELD_MAX_CHARS - 3] + "..."


def _bounded_value(value: object) -> object:
    """The offending value as sent, or its start as text when it is large."""
    if isinstance(value, str):
        return _clip(value)
    text = orjson.dumps(value, default=repr).decode()
    return value if len(text) <= _FIELD_MAX_CHARS else _clip(text)


def load_schema(name: str) -> dict[str, Any]:
    """A schema from ``schemas/`` by file name (``points.telemetry.schema.json``) or stem."""
    file_name = name if name.endswith(".schema.json") else f"{name}.schema.json"
    schema: dict[str, Any] = orjson.loads(schema_file(file_name).read_bytes())
    return schema


@cache
def _compile(schema_file: str) -> _Compiled:
    """Compile a schema once per process (compiling costs milliseconds, validating microseconds)."""
    schema = load_schema(schema_file)
    validate = fastjsonschema.compile(schema, formats={"date-time": _is_rfc3339})
    return _Compiled(validate, "ts" in schema.get("properties", {}))


def _is_rfc3339(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 date-time naming a moment that exists."""
    if _RFC3339.fullmatch(text) is None:
        return False
    try:
        _from_iso(text)
    except ValueError:  # a day or hour that does not exist, e.g. 2025-02-30 or 24:00
        return False
    return True


def _from_iso(text: str) -> datetime:
    """Parse a date-time that matches :data:`_RFC3339`; ValueError when it does not exist."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # Lower-case 't'/'z' are valid RFC 3339, but fromisoformat (3.11) reads upper case
        # only; upper-casing changes nothing else in a string the regex accepted.
        return datetime.fromisoformat(text.upper())


def _encode_payload(excerpt: bytes, cut_short: bool) -> tuple[str, str, int]:
    """(payload, encoding, bytes of the original it holds) for ``excerpt``."""
    # Cutting the original short may split its last UTF-8 character: up to 3 bytes of it are
    # dropped, not the text. An original kept whole is kept byte for byte (base64 if need be).
    for cut in range(4 if cut_short else 1):
        try:
            return excerpt[: len(excerpt) - cut].decode("utf-8"), "utf-8", len(excerpt) - cut
        except UnicodeDecodeError:
            continue
    return base64.b64encode(excerpt).decode("ascii"), "base64", len(excerpt)


def _invalid_json(topic: str, raw: bytes | str, exc: orjson.JSONDecodeError) -> Rejection:
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejection(
                "invalid_json",
                None,
                None,
                "encoding: utf-8",
                f"{topic}: the message is not valid UTF-8 text (byte {bad.start}); "
                "send JSON encoded as UTF-8",
            )
    return Rejection(
        "invalid_json",
        None,
        None,
        "json",
        f"{topic}: the message is not valid JSON ({exc}); send one JSON object",
    )


def _schema_rejection(topic: str, exc: fastjsonschema.JsonSchemaValueException) -> Rejection:
    path = [str(part) for part in exc.path[1:]]  # path[0] is fastjsonschema's 'data'
    if exc.rule == "required":
        present = exc.value if isinstance(exc.value, dict) else {}
        missing = next(name for name in exc.rule_definition if name not in present)
        field = ".".join([*path, missing])
        return Rejection(
            "schema", field, None, "required", f"{topic}: required field '{field}' is missing"
        )
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    rule, must = _describe_rule(exc, definition)
    unit = definition.get("x-unit")
    if unit is not None and exc.rule in _BOUNDS:
        must = f"{must} ({unit})"
    dotted = ".".join(path) or None
    subject = f"field '{dotted}'" if dotted else "the message"
    return Rejection(
        "schema", dotted, exc.value, rule, f"{topic}: {subject} is {_show(exc.value)}, {must}"
    )


def _describe_rule(
    exc: fastjsonschema.JsonSchemaValueException, definition: dict[str, Any]
) -> tuple[str, str]:
    """The rule as a short code (``minimum: 0``) and as the words after 'must' in a message."""
    name: str = exc.rule or "schema"
    spec = exc.rule_definition
    if name == "type":
        types = [str(t) for t in spec] if isinstance(spec, list) else [str(spec)]
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        return f"type: {'|'.join(types)}", f"must be {wanted}"
    if name in _BOUNDS:
        return f"{name}: {spec}", f"must be {_BOUNDS[name]} {spec}"
    if name == "enum":
        return f"enum: {'|'.join(map(str, spec))}", f"must be one of {', '.join(map(str, spec))}"
    if name == "pattern":
        return f"pattern: {spec}", f"must match {spec}"
    if name == "minLength":
        return f"minLength: {spec}", f"must be at least {spec} characters long"
    if name == "maxLength":
        return f"maxLength: {spec}", f"must be at most {spec} characters long"
    if name == "format" and spec == "date-time":
        naive = isinstance(exc.value, str) and _NAIVE.fullmatch(exc.value) is not None
        return (
            "format: date-time with offset" if naive else "format: date-time",
            f"must be an RFC 3339 date-time with a UTC offset, e.g. {_TS_EXAMPLE}",
        )
    # Rules our schemas do not use today: fastjsonschema's own wording ('must be ...').
    return (f"{name}: {spec}" if spec is not None else name), exc.message.removeprefix(
        exc.name or ""
    ).strip()


def _json_type(value: object) -> str:
    # bool before int: bool is a subclass of int in Python, but its own type in JSON.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: object) -> str:
    """The value as a person reads it in a message, cut short when long."""
    text = repr(value) if isinstance(value, str) else orjson.dumps(value, default=repr).decode()
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."
