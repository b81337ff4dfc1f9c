"""The errors a command reports in one line, without a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """A missing file, an unreadable config, an unknown monitor: fixable by the user. Exit code 2."""


class AwsError(Exception):
    """AWS (or moto) could not be reached or refused a call. Exit code 1."""
