"""A start whose outcome nobody recorded: what the on-call engineer is told about it, and why a lookup that fails
for want of AWS never gives the retraining up."""

from __future__ import annotations

import pytest

from retrain_trigger.errors import RetryableError
from retrain_trigger.model import Status
from tests.unit.test_outbox import Rig, _Killed, breach, hour, killed_during, revived
from tests.unit.test_unknown_outcomes import alerts, no_pipeline


def test_an_unconfirmed_retrain_request_is_alerted_as_the_start_of_its_attempt() -> None:
    rig = no_pipeline()
    killed_during(rig, "sqs", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sqs")

    rig.tick(hour(1), owner="evaluator-2")

    (unconfirmed,) = alerts(rig, "action_unconfirmed")
    assert (unconfirmed["action"], unconfirmed["starts_retraining"]) == ("sqs", True)


def test_a_lookup_throttled_on_every_try_never_gives_the_start_up() -> None:
    # given a start announced by an invocation that died before the call, and a lookup AWS keeps throttling
    rig = Rig()
    killed_during(rig, "sagemaker", after_the_call=False)
    with pytest.raises(_Killed):
        breach(rig)
    revived(rig, "sagemaker")
    rig.gateway.fail["lookup"] = RetryableError("ListPipelineExecutions throttled")

    for n in (1, 2, 3, 4):  # past the three tries a failing lookup is allowed
        rig.score(hour(n), 0.25)
        rig.tick(hour(n), owner=f"evaluator-{n + 1}")

    assert rig.state().status is Status.RETRAINING
    assert "retrain_failed" not in rig.gateway.events()
    assert len(rig.gateway.lookups) == 4  # looked up again on every tick, past the cap of three tries
    assert rig.gateway.of("sagemaker") == []
