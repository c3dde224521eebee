"""Field types for configuration models: paths relative to the config file, secret references."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    WrapValidator,
    model_validator,
)

from iam_gov.errors import ConfigError

BASE_DIR_KEY = "base_dir"


def _resolve_path(value: Any, handler: Any, info: ValidationInfo) -> Path:
    path: Path = handler(value)
    path = path.expanduser()
    context = info.context or {}
    base = context.get(BASE_DIR_KEY)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return path


RelPath = Annotated[Path, WrapValidator(_resolve_path)]
"""A path; relative ones are taken relative to the configuration file's folder."""


class SecretRef(BaseModel):
    """Where a secret lives: an environment variable or the OS keyring, never the file itself.

    In TOML: ``password = { env = "LDAP_BIND_PASSWORD" }`` or
    ``password = { keyring = "iam-gov/ldap" }`` (service name, then user name after the last /).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    keyring: str | None = Field(default=None, pattern=r"^.+/.+$")

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.keyring is None):
            raise ValueError('give exactly one of env = "VAR" or keyring = "service/user"')
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"keyring entry {self.keyring}"

    def resolve(self, key: str = "secret") -> SecretStr:
        """The secret's value, wrapped so that printing it shows ``**********``."""
        value: str | None
        if self.env is not None:
            value = os.environ.get(self.env)
        else:
            import keyring  # lazy: only needed when someone asks for it

            assert self.keyring is not None
            service, _, user = self.keyring.rpartition("/")
            try:
                value = keyring.get_password(service, user)
            except Exception as exc:  # keyring backends raise their own types
                raise ConfigError(
                    f"{key}: the OS keyring could not be read ({type(exc).__name__})"
                ) from None
        if not value:
            raise ConfigError(f"{key}: {self.describe()} is not set")
        return SecretStr(value)


# A key that names a secret ends with one of these words (``bind_password``, ``client_secret``,
# ``api_token``), unlike ``password_policy`` or ``token_url``, which merely mention one.
_SECRET_KEY = re.compile(
    r"(^|[_-])(password|passwd|secret|token|passphrase|api[_-]?key|private[_-]?key|secret[_-]?key)$",
    re.IGNORECASE,
)


def looks_like_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None
