"""The single place where a failure is classified fatal, retriable or skippable.

Note for the connectors helper: the state helper created this module holding only
``Failure`` so that ``runner.retry`` could import it before ``classify_http`` existed.
Add ``classify_http`` (and whatever else classification needs) here; keep ``Failure``'s
names and values, ``runner.retry`` and the state tests depend on them.
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """What a failure means for the record: the class alone decides retry, dead-letter or stop."""

    FATAL = "fatal"  # stop the runner: retrying cannot help (bad credentials, schema drift)
    RETRIABLE = "retriable"  # try again later with backoff (timeouts, 429, 5xx, row locks)
    SKIPPABLE = "skippable"  # this record cannot go as it is: dead-letter it and go on
