"""SAM to CloudFormation, and the code it points at: what `sam package` does, without AWS.

The template is transformed with aws-sam-translator (managed policies from the map it bundles: no IAM call), and
each function's and layer's directory is zipped reproducibly into an S3 bucket (moto's, for the local stack).
"""

from __future__ import annotations

import copy
import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

from retrain_trigger_local.runtime import REGION, ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_EXCLUDED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_CODE_PROPERTY = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
_PLACEHOLDER_BUCKET = "retrain-trigger-artifacts"


CodeLocations = Mapping[str, tuple[str, str]]


class BundledManagedPolicies:
    """aws-sam-translator's managed-policy loader answered from the map the translator bundles: no IAM call."""

    def __init__(self, partition: str = "aws") -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map(self._partition) or {})


def local_code_dirs(template: Mapping[str, Any], root: Path = ROOT) -> dict[str, Path]:
    """The local CodeUri/ContentUri directory of each SAM function and layer, by logical id."""
    dirs: dict[str, Path] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        prop = _CODE_PROPERTY.get(resource.get("Type", ""))
        uri = resource.get("Properties", {}).get(prop) if prop else None
        if isinstance(uri, str) and not uri.startswith("s3://"):
            dirs[logical_id] = root / uri
    return dirs


def translate_template(
    template: Mapping[str, Any],
    code_locations: CodeLocations | None = None,
    parameters: Mapping[str, str] | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy, local code paths replaced by (bucket, key) S3 locations.

    Without `code_locations` every local path points at a placeholder object: enough to inspect the result.
    """
    sam_template = copy.deepcopy(dict(template))
    for logical_id in local_code_dirs(sam_template):
        bucket, key = (code_locations or {}).get(logical_id, (_PLACEHOLDER_BUCKET, f"{logical_id}.zip"))
        resource = sam_template["Resources"][logical_id]
        resource["Properties"][_CODE_PROPERTY[resource["Type"]]] = {"Bucket": bucket, "Key": key}

    # samtranslator.translator.transform, with the region given: transform() takes it from the environment and
    # raises NoRegionFound on a machine without AWS configuration.
    parameter_values: dict[str, Any] = dict(parameters or {})
    to_py27_compatible_template(sam_template, parameter_values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    translated = translator.translate(
        sam_template, parameter_values=parameter_values, get_managed_policy_map=BundledManagedPolicies().load
    )
    result = undo_mark_unicode_str_in_template(translated)
    assert isinstance(result, dict)
    return result


def zip_directory(directory: Path, prefix: str = "") -> bytes:
    """A reproducible zip of the files under `directory` (fixed timestamps, sorted), each entry under `prefix`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if not path.is_file() or _EXCLUDED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(f"{prefix}{relative.as_posix()}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def upload_code(
    s3: S3Client, template: Mapping[str, Any], bucket: str, root: Path = ROOT
) -> dict[str, tuple[str, str]]:
    """Zip each function's and layer's directory into `bucket`; their (bucket, key) by logical id."""
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    locations: dict[str, tuple[str, str]] = {}
    for logical_id, directory in local_code_dirs(template, root).items():
        if not directory.is_dir():
            raise FileNotFoundError(f"{logical_id}: code directory {directory} does not exist")
        # A layer's Python packages live under python/, as `sam build` (BuildMethod python3.12) lays them out.
        is_layer = template["Resources"][logical_id]["Type"] == "AWS::Serverless::LayerVersion"
        body = zip_directory(directory, prefix="python/" if is_layer else "")
        key = f"{logical_id}/{hashlib.sha256(body).hexdigest()[:16]}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        locations[logical_id] = (bucket, key)
    return locations
