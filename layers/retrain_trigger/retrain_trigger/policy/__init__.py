"""The policy engine: pure functions from (config, state, datapoints, time) to a Decision. No AWS, no clock, no
environment.

- `window`: what the datapoints say at `now` (fresh, missing, gap, newest);
- `rules`: one function per state (armed, in alarm, retraining, after retraining), the lifecycle events, and the
  steps after them (an alert announced after a mute, repeated, a gap); the README's rules table names each;
- `decisions`: the one builder of Decisions, their notices and actions;
- `schedule`: when a monitor is due, when a tick is stale, when a retraining is overdue;
- `engine`: which rules apply, in which order;
- `approval`, `operator`: a retraining that waits for an operator's approval, and the operator's commands.

A gap, and any datapoint not newer than the last completed retraining, count as missing: neither ever retrains or
closes an episode. An episode closes only on `datapoints_to_recover` datapoints below reset.
"""

from retrain_trigger.policy.decisions import attempt_ended
from retrain_trigger.policy.engine import evaluate, on_cancelled, on_lifecycle, on_start_given_up
from retrain_trigger.policy.operator import Answer, on_command
from retrain_trigger.policy.schedule import delivery_time, is_due, is_stale, retraining_overdue

__all__ = [
    "Answer",
    "attempt_ended",
    "delivery_time",
    "evaluate",
    "is_due",
    "is_stale",
    "on_cancelled",
    "on_command",
    "on_lifecycle",
    "on_start_given_up",
    "retraining_overdue",
]
