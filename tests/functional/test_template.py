"""template.yaml as a deployment: SAM's translation, the stack moto creates from it, and what its users look up.

Every stack here is created by `retrain_trigger_local.deploy.deploy_stack` from template.yaml itself, under
moto's `mock_aws` (one test also on the embedded moto server).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from retrain_trigger.config import CloudWatchSource, DynamoDBSource, parse_catalog_json
from retrain_trigger.settings import Settings
from retrain_trigger_local.deploy import StackInfo, deploy_stack
from retrain_trigger_local.intrinsics import ParameterError, effective_parameters, evaluate_conditions
from retrain_trigger_local.moto_server import start_moto_server
from retrain_trigger_local.sam_package import translate_template
from retrain_trigger_local.template import ROOT, read_template
from tests.support.stacks import Deploy, capture_lambda_targets, client, skipped_ids

REGION = "us-east-1"
EVENTS = ROOT / "events"
WEBHOOK = {"WebhookUrl": "https://ci.example.com/hooks/retrain", "WebhookApiKey": "s3cr3t"}


def config_document(stack: StackInfo) -> dict[str, Any]:
    value = client("ssm").get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["Value"]
    document: dict[str, Any] = json.loads(value)
    return document


def translated(**parameters: str) -> dict[str, Any]:
    return translate_template(read_template(), parameters=parameters)


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The statements of the role's inline policies and of the AWS::IAM::Policy resources attached to it."""
    resources = template["Resources"]
    documents = [policy["PolicyDocument"] for policy in resources[role]["Properties"]["Policies"]]
    documents += [
        resource["Properties"]["PolicyDocument"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]
    ]
    return [statement for document in documents for statement in document["Statement"]]


# --- SAM's translation -----------------------------------------------------------------------------------------


def test_sam_translation_yields_the_resources_the_stack_is_made_of() -> None:
    resources = translated()["Resources"]

    kinds = {logical_id: resource["Type"] for logical_id, resource in resources.items()}
    assert {
        "StateTable": "AWS::DynamoDB::Table",
        "ScoreTable": "AWS::DynamoDB::Table",
        "MonitorConfigParameter": "AWS::SSM::Parameter",
        "AlertTopic": "AWS::SNS::Topic",
        "RetrainQueue": "AWS::SQS::Queue",
        "RetrainDeadLetterQueue": "AWS::SQS::Queue",
        "EventBus": "AWS::Events::EventBus",
        "EvaluatorFunction": "AWS::Lambda::Function",
        "EvaluatorFunctionRole": "AWS::IAM::Role",
        "EvaluatorFunctionTick": "AWS::Events::Rule",
        "LifecycleFunction": "AWS::Lambda::Function",
        "LifecycleFunctionSageMakerStatus": "AWS::Events::Rule",
        "LifecycleFunctionProjectBus": "AWS::Events::Rule",
        "EvaluatorLogGroup": "AWS::Logs::LogGroup",
        "LifecycleLogGroup": "AWS::Logs::LogGroup",
        "EvaluatorErrorsAlarm": "AWS::CloudWatch::Alarm",
        "FunctionFailureQueue": "AWS::SQS::Queue",
        "EvaluatorFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "LifecycleFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "FunctionFailureAlarm": "AWS::CloudWatch::Alarm",
        "ActionFailuresAlarm": "AWS::CloudWatch::Alarm",
        "ActionsUnconfirmedAlarm": "AWS::CloudWatch::Alarm",
        "EvaluationErrorsAlarm": "AWS::CloudWatch::Alarm",
        "InsufficientDataAlarm": "AWS::CloudWatch::Alarm",
        "HeartbeatAlarm": "AWS::CloudWatch::Alarm",
        "EvaluatorAlertKeyPolicy": "AWS::IAM::Policy",
    }.items() <= kinds.items()
    # one layer always (the shared one); the DriftLayer (numpy) only with the ScoreFunction, behind its condition
    layers = {lid: r.get("Condition") for lid, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    assert sorted(layers.values(), key=str) == [None, "ScoreFromData"]
    webhook = {lid for lid in resources if lid.startswith("Webhook")}
    assert webhook == {
        "WebhookConnection",
        "WebhookDestination",
        "WebhookInvokeRole",
        "WebhookRule",
        "WebhookDeadLetterQueue",
        "WebhookDeadLetterQueuePolicy",
        "WebhookDeadLetterAlarm",
    }
    assert {resources[lid]["Condition"] for lid in webhook} == {"HasWebhook"}
    assert resources["EvaluatorAlertKeyPolicy"]["Condition"] == "HasAlertTopicKey"


def test_both_functions_get_every_environment_variable_the_settings_read() -> None:
    resources = translated()["Resources"]
    aliases = {field.alias for field in Settings.model_fields.values()}
    required = {field.alias for field in Settings.model_fields.values() if field.is_required()}

    for function in ("EvaluatorFunction", "LifecycleFunction"):
        variables = set(resources[function]["Properties"]["Environment"]["Variables"])
        ours = {name for name in variables if not name.startswith("POWERTOOLS_")}
        assert required <= ours, f"{function} lacks {required - ours}"
        assert ours <= aliases, f"{function} sets variables no setting reads: {ours - aliases}"
        assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= variables


def test_only_actions_without_resource_level_permissions_are_granted_on_any_resource() -> None:
    template = translated()

    for role in ("EvaluatorFunctionRole", "LifecycleFunctionRole"):
        wildcard_actions = {
            action
            for statement in statements(template, role)
            if statement["Resource"] == "*"
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        }
        assert wildcard_actions <= {"cloudwatch:GetMetricData"}, role


def test_the_evaluator_may_start_only_the_configured_pipeline_and_read_its_executions() -> None:
    template = translated(PipelineName="fraud-model-retraining")

    sagemaker = [s for s in statements(template, "EvaluatorFunctionRole") if "sagemaker" in json.dumps(s["Action"])]
    prefixed = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:pipeline/${RetrainPipelinePrefix}"
    pipeline = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:pipeline/${PipelineName}"
    assert sagemaker == [
        {
            "Sid": "StartAndTrackRetrainingPipelines",
            "Effect": "Allow",
            "Action": ["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"],
            "Resource": {
                "Fn::If": [
                    "HasRetrainPipelinePrefix",
                    [{"Fn::Sub": f"{prefixed}*"}, {"Fn::Sub": f"{prefixed}*/execution/*"}],
                    [{"Fn::Sub": pipeline}, {"Fn::Sub": f"{pipeline}/execution/*"}],
                ]
            },
        },
        {  # the crash path: a start whose outcome was not recorded is looked up among the pipeline's executions
            "Sid": "FindUnrecordedRetrainingStarts",
            "Effect": "Allow",
            "Action": "sagemaker:ListPipelineExecutions",
            "Resource": {"Fn::If": ["HasRetrainPipelinePrefix", {"Fn::Sub": f"{prefixed}*"}, {"Fn::Sub": pipeline}]},
        },
    ]
    assert not [s for s in statements(template, "LifecycleFunctionRole") if "sagemaker" in json.dumps(s["Action"])]


def test_a_mixed_case_pipeline_name_is_rejected_because_its_arn_would_never_match_the_grant() -> None:
    with pytest.raises(ParameterError, match="PipelineName"):
        effective_parameters(read_template(), {"PipelineName": "Churn-Model-Retraining"})


def test_a_webhook_url_without_an_api_key_is_rejected_as_cloudformation_rules_would() -> None:
    with pytest.raises(ParameterError, match="WebhookApiKey is required"):
        effective_parameters(read_template(), {"WebhookUrl": WEBHOOK["WebhookUrl"]})


def test_the_webhook_is_part_of_the_stack_only_with_both_a_url_and_a_key() -> None:
    template = read_template()

    assert evaluate_conditions(template, effective_parameters(template, {}))["HasWebhook"] is False
    assert evaluate_conditions(template, effective_parameters(template, WEBHOOK))["HasWebhook"] is True


# --- the stack moto creates from template.yaml -----------------------------------------------------------------


def test_the_stack_creates_from_template_yaml_and_its_outputs_name_real_resources(stack: StackInfo) -> None:
    outputs = stack.outputs

    assert set(outputs) == {
        "StateTableName",
        "ScoreTableName",
        "AlertTopicArn",
        "RetrainQueueUrl",
        "RetrainQueueArn",
        "RetrainDeadLetterQueueUrl",
        "FunctionFailureQueueUrl",
        "FunctionFailureQueueArn",
        "EventBusName",
        "EventBusArn",
        "ConfigParameterName",
        "EvaluatorFunctionName",
        "LifecycleFunctionName",
        "SharedLayerArn",
        "ScoreWindowTableName",
        "ConfigBucketName",
        "ConfigObjectUri",
        "ConfigSource",
        "ShardQueueUrl",
        "ShardDeadLetterQueueUrl",
    }
    ddb, sqs, events, awslambda = client("dynamodb"), client("sqs"), client("events"), client("lambda")
    assert ddb.describe_table(TableName=outputs["StateTableName"])["Table"]["TableStatus"] == "ACTIVE"
    assert ddb.describe_table(TableName=outputs["ScoreTableName"])["Table"]["TableStatus"] == "ACTIVE"
    assert ddb.describe_table(TableName=outputs["ScoreWindowTableName"])["Table"]["TableStatus"] == "ACTIVE"
    client("s3").head_bucket(Bucket=outputs["ConfigBucketName"])  # its settings: tests/functional/test_s3_config.py
    assert outputs["ConfigObjectUri"] == f"s3://{outputs['ConfigBucketName']}/monitors.json"
    assert outputs["ConfigSource"] == "ssm"
    assert client("sns").get_topic_attributes(TopicArn=outputs["AlertTopicArn"])["Attributes"]["DisplayName"] == (
        "retrain-trigger"
    )
    queue_arn = sqs.get_queue_attributes(QueueUrl=outputs["RetrainQueueUrl"], AttributeNames=["QueueArn"])
    assert queue_arn["Attributes"]["QueueArn"] == outputs["RetrainQueueArn"]
    failures = sqs.get_queue_attributes(QueueUrl=outputs["FunctionFailureQueueUrl"], AttributeNames=["QueueArn"])
    assert failures["Attributes"]["QueueArn"] == outputs["FunctionFailureQueueArn"]
    assert events.describe_event_bus(Name=outputs["EventBusName"])["Arn"] == outputs["EventBusArn"]
    assert outputs["ConfigParameterName"] == f"/{stack.stack_name}/monitors"
    for function in ("EvaluatorFunctionName", "LifecycleFunctionName"):
        configuration = awslambda.get_function(FunctionName=outputs[function])["Configuration"]
        assert configuration["Handler"] == "app.lambda_handler"
        assert [layer["Arn"] for layer in configuration["Layers"]] == [outputs["SharedLayerArn"]]
    assert outputs["SharedLayerArn"].startswith("arn:aws:lambda:us-east-1:123456789012:layer:")


def test_the_functions_environment_names_the_stack_resources(stack: StackInfo) -> None:
    outputs = stack.outputs

    for function in ("EvaluatorFunction", "LifecycleFunction"):
        environment = stack.environments[function]
        assert environment["STATE_TABLE_NAME"] == outputs["StateTableName"]
        assert environment["SCORE_TABLE_NAME"] == outputs["ScoreTableName"]
        assert environment["ALERT_TOPIC_ARN"] == outputs["AlertTopicArn"]
        assert environment["RETRAIN_QUEUE_URL"] == outputs["RetrainQueueUrl"]
        assert environment["EVENT_BUS_NAME"] == outputs["EventBusName"]
        assert environment["CONFIG_PARAMETER_NAME"] == outputs["ConfigParameterName"]
        assert (environment["TICK_MINUTES"], environment["HISTORY_TTL_DAYS"]) == ("60", "90")
        Settings.model_validate(environment)  # what the code does on a cold start


def test_the_state_table_has_the_keys_index_and_expiry_the_code_relies_on(stack: StackInfo) -> None:
    ddb = client("dynamodb")
    name = stack.outputs["StateTableName"]

    table = ddb.describe_table(TableName=name)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert {name: index["KeySchema"] for name, index in indexes.items()} == {
        "ByExecution": [{"AttributeName": "execution_arn", "KeyType": "HASH"}],
        "ByPendingAction": [{"AttributeName": "pending_shard", "KeyType": "HASH"}],
    }
    assert {index["Projection"]["ProjectionType"] for index in indexes.values()} == {"KEYS_ONLY"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_config_parameter_is_a_valid_catalog_with_the_default_thresholds(stack: StackInfo) -> None:
    document = config_document(stack)

    (monitor,) = document["monitors"]
    assert (monitor["id"], monitor["critical"], monitor["reset"], monitor["warning"]) == ("churn-model", 0.2, 0.15, 0.1)
    assert monitor["actions"]["pipeline"] == {"name": "churn-model-retraining", "parameters": {}}
    catalog = parse_catalog_json(json.dumps(document))
    assert catalog.errors == ()
    assert isinstance(catalog.monitors[0].source, DynamoDBSource)


def test_overriding_critical_threshold_changes_the_deployed_configuration(deploy: Deploy) -> None:
    stack = deploy(CriticalThreshold="0.35", MonitorId="fraud-model")

    (monitor,) = config_document(stack)["monitors"]
    assert (monitor["id"], monitor["critical"]) == ("fraud-model", 0.35)
    assert parse_catalog_json(json.dumps(config_document(stack))).monitors[0].critical == 0.35


def test_cloudwatch_score_source_makes_the_default_source_a_cloudwatch_metric(deploy: Deploy) -> None:
    stack = deploy(ScoreSource="cloudwatch", MetricNamespace="Team/Drift", MonitorEvery="6h")

    document = config_document(stack)
    assert document["defaults"]["source"] == {
        "type": "cloudwatch",
        "namespace": "Team/Drift",
        "metric_name": "drift_score",
        "dimensions": {"MonitorId": "churn-model"},
        "period": "6h",
    }
    source = parse_catalog_json(json.dumps(document)).monitors[0].source
    assert isinstance(source, CloudWatchSource)
    assert source.period.total_seconds() == 6 * 3600


def test_the_retrain_queue_is_fifo_with_explicit_deduplication_and_a_dead_letter_redrive(stack: StackInfo) -> None:
    sqs = client("sqs")

    queue = sqs.get_queue_attributes(QueueUrl=stack.outputs["RetrainQueueUrl"], AttributeNames=["All"])["Attributes"]
    dead = sqs.get_queue_attributes(QueueUrl=stack.outputs["RetrainDeadLetterQueueUrl"], AttributeNames=["All"])
    assert (queue["FifoQueue"], queue["ContentBasedDeduplication"]) == ("true", "false")
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead["Attributes"]["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert (dead["Attributes"]["FifoQueue"], dead["Attributes"]["MessageRetentionPeriod"]) == ("true", "1209600")
    assert stack.outputs["RetrainQueueUrl"].endswith(f"/{stack.stack_name}-retrain.fifo")


@pytest.mark.parametrize(("minutes", "expression"), [("1", "rate(1 minute)"), ("15", "rate(15 minutes)")])
def test_the_evaluator_ticks_on_a_valid_rate_expression(deploy: Deploy, minutes: str, expression: str) -> None:
    stack = deploy(TickMinutes=minutes)

    rule = client("events").describe_rule(Name=stack.physical_ids["EvaluatorFunctionTick"])
    assert rule["ScheduleExpression"] == expression
    assert stack.environments["EvaluatorFunction"]["TICK_MINUTES"] == minutes


def test_resources_moto_cannot_create_are_created_with_their_api_and_reported(stack: StackInfo) -> None:
    skipped = {s.logical_id: (s.resource_type, s.action) for s in stack.skipped}

    assert skipped["EvaluatorErrorsAlarm"] == ("AWS::CloudWatch::Alarm", "created with cloudwatch.put_metric_alarm")
    (alarm,) = client("cloudwatch").describe_alarms(AlarmNames=[stack.physical_ids["EvaluatorErrorsAlarm"]])[
        "MetricAlarms"
    ]
    assert alarm["AlarmActions"] == [stack.outputs["AlertTopicArn"]]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": stack.outputs["EvaluatorFunctionName"]}]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    layer = next(lid for lid, (kind, _) in skipped.items() if kind == "AWS::Lambda::LayerVersion")
    assert stack.physical_ids[layer] == stack.outputs["SharedLayerArn"]


def test_every_resource_of_the_template_is_created_or_reported(stack: StackInfo) -> None:
    active = {
        logical_id
        for logical_id, resource in stack.template["Resources"].items()
        if stack.conditions.get(resource.get("Condition", ""), True)
    }
    listed = client("cloudformation").list_stack_resources(StackName=stack.stack_name)["StackResourceSummaries"]
    created_by_moto = {summary["LogicalResourceId"] for summary in listed}

    assert active - created_by_moto == skipped_ids(stack)
    not_created = {s.resource_type for s in stack.skipped if s.action.startswith("not created")}
    # moto's CloudFormation has no model of an EventInvokeConfig (moto's Lambda API has one, but the local stack
    # does not call it yet): the failure destination is checked on SAM's translation in test_template_operations.
    # Nor of a bucket policy: the config bucket's TLS-only policy is checked on the template in test_s3_config.
    assert not_created <= {"AWS::Lambda::EventInvokeConfig", "AWS::S3::BucketPolicy"}
    assert not {lid for lid in active if lid.startswith("Webhook")}


def test_with_a_webhook_retrain_requests_are_routed_to_the_api_destination(deploy: Deploy) -> None:
    stack = deploy(**WEBHOOK)
    events = client("events")

    destination = events.describe_api_destination(Name=stack.physical_ids["WebhookDestination"])
    assert (destination["InvocationEndpoint"], destination["HttpMethod"]) == (WEBHOOK["WebhookUrl"], "POST")
    connection = events.describe_connection(Name=stack.physical_ids["WebhookConnection"])
    assert connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "x-api-key"
    rule = events.describe_rule(Name=stack.physical_ids["WebhookRule"], EventBusName=stack.outputs["EventBusName"])
    assert json.loads(rule["EventPattern"]) == {"detail-type": ["Retraining Requested"]}
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=stack.outputs["EventBusName"])["Targets"]
    assert target["Arn"] == destination["ApiDestinationArn"]
    assert stack.parameters["WebhookApiKey"] == "****"
    assert {"WebhookConnection", "WebhookDestination", "WebhookDeadLetterQueuePolicy"} <= skipped_ids(stack)


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def put(events: Any, event: dict[str, Any], bus: str) -> None:
    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
    result = events.put_events(Entries=[{**entry, "EventBusName": bus}])
    assert result["FailedEntryCount"] == 0


def drain(queue_url: str) -> list[dict[str, Any]]:
    messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_the_sample_events_reach_the_lifecycle_function_through_the_template_rules(stack: StackInfo) -> None:
    events = client("events")
    inboxes = capture_lambda_targets(None, stack)

    put(events, sample("pipeline-succeeded.json"), "default")
    put(events, sample("retraining-finished.json"), stack.outputs["EventBusName"])
    put(events, sample("model-deployed.json"), stack.outputs["EventBusName"])
    put(events, {**sample("retraining-finished.json"), "detail-type": "Retraining Requested"}, "default")

    received = drain(inboxes["LifecycleFunction"])
    assert sorted(event["detail-type"] for event in received) == [
        "Model Deployed",
        "Retraining Finished",
        "SageMaker Model Building Pipeline Execution Status Change",
    ]
    assert set(inboxes) == {"LifecycleFunction"}  # the evaluator runs on its schedule only


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_is_an_eventbridge_envelope(name: str) -> None:
    event = sample(name)

    assert {"version", "id", "detail-type", "source", "account", "region", "resources", "detail"} <= set(event)
    if name != "malformed.json":
        assert isinstance(event["detail-type"], str)
        assert event["time"].endswith("Z")
    else:
        assert "time" not in event
        assert not isinstance(event["detail-type"], str)


@pytest.mark.e2e
def test_the_same_stack_is_created_on_the_embedded_moto_server() -> None:
    with start_moto_server() as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        stack = deploy_stack(server.endpoint_url, "rt-server", {"ScoreSource": "cloudwatch"})
        ssm = boto3.client(
            "ssm",
            region_name=REGION,
            endpoint_url=server.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        value = ssm.get_parameter(Name=stack.outputs["ConfigParameterName"])["Parameter"]["Value"]

    assert json.loads(value)["defaults"]["source"]["type"] == "cloudwatch"
    skipped_types = {s.resource_type for s in stack.skipped} - {"AWS::Lambda::EventInvokeConfig"}  # see above
    assert skipped_types == {"AWS::Lambda::LayerVersion", "AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy"}


def test_the_functions_build_from_requirements_that_install_nothing() -> None:
    for function in ("evaluator", "lifecycle"):
        lines = Path(ROOT / "functions" / function / "requirements.txt").read_text().splitlines()
        assert all(not line.strip() or line.lstrip().startswith("#") for line in lines), function
