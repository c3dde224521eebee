"""The VPN identity mapping file, shared by the OpenVPN and WireGuard connectors.

It says which person or service a certificate common name (``cn``) or a peer's public key
(``public_key``) is.

    identities:
      - cn: jdoe-laptop                  # OpenVPN
        login: jdoe
      - public_key: "xTIBA5rbo…8Dg="     # WireGuard
        email: jane.doe@example.com
        employee_id: E1001
        kind: human                      # or service
        note: laptop
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from iam_gov.errors import SourceError
from iam_gov.yamlfile import load_yaml


class MappedIdentity(BaseModel):
    """One entry of ``identities:``: a ``cn`` (OpenVPN) or a ``public_key`` (WireGuard); each
    connector reads its own kind of entry and skips the other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cn: str | None = Field(default=None, min_length=1)
    public_key: str | None = Field(default=None, min_length=1)
    login: str | None = Field(default=None, min_length=1)
    email: str | None = Field(default=None, min_length=3)
    employee_id: str | None = Field(default=None, min_length=1)
    kind: Literal["human", "service"] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> MappedIdentity:
        if (self.cn is None) == (self.public_key is None):
            raise ValueError("give exactly one of cn or public_key")
        return self


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    identities: list[MappedIdentity] = Field(default_factory=list)


def read_identities(
    path: Path,
    key: Literal["cn", "public_key"] = "cn",
    check: Callable[[str], str | None] | None = None,
) -> dict[str, MappedIdentity]:
    """``cn`` or ``public_key`` -> its entry; every mistake is ``file:line: what``.
    ``check(value)`` returns a complaint about a key's form, or None."""
    document = load_yaml(path, SourceError)
    try:
        mapping_file = MappingFile.model_validate(document.data)
    except ValidationError as exc:
        raise SourceError(document.problems(exc)) from None
    found: dict[str, MappedIdentity] = {}
    problems = []
    for position, entry in enumerate(mapping_file.identities):
        value = getattr(entry, key)
        if value is None:
            continue
        where = document.where(["identities", position, key])
        complaint = check(value) if check is not None else None
        if complaint:
            problems.append(f"{where}: identities.{position}.{key}: {complaint}")
        elif value in found:
            problems.append(f"{where}: identities.{position}.{key}: {value!r} is mapped twice")
        else:
            found[value] = entry
    if problems:
        raise SourceError(problems)
    return found
