"""Logging setup: one JSON object per line (or plain text), with the resource and job named.

Records from kopf's per-object logger carry `k8s_ref`; the operator's own records carry
`extra={"resource": {"namespace", "name", "job"}}` (see `fields`). Only the message and these
fields are written: never the environment, never a request's credentials.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import pythonjsonlogger.json

CONTEXT_FIELDS = ("namespace", "name", "job")


def fields(namespace: str, name: str, job: str | None = None) -> dict[str, Any]:
    """`extra=` for a log call about one resource (LogRecord reserves `name` itself)."""
    return {"resource": {"namespace": namespace, "name": name, "job": job}}


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """`{"time", "level", "logger", "message", "namespace", "name", "job", ...}` per line:
    python-json-logger's formatter with exactly these fields (never a record's other extras),
    and `exception` when there is one."""

    def __init__(self) -> None:
        super().__init__(json_default=str)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        log_data.update(context(record))
        if message_dict.get("exc_info"):
            log_data["exception"] = message_dict["exc_info"]


class TextFormatter(logging.Formatter):
    """`time level logger [namespace/name job] message` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        found = context(record)
        where = ""
        if "name" in found:
            where = f" [{found.get('namespace', '')}/{found['name']}"
            where += f" {found['job']}]" if "job" in found else "]"
        stamp = datetime.fromtimestamp(record.created, tz=UTC).strftime("%H:%M:%S")
        text = f"{stamp} {record.levelname:<7} {record.name}{where} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def context(record: logging.LogRecord) -> dict[str, Any]:
    """namespace/name from kopf's `k8s_ref`, and the operator's own fields, when present."""
    found: dict[str, Any] = {}
    ref = getattr(record, "k8s_ref", None)
    if isinstance(ref, dict):
        for key in ("namespace", "name"):
            if ref.get(key):
                found[key] = ref[key]
    own = getattr(record, "resource", None)
    if isinstance(own, dict):
        for key in CONTEXT_FIELDS:
            if own.get(key) is not None:
                found[key] = own[key]
    return found


class RetryNoiseFilter(logging.Filter):
    """Drops kopf's ERROR "Handler ... failed temporarily" lines for planned retries.

    Waiting for a job to stop, or backing off after throttling, is normal operation; the resource's
    conditions and Events (and the operator's own log lines) already say what is going on.
    Unexpected exceptions ("failed with an exception") still get through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("kopf") and "failed temporarily" in str(record.msg))


def configure(level: str, fmt: str) -> None:
    """Route every logger (kopf's included) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if level != "DEBUG":
        handler.addFilter(RetryNoiseFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # kopf logs every handler run at INFO; at scale that is noise, so only with DEBUG.
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in ("kopf", "aiohttp.access"):
        logging.getLogger(name).setLevel(quiet)
    # botocore and urllib3 log each request's headers and signing input at DEBUG: the access key
    # ID and the session token. Never below INFO, whatever the operator's level.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(max(quiet, logging.INFO))
