"""Builds the real adapters from the settings: once per container, so warm starts reuse clients and caches."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

from retrain_trigger import messages
from retrain_trigger.adapters.actions import AwsActionGateway
from retrain_trigger.adapters.clients import forget_clients
from retrain_trigger.adapters.fleet_budget import CloudWatchAlarmStates, DynamoDBFleetBudget
from retrain_trigger.adapters.score_windows import ScoreWindowWriter, WindowedScoreSource
from retrain_trigger.adapters.scores import CloudWatchScoreSource, DynamoDBScoreSource, ScoreSources
from retrain_trigger.adapters.shard_queue import SqsShardQueue
from retrain_trigger.adapters.state_table import DynamoDBStateStore
from retrain_trigger.model import RefusedItem
from retrain_trigger.outbox import RetryPolicy
from retrain_trigger.ports import ConfigSource, ScoreSource
from retrain_trigger.service import Deps
from retrain_trigger.settings import Settings, get_settings


def wall_clock() -> datetime:
    return datetime.now(UTC)


def config_source(settings: Settings) -> ConfigSource:
    """CONFIG_SOURCE's choice; only the chosen adapter is imported (the SSM one pulls Powertools' parameters)."""
    if settings.config_source == "s3":
        from retrain_trigger.adapters.s3_config import S3ConfigSource  # noqa: PLC0415 - only when chosen

        return S3ConfigSource(settings.config_bucket, settings.config_key)
    from retrain_trigger.adapters.ssm_config import SsmConfigSource  # noqa: PLC0415 - only when chosen

    return SsmConfigSource(settings.config_parameter_name, max_age_seconds=settings.config_max_age_seconds)


def dynamodb_scores(settings: Settings) -> ScoreSource:
    """With a window table, one BatchGetItem per 100 monitors (the Query path for those without a window)."""
    queries = DynamoDBScoreSource(settings.score_table_name)
    if not settings.score_window_table_name:
        return queries
    return WindowedScoreSource(settings.score_window_table_name, queries)


@cache
def score_window_writer() -> ScoreWindowWriter:
    """The score stream consumer's adapter; a score item it refuses is alerted on the alert topic."""
    settings = get_settings()
    alerts = AwsActionGateway(topic_arn=settings.alert_topic_arn, queue_url="", bus_name="")

    def report(monitor_id: str, item: RefusedItem) -> None:
        alerts.publish_alert(messages.refused_item_alert(monitor_id, item))

    return ScoreWindowWriter(
        settings.score_window_table_name,
        settings.score_table_name,
        report=report if settings.alert_topic_arn else None,
    )


@cache
def _shared() -> Deps:
    settings = get_settings()
    return Deps(
        config=config_source(settings),
        scores=ScoreSources({"dynamodb": dynamodb_scores(settings), "cloudwatch": CloudWatchScoreSource()}),
        states=DynamoDBStateStore(settings.state_table_name, ttl_days=settings.history_ttl_days),
        actions=AwsActionGateway(
            topic_arn=settings.alert_topic_arn,
            queue_url=settings.retrain_queue_url,
            bus_name=settings.event_bus_name,
            event_source=settings.event_source,
        ),
        owner="",
        wall_clock=wall_clock,
        tick=timedelta(minutes=settings.tick_minutes),
        lease=timedelta(seconds=settings.lease_seconds),
        retry=RetryPolicy(
            max_attempts=settings.action_max_attempts, backoff=timedelta(seconds=settings.action_backoff_seconds)
        ),
        shards=SqsShardQueue(settings.shard_queue_url) if settings.shard_queue_url else None,
        shard_size=settings.shard_size,
        budget=DynamoDBFleetBudget(settings.state_table_name),
        alarms=CloudWatchAlarmStates(),
    )


def default_deps(owner: str) -> Deps:
    """The container's adapters, with this invocation as the owner of any action lease and announced try. Lambda
    retries an asynchronous event under the same request id, so a nonce tells the retry from the attempt that
    died: the retry must not take the dead attempt's announced tries for its own."""
    return replace(_shared(), owner=f"{owner}/{secrets.token_hex(4)}")


def reset() -> None:
    """Forget the cached settings and adapters (tests and the demo change the environment)."""
    _shared.cache_clear()
    score_window_writer.cache_clear()
    get_settings.cache_clear()
    forget_clients()
