"""The errors a command reports in one line, without a traceback."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn


class UsageError(Exception):
    """A missing file, an unreadable config, an unknown monitor: fixable by the user. Exit code 2."""


class AwsError(Exception):
    """AWS (or moto) could not be reached or refused a call. Exit code 1."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit code 2), as every other user mistake is."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Python 3.11/3.12 read `--tick -1h` as a flag without its value; a leading "-digit" is a value (as 3.13
        # reads it), so a negative duration reaches its check and is refused as negative.
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)
