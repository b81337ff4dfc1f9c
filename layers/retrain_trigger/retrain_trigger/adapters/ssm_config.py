"""The monitors' configuration from an SSM parameter, cached by Powertools for `max_age_seconds` per container."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from retrain_trigger.adapters.clients import aws_client, translate_error
from retrain_trigger.config import Catalog, parse_catalog_json
from retrain_trigger.errors import ConfigError, DependencyError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

SETTING = "CONFIG_PARAMETER_NAME"


class SsmConfigSource:
    """ports.ConfigSource: the parameter's JSON, re-read at most every `max_age_seconds`, parsed per monitor."""

    def __init__(self, parameter_name: str, max_age_seconds: int = 60, client: SSMClient | None = None) -> None:
        self.parameter_name = parameter_name
        self.max_age_seconds = max_age_seconds
        self._client = client
        self._provider: SSMProvider | None = None
        self._parsed: tuple[str, Catalog] | None = None

    @property
    def provider(self) -> SSMProvider:
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._client or aws_client("ssm"))
        return self._provider

    def load(self) -> Catalog:
        """The current Catalog. A missing parameter or a broken document raises ConfigError; throttling, Retryable."""
        try:
            text = self.provider.get(self.parameter_name, max_age=self.max_age_seconds)
        except GetParameterError as error:
            raise self._load_error(error) from error
        if not isinstance(text, str):
            raise ConfigError("*", SETTING, f"parameter {self.parameter_name} does not hold text")
        # Powertools caches the text; the parse is cached here on the same text so a warm tick skips it.
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, parse_catalog_json(text))
        return self._parsed[1]

    def _load_error(self, error: GetParameterError) -> Exception:
        # Powertools wraps the botocore error (as the implicit context), so the original code is one link down.
        cause = error.__cause__ or error.__context__
        if isinstance(cause, ClientError):
            if cause.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return ConfigError("*", SETTING, f"SSM parameter {self.parameter_name!r} does not exist")
            return translate_error(cause, what=f"GetParameter {self.parameter_name}")
        if isinstance(cause, BotoCoreError):
            return translate_error(cause, what=f"GetParameter {self.parameter_name}")
        return DependencyError(f"GetParameter {self.parameter_name} failed: {error}")
