"""template.yaml's security promises: retained and recoverable tables, least-privilege roles, narrowed event rules,
and the optional KMS key of the alert topic.

Roles and rules are read from the stack moto creates from template.yaml (`deploy_stack`), so every grant is checked
against the real names and ARNs of the resources it is meant for.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from typing import Any

import pytest

from retrain_trigger_local.deploy import StackInfo
from retrain_trigger_local.intrinsics import ParameterError, effective_parameters
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import ROOT, TEMPLATE, read_template
from tests.support import resources
from tests.support.stacks import Deploy, capture_lambda_targets, client

REGION = "us-east-1"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"


def policy_document(raw: Any) -> dict[str, Any]:
    """A role policy as moto returns it: a dict, JSON, or (moto 5.2.5, for a CloudFormation role's inline
    policies) the repr of a dict."""
    if isinstance(raw, dict):
        return raw
    try:
        document: dict[str, Any] = json.loads(raw)
    except ValueError:
        document = ast.literal_eval(raw)
    return document


def grants(stack: StackInfo, role: str) -> dict[str, set[str]]:
    """Every action the role's policies allow, with the resources it is allowed on."""
    iam = client("iam")
    name = stack.physical_ids[role]
    allowed: dict[str, set[str]] = defaultdict(set)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = policy_document(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                allowed[action] |= set(targets)
    return dict(allowed)


def table_arn(stack: StackInfo, output: str) -> str:
    arn: str = client("dynamodb").describe_table(TableName=stack.outputs[output])["Table"]["TableArn"]
    return arn


def parameter_arn(stack: StackInfo) -> str:
    arn: str = client("ssm").get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["ARN"]
    return arn


def config_object_arn(stack: StackInfo) -> str:
    """The monitors' document in the config bucket (ConfigSource s3): the one object the roles may read."""
    return f"arn:aws:s3:::{stack.outputs['ConfigBucketName']}/monitors.json"


def pipeline_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{name}"


def sample(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    detail = changes.pop("detail", {})
    return {**event, **changes, "detail": {**event["detail"], **detail}}


def put(event: dict[str, Any], bus: str = "default") -> None:
    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
    result = client("events").put_events(Entries=[{**entry, "EventBusName": bus}])
    assert result["FailedEntryCount"] == 0


def delivered(inbox: str) -> list[dict[str, Any]]:
    messages = client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


# --- the tables: kept, recoverable, indexed for the outbox -----------------------------------------------------


def test_both_tables_are_kept_when_the_stack_is_deleted_or_an_update_would_replace_them() -> None:
    resources_ = translate_template(read_template())["Resources"]

    for table in ("StateTable", "ScoreTable"):
        assert (resources_[table]["DeletionPolicy"], resources_[table]["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_both_tables_can_be_restored_to_any_second_of_the_last_35_days(stack: StackInfo) -> None:
    ddb = client("dynamodb")

    for table in ("StateTableName", "ScoreTableName"):
        backups = ddb.describe_continuous_backups(TableName=stack.outputs[table])["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", table


def test_the_pending_action_index_lists_only_the_monitors_with_actions_waiting(aws: None) -> None:
    # The table the functional tests use, built from template.yaml's properties (indexes included).
    ddb = client("dynamodb")
    table = resources.create_state_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "monitor#idle"}, "sk": {"S": "state"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "monitor#busy"}, "sk": {"S": "state"}, "pending_shard": {"S": "0"}})

    found = ddb.query(
        TableName=table,
        IndexName="ByPendingAction",
        KeyConditionExpression="pending_shard = :shard",
        ExpressionAttributeValues={":shard": {"S": "0"}},
    )["Items"]

    assert found == [{"pk": {"S": "monitor#busy"}, "sk": {"S": "state"}, "pending_shard": {"S": "0"}}]
    (index,) = [
        i
        for i in ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
        if i["IndexName"] == "ByPendingAction"
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


# --- least privilege -------------------------------------------------------------------------------------------


def test_the_evaluator_may_do_exactly_what_it_needs_on_the_stacks_own_resources(stack: StackInfo) -> None:
    state, scores = table_arn(stack, "StateTableName"), table_arn(stack, "ScoreTableName")
    windows = table_arn(stack, "ScoreWindowTableName")
    shards = client("sqs").get_queue_attributes(QueueUrl=stack.outputs["ShardQueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    pipeline = pipeline_arn("churn-model-retraining")

    assert grants(stack, "EvaluatorFunctionRole") == {
        # A transaction is authorized per item (Put, Update, ConditionCheck): there is no TransactWriteItems action.
        "dynamodb:BatchGetItem": {state, windows},
        "dynamodb:GetItem": {state},
        "dynamodb:PutItem": {state},
        "dynamodb:UpdateItem": {state},
        "dynamodb:ConditionCheckItem": {state},
        "dynamodb:Query": {state, f"{state}/index/*", scores},
        "ssm:GetParameter": {parameter_arn(stack)},
        "s3:GetObject": {config_object_arn(stack)},
        "cloudwatch:GetMetricData": {"*"},  # no resource-level permission exists for it
        # The alarms `suppressed_by` names (docs/fleet.md): read-only, this account's alarms in the region.
        "cloudwatch:DescribeAlarms": {f"arn:aws:cloudwatch:{resources.REGION}:{resources.ACCOUNT_ID}:alarm:*"},
        "sns:Publish": {stack.outputs["AlertTopicArn"]},
        "sqs:SendMessage": {stack.outputs["RetrainQueueArn"], stack.outputs["FunctionFailureQueueArn"], shards},
        # The shards of a large tick, consumed through its own event source mapping (no managed SQS policy).
        "sqs:ReceiveMessage": {shards},
        "sqs:DeleteMessage": {shards},
        "sqs:GetQueueAttributes": {shards},
        "sqs:ChangeMessageVisibility": {shards},
        "events:PutEvents": {stack.outputs["EventBusArn"]},
        "sagemaker:StartPipelineExecution": {pipeline, f"{pipeline}/execution/*"},
        "sagemaker:DescribePipelineExecution": {pipeline, f"{pipeline}/execution/*"},
        "sagemaker:ListPipelineExecutions": {pipeline},  # the crash path's lookup of an unrecorded start
    }


def test_the_lifecycle_function_may_only_read_and_write_states_and_read_the_configuration(stack: StackInfo) -> None:
    state = table_arn(stack, "StateTableName")

    assert grants(stack, "LifecycleFunctionRole") == {
        "dynamodb:BatchGetItem": {state},
        "dynamodb:GetItem": {state},
        "dynamodb:PutItem": {state},
        "dynamodb:UpdateItem": {state},
        "dynamodb:ConditionCheckItem": {state},
        "dynamodb:Query": {f"{state}/index/ByExecution"},
        "ssm:GetParameter": {parameter_arn(stack)},
        "s3:GetObject": {config_object_arn(stack)},
        # Only its own failed invocations, through the failure destination: it delivers no action.
        "sqs:SendMessage": {stack.outputs["FunctionFailureQueueArn"]},
    }


def test_the_only_managed_policies_are_lambdas_logging_and_tracing_ones() -> None:
    resources_ = translate_template(read_template())["Resources"]

    for role in ("EvaluatorFunctionRole", "LifecycleFunctionRole"):
        assert sorted(resources_[role]["Properties"]["ManagedPolicyArns"]) == [
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        ], role


def test_a_pipeline_prefix_lets_the_evaluator_start_every_pipeline_it_names(deploy: Deploy) -> None:
    stack = deploy(RetrainPipelinePrefix="churn-")

    allowed = grants(stack, "EvaluatorFunctionRole")

    prefix = pipeline_arn("churn-")
    for action in ("sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"):
        assert allowed[action] == {f"{prefix}*", f"{prefix}*/execution/*"}


@pytest.mark.parametrize("prefix", ["Churn-", "churn_"])
def test_a_pipeline_prefix_that_could_never_match_an_arn_is_rejected(prefix: str) -> None:
    with pytest.raises(ParameterError, match="RetrainPipelinePrefix"):
        effective_parameters(read_template(), {"RetrainPipelinePrefix": prefix})


# --- what reaches the lifecycle function -----------------------------------------------------------------------


def test_status_changes_of_other_pipelines_in_the_account_never_reach_the_lifecycle_function(
    stack: StackInfo,
) -> None:
    inbox = capture_lambda_targets(None, stack)["LifecycleFunction"]

    put(sample("pipeline-succeeded.json"))
    put(sample("pipeline-failed.json", detail={"pipelineArn": pipeline_arn("fraud-model-retraining")}))
    put(sample("pipeline-failed.json", detail={"pipelineArn": pipeline_arn("churn-model-retraining-v2")}))

    assert [event["detail"]["pipelineArn"] for event in delivered(inbox)] == [pipeline_arn("churn-model-retraining")]


def test_with_a_prefix_the_status_changes_of_every_pipeline_it_names_reach_the_lifecycle_function(
    deploy: Deploy,
) -> None:
    stack = deploy(RetrainPipelinePrefix="churn-")
    inbox = capture_lambda_targets(None, stack)["LifecycleFunction"]

    for name in ("churn-model-retraining", "churn-model-v2", "fraud-model-retraining"):
        put(sample("pipeline-succeeded.json", detail={"pipelineArn": pipeline_arn(name)}))

    assert sorted(event["detail"]["pipelineArn"] for event in delivered(inbox)) == [
        pipeline_arn("churn-model-retraining"),
        pipeline_arn("churn-model-v2"),
    ]


def test_the_project_bus_takes_outcomes_only_from_the_sources_the_stack_names(stack: StackInfo) -> None:
    inbox = capture_lambda_targets(None, stack)["LifecycleFunction"]
    bus = stack.outputs["EventBusName"]

    put(sample("retraining-finished.json"), bus)  # source com.example.ci, the default
    put(sample("model-deployed.json", source="com.example.someone-else"), bus)

    assert [(event["source"], event["detail-type"]) for event in delivered(inbox)] == [
        ("com.example.ci", "Retraining Finished")
    ]


def test_lifecycle_event_sources_replace_the_default_source(deploy: Deploy) -> None:
    stack = deploy(LifecycleEventSources="ci.jenkins,deploy.argo")
    inbox = capture_lambda_targets(None, stack)["LifecycleFunction"]
    bus = stack.outputs["EventBusName"]

    put(sample("retraining-finished.json", source="ci.jenkins"), bus)
    put(sample("model-deployed.json", source="deploy.argo"), bus)
    put(sample("model-deployed.json"), bus)  # com.example.ci is no longer named

    assert sorted(event["source"] for event in delivered(inbox)) == ["ci.jenkins", "deploy.argo"]


# --- the alert topic's optional key ----------------------------------------------------------------------------


def test_a_topic_key_encrypts_the_alert_topic_and_only_the_evaluator_may_use_it(deploy: Deploy) -> None:
    stack = deploy(AlertTopicKmsKeyArn=KEY_ARN)

    topic = client("sns").get_topic_attributes(TopicArn=stack.outputs["AlertTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == KEY_ARN
    evaluator = grants(stack, "EvaluatorFunctionRole")
    assert (evaluator["kms:GenerateDataKey"], evaluator["kms:Decrypt"]) == ({KEY_ARN}, {KEY_ARN})
    assert not [action for action in grants(stack, "LifecycleFunctionRole") if action.startswith("kms:")]


def test_without_a_key_the_topic_has_none_and_no_role_may_use_kms(stack: StackInfo) -> None:
    topic = client("sns").get_topic_attributes(TopicArn=stack.outputs["AlertTopicArn"])["Attributes"]

    assert "KmsMasterKeyId" not in topic
    for role in ("EvaluatorFunctionRole", "LifecycleFunctionRole"):
        assert not [action for action in grants(stack, role) if action.startswith("kms:")], role


def test_a_key_alias_is_rejected_because_iam_grants_on_the_key_arn_only() -> None:
    with pytest.raises(ParameterError, match="AlertTopicKmsKeyArn"):
        effective_parameters(read_template(), {"AlertTopicKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/alerts"})


# --- static analysis -------------------------------------------------------------------------------------------


def test_every_check_the_template_skips_says_why() -> None:
    skips = re.findall(r"#\s*checkov:skip=(CKV2?_AWS_\d+):(.*)", TEMPLATE.read_text())

    assert skips, "the template skips no checkov check: drop this test or the comments"
    for check, reason in skips:
        assert len(reason.split()) >= 4, f"{check}: the reason is missing or too short: {reason!r}"
