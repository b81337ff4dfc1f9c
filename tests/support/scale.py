"""The fleet-scale resources (config bucket, score window table, shard queue) built on moto FROM template.yaml, and
a World switched over to them. Kept apart from resources.py, which the other resources' tests share."""

from __future__ import annotations

from typing import Any

import pytest

from retrain_trigger import wiring
from retrain_trigger.adapters.clients import aws_client
from retrain_trigger_local.template import resource_properties
from tests.support import resources
from tests.support.world import World

BUCKET = f"{resources.STACK_NAME}-config"


def create_config_bucket(s3: Any, name: str = BUCKET) -> str:
    """The bucket with the template's versioning, encryption, public access block and ownership controls."""
    props = resources.resolve(resource_properties("ConfigBucket"))
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    rules = [
        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    return name


def config_key() -> str:
    return str(resources.parameter_defaults()["ConfigKey"])


def use_s3_config(world: World, monkeypatch: pytest.MonkeyPatch, document: str) -> tuple[str, str]:
    """Switch the world's handlers to CONFIG_SOURCE=s3 with `document` uploaded. Returns (bucket, key)."""
    s3 = aws_client("s3")
    bucket, key = create_config_bucket(s3), config_key()
    s3.put_object(Bucket=bucket, Key=key, Body=document.encode())
    for name, value in {"CONFIG_SOURCE": "s3", "CONFIG_BUCKET": bucket, "CONFIG_KEY": key}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return bucket, key
