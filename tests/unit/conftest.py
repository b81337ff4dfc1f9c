"""Hypothesis profiles: `ci` is derandomized so a CI run is reproducible; `thorough` explores more, locally;
`mutants` is the small, fixed sample `make mutants` uses."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=3000, deadline=None)
# `make mutants` runs the property tests once per mutant: fewer, fixed examples keep a run within minutes.
settings.register_profile("mutants", max_examples=25, deadline=None, derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))
