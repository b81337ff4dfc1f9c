"""The monitors' configuration from an S3 object: the same document as the SSM parameter, without its 8 KiB limit.

Each load is one conditional GetObject (If-None-Match: the ETag last read). An unchanged object answers 304 with no
body, so a warm tick costs one small call and no parse; an edited one is read and parsed once. The ETag is the
configuration version recorded with every decision.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from retrain_trigger.adapters.clients import aws_client, translate_error
from retrain_trigger.config import Catalog, parse_catalog_json
from retrain_trigger.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SETTING = "CONFIG_BUCKET/CONFIG_KEY"
# Without s3:ListBucket (not granted: the role reads one key), S3 answers a missing object with AccessDenied.
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "AccessDenied"})
_NOT_MODIFIED = frozenset({"304", "NotModified"})


def etag_version(etag: str) -> str:
    """The configuration version for an object's ETag (S3 quotes it)."""
    return "s3:" + etag.strip('"')


class S3ConfigSource:
    """ports.ConfigSource: s3://bucket/key's JSON, re-read only when its ETag changes, parsed per monitor."""

    def __init__(self, bucket: str, key: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self.key = key
        self._client = client
        self._cached: tuple[str, Catalog] | None = None  # (ETag, the catalog parsed from that object)

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = aws_client("s3")
        return self._client

    def load(self) -> Catalog:
        """The current Catalog. A missing bucket or object, or a broken document, raises ConfigError; throttling and
        5xx, RetryableError; anything else (access denied), DependencyError."""
        where = f"s3://{self.bucket}/{self.key}"
        try:
            if self._cached is None:
                response = self.client.get_object(Bucket=self.bucket, Key=self.key)
            else:
                response = self.client.get_object(Bucket=self.bucket, Key=self.key, IfNoneMatch=self._cached[0])
            text = response["Body"].read().decode("utf-8")
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_MODIFIED and self._cached is not None:
                return self._cached[1]
            if code in _MISSING:
                raise ConfigError("*", SETTING, f"{where} does not exist or may not be read ({code})") from error
            raise translate_error(error, what=f"GetObject {where}") from error
        except BotoCoreError as error:
            raise translate_error(error, what=f"GetObject {where}") from error
        except UnicodeDecodeError as error:
            raise ConfigError("*", "(document)", f"{where} is not UTF-8 text: {error}") from error
        etag = str(response.get("ETag", ""))
        catalog = replace(parse_catalog_json(text), version=etag_version(etag))  # a broken document is not cached
        self._cached = (etag, catalog)
        return catalog
