"""HR connector: its options, the export time, and the connector protocol; the helpers the
other HR tests share."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class, options_model
from iam_gov.connectors.hr.connector import HRConnector, HROptions
from iam_gov.connectors.shared.protocol import ActionNotSupported
from iam_gov.errors import SourceError
from iam_gov.model import (
    Action,
    ActionKind,
    EmploymentStatus,
    EmploymentType,
    Person,
    SystemSnapshot,
)

EXPORTED_AT = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
ACTIVE, LEAVE, TERMINATED = (
    EmploymentStatus.ACTIVE,
    EmploymentStatus.LEAVE,
    EmploymentStatus.TERMINATED,
)
EMPLOYEE, CONTRACTOR, INTERN, OTHER = (
    EmploymentType.EMPLOYEE,
    EmploymentType.CONTRACTOR,
    EmploymentType.INTERN,
    EmploymentType.OTHER,
)


# --- helpers shared by the HR test modules ---------------------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        # newline="" so that the test decides the line ends byte for byte.
        with path.open("w", encoding="utf-8", newline="") as file:
            file.write(content)
    return path


def options(path: Path, **extra: Any) -> HROptions:
    raw: dict[str, Any] = {"type": "hr", "path": str(path), "exported_at": EXPORTED_AT}
    raw.update(extra)
    return HROptions.model_validate(raw)


def collect(path: Path, **extra: Any) -> SystemSnapshot:
    return HRConnector("hr", options(path, **extra)).collect()


def fatal(path: Path, **extra: Any) -> str:
    """The SourceError's message; it must be one line that starts with the file."""
    with pytest.raises(SourceError) as caught:
        collect(path, **extra)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def by_id(snapshot: SystemSnapshot) -> dict[str, Person]:
    return {p.employee_id: p for p in snapshot.people}


# --- when the export was taken ---------------------------------------------------------------


def test_collected_at_defaults_to_the_file_time(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name,end_date\nE1,Ada,2021-03-04\n")
    stamp = datetime(2021, 3, 4, 23, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    connector = HRConnector("people", HROptions(type="hr", path=path))
    snapshot = connector.collect()
    assert snapshot.collected_at == datetime(2021, 3, 4, 23, 0, tzinfo=UTC)
    assert snapshot.people[0].status is TERMINATED


def test_exported_at_naive_is_utc(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "employee_id,name\nE1,Ada\n")
    opts = HROptions.model_validate(
        {"type": "hr", "path": str(path), "exported_at": "2024-01-02T03:04:05"}
    )
    assert opts.exported_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- protocol and options --------------------------------------------------------------------


def test_registered_read_only_connector() -> None:
    assert connector_class("hr") is HRConnector
    assert options_model("hr") is HROptions
    assert HRConnector.capabilities == frozenset()
    assert HRConnector.permissions.collect and HRConnector.permissions.apply == ()


def test_apply_is_not_supported(tmp_path: Path) -> None:
    connector = HRConnector("hr", options(tmp_path / "people.csv"))
    action = Action(kind=ActionKind.DISABLE_ACCOUNT, system="hr", account_id="E1", reason="test")
    with pytest.raises(ActionNotSupported):
        connector.apply(action)


def test_relative_path_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    opts = HROptions.model_validate(
        {"type": "hr", "path": "exports/people.csv"}, context={"base_dir": tmp_path}
    )
    assert opts.path == tmp_path / "exports" / "people.csv"
    assert opts.file_format == "csv"


@pytest.mark.parametrize(
    ("extra", "location"),
    [
        ({"preset": "sap"}, ("preset",)),
        ({"type": "aws"}, ("type",)),
        ({"columns": {"salary": "Salary"}}, ("columns", "salary", "[key]")),
        ({"status_values": {"gone": "fired"}}, ("status_values", "gone")),
        ({"employment_type_values": {"x": "robot"}}, ("employment_type_values", "x")),
        ({"format": "xlsx"}, ("format",)),
        ({"encoding": "klingon"}, ("encoding",)),
        ({"delimiter": ";;"}, ("delimiter",)),
        ({"delimiter": '"'}, ("delimiter",)),
        ({"date_format": "DD/MM/YYYY"}, ("date_format",)),
        ({"min_people": -1}, ("min_people",)),
        ({"sheet": "People"}, ("sheet",)),
    ],
)
def test_bad_options_are_validation_errors(
    tmp_path: Path, extra: dict[str, Any], location: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        options(tmp_path / "people.csv", **extra)
    assert [tuple(str(p) for p in e["loc"]) for e in caught.value.errors()] == [location]


def test_unknown_extension_needs_a_format(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot tell the format of 'people.xlsx'"):
        options(tmp_path / "people.xlsx")
    assert options(tmp_path / "people.export", format="json").file_format == "json"
