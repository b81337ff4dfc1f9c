"""The moto stack's public names, kept in one place for the callers that import them from here.

The code lives along its seams: `moto_server` (the embedded server), `intrinsics` (parameters, conditions and
intrinsic functions), `sam_package` (SAM translation and code upload), `deploy` (the stack in moto) and `local_invoke`
(`sam local invoke` in a container against moto). New code imports from those modules.
"""

from __future__ import annotations

from retrain_trigger_local.deploy import (
    CAPABILITIES,
    DUMMY_CREDENTIALS,
    AwsTarget,
    SkippedResource,
    StackCreationError,
    StackInfo,
    capture_lambda_targets,
    deploy_stack,
)
from retrain_trigger_local.intrinsics import (
    ACCOUNT_ID,
    REGION,
    ParameterError,
    UnresolvableError,
    effective_parameters,
    evaluate_conditions,
    references,
)
from retrain_trigger_local.moto_server import MotoServer, start_moto_server
from retrain_trigger_local.sam_package import local_code_dirs, translate_template, upload_code, zip_directory

__all__ = [
    "ACCOUNT_ID",
    "CAPABILITIES",
    "DUMMY_CREDENTIALS",
    "REGION",
    "AwsTarget",
    "MotoServer",
    "ParameterError",
    "SkippedResource",
    "StackCreationError",
    "StackInfo",
    "UnresolvableError",
    "capture_lambda_targets",
    "deploy_stack",
    "effective_parameters",
    "evaluate_conditions",
    "local_code_dirs",
    "references",
    "start_moto_server",
    "translate_template",
    "upload_code",
    "zip_directory",
]
