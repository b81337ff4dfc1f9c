"""`python -m retrain_trigger_local.bench` (what `make bench` runs)."""

from retrain_trigger_local.bench.cli import main

raise SystemExit(main())
