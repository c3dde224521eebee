"""OCSF output: Detection Finding events (class 2004, OCSF 1.3.0) as JSON Lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from iam_gov import __version__
from iam_gov.cli import app
from iam_gov.evaluation import finding_id
from iam_gov.model import Finding, Severity
from iam_gov.reports.ocsf import OCSF_VERSION, findings_ocsf
from iam_gov.samplegen import generate
from tests.support.world import AS_OF

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
FIRST = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LAST = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

INT = {"type": "integer"}
STR = {"type": "string"}
TIME = {"type": "integer", "minimum": 0}
"""OCSF timestamp_t: milliseconds since the epoch."""

# What OCSF 1.3.0 says of class 2004 (Detection Finding, category 2 Findings), written down
# from the schema's documentation: required attributes, the recommended ones we fill, their
# types and enums. Attributes not in the class are refused, so a misspelt name fails too.
DETECTION_FINDING_1_3 = {
    "type": "object",
    "required": [
        "activity_id",
        "category_uid",
        "class_uid",
        "finding_info",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    ],
    "additionalProperties": False,
    "properties": {
        # base event
        "activity_id": {"enum": [0, 1, 2, 3, 99]},
        "activity_name": STR,
        "category_uid": {"const": 2},
        "category_name": {"const": "Findings"},
        "class_uid": {"const": 2004},
        "class_name": {"const": "Detection Finding"},
        "count": INT,
        "duration": INT,
        "end_time": TIME,
        "message": STR,
        "metadata": {
            "type": "object",
            "required": ["product", "version"],
            "properties": {
                "version": STR,
                "product": {
                    "type": "object",
                    "properties": {"name": STR, "vendor_name": STR, "version": STR},
                    "anyOf": [{"required": ["name"]}, {"required": ["uid"]}],
                },
            },
        },
        "observables": {"type": "array"},
        "raw_data": STR,
        "severity": STR,
        "severity_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 99]},
        "start_time": TIME,
        "status": STR,
        "status_code": STR,
        "status_detail": STR,
        "status_id": {"enum": [0, 1, 2, 3, 4, 99]},
        "time": TIME,
        "timezone_offset": INT,
        "type_uid": INT,
        "type_name": STR,
        "unmapped": {"type": "object"},
        # finding and detection finding
        "comment": STR,
        "confidence_id": INT,
        "confidence_score": INT,
        "evidences": {"type": "array"},
        "finding_info": {
            "type": "object",
            "required": ["uid"],
            "properties": {
                "uid": STR,
                "title": STR,
                "desc": STR,
                "types": {"type": "array", "items": STR},
                "first_seen_time": TIME,
                "last_seen_time": TIME,
                "created_time": TIME,
                "modified_time": TIME,
                "analytic": {
                    "type": "object",
                    "required": ["type_id"],
                    "properties": {"uid": STR, "name": STR, "type_id": INT, "type": STR},
                },
            },
        },
        "impact_id": INT,
        "remediation": {"type": "object", "required": ["desc"], "properties": {"desc": STR}},
        "resources": {
            "type": "array",
            "items": {
                "type": "object",
                "anyOf": [{"required": ["uid"]}, {"required": ["name"]}],
                "properties": {
                    "uid": STR,
                    "name": STR,
                    "type": STR,
                    "owner": {"type": "object", "properties": {"uid": STR, "type_id": INT}},
                },
            },
        },
        "risk_level_id": INT,
        "risk_score": INT,
        "vulnerabilities": {"type": "array"},
    },
}
VALIDATOR = Draft202012Validator(DETECTION_FINDING_1_3)


def finding(severity: Severity = Severity.HIGH, **extra: Any) -> Finding:
    values: dict[str, Any] = {
        "rule_id": "leaver-active-access",
        "severity": severity,
        "system": "aws",
        "subject": "aws:arn:aws:iam::123456789012:user/jane.doe",
        "person_id": "E1",
        "message": "Jane Doe (E1) left on 2026-10-01, but aws account jane.doe is still active.",
        "evidence": {"account_login": "jane.doe", "days_since_end": 57},
        "first_seen": FIRST,
        "last_seen": LAST,
        **extra,
    }
    values["finding_id"] = finding_id(values["rule_id"], values["subject"])
    return Finding.model_validate(values)


def events(*findings: Finding) -> list[dict[str, Any]]:
    text = findings_ocsf(list(findings), generated_at=NOW)
    assert text.endswith("\n") and text.count("\n") == len(findings)
    return [json.loads(line) for line in text.split("\n")[:-1]]


def test_each_finding_is_a_valid_detection_finding() -> None:
    [event] = events(finding())

    errors = sorted(VALIDATOR.iter_errors(event), key=str)
    assert errors == []
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    assert event["metadata"] == {
        "version": OCSF_VERSION,
        "product": {"name": "iam-gov", "vendor_name": "iam-gov", "version": __version__},
    }
    info = event["finding_info"]
    assert info["uid"] == finding().finding_id
    assert info["title"] == "Leaver still has active access"
    assert info["desc"] == event["message"] == finding().message
    assert info["types"] == ["leaver-active-access"]
    assert info["analytic"] == {
        "uid": "leaver-active-access",
        "name": "Leaver still has active access",
        "type_id": 1,
        "type": "Rule",
    }
    assert (info["first_seen_time"], info["last_seen_time"]) == (
        1795165200000,  # 2026-11-20T09:00:00Z
        1795770000000,  # 2026-11-27T09:00:00Z
    )
    assert event["resources"] == [
        {"type": "System", "uid": "aws", "name": "aws"},
        {
            "type": "Account",
            "uid": "aws:arn:aws:iam::123456789012:user/jane.doe",
            "name": "jane.doe",
            "owner": {"uid": "E1", "type": "User", "type_id": 1},
        },
    ]
    assert event["remediation"]["desc"].startswith("Disable the account")
    assert event["unmapped"]["evidence"] == {"account_login": "jane.doe", "days_since_end": 57}
    assert event["unmapped"]["controls"]["soc2"] == ["CC6.2", "CC6.3"]


def test_the_schema_check_catches_what_it_should() -> None:
    [event] = events(finding())
    broken = [
        {k: v for k, v in event.items() if k != "finding_info"},
        {**event, "class_uid": 2001},
        {**event, "time": "2026-11-27T09:00:00Z"},
        {**event, "severity_id": 7},
        {**event, "finding_uid": "x"},  # not an attribute of the class
        {**event, "metadata": {"product": {"name": "iam-gov"}}},
    ]
    for bad in broken:
        assert list(VALIDATOR.iter_errors(bad)), bad


@pytest.mark.parametrize(
    ("severity", "severity_id", "label"),
    [
        (Severity.INFO, 1, "Informational"),
        (Severity.LOW, 2, "Low"),
        (Severity.MEDIUM, 3, "Medium"),
        (Severity.HIGH, 4, "High"),
        (Severity.CRITICAL, 5, "Critical"),
    ],
)
def test_severity_mapping(severity: Severity, severity_id: int, label: str) -> None:
    [event] = events(finding(severity))

    assert (event["severity_id"], event["severity"]) == (severity_id, label)


def test_create_update_and_close_follow_the_findings_life() -> None:
    new, seen_again, resolved = events(
        finding(first_seen=LAST, last_seen=LAST),
        finding(),
        finding(resolved_at=NOW),
    )

    assert (new["activity_id"], new["activity_name"], new["type_uid"]) == (1, "Create", 200401)
    assert (new["status_id"], new["status"]) == (1, "New")
    assert new["time"] == 1795770000000  # when it was seen
    assert (seen_again["activity_id"], seen_again["type_name"]) == (
        2,
        "Detection Finding: Update",
    )
    assert (resolved["activity_id"], resolved["type_uid"]) == (3, 200403)
    assert (resolved["status_id"], resolved["status"]) == (4, "Resolved")
    assert resolved["time"] == 1795771800000  # when it was resolved
    for event in (new, seen_again, resolved):
        assert list(VALIDATOR.iter_errors(event)) == []


def test_a_finding_about_a_system_or_never_stored() -> None:
    [event] = events(
        finding(
            rule_id="crl-expiring",
            system="openvpn",
            subject="openvpn:crl-expiry",
            person_id=None,
            evidence={"days_left": 5},
            first_seen=None,
            last_seen=None,
        )
    )

    assert list(VALIDATOR.iter_errors(event)) == []
    assert event["resources"][1] == {
        "type": "Subject",
        "uid": "openvpn:crl-expiry",
        "name": "openvpn:crl-expiry",
    }
    assert event["time"] == 1795771800000  # not seen yet: when the report was made
    assert "first_seen_time" not in event["finding_info"]


def test_names_cannot_split_or_forge_lines() -> None:
    nasty = 'Jane\n{"class_uid": 1}\u2028Doe\r'
    text = findings_ocsf([finding(message=nasty)], generated_at=NOW)

    assert text.count("\n") == 1 and "\u2028" not in text and "\r" not in text
    (line,) = text.splitlines()  # str.splitlines also splits on U+2028
    assert json.loads(line)["message"] == nasty


def test_the_findings_command_writes_json_lines(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    env = {"IAM_GOV_DATABASE_URL": f"sqlite:///{tmp_path / 'iam-gov.db'}"}
    config = ["--config", str(company / "iam-gov.toml")]
    # a first run: no baseline, so every open high finding is new (exit 1)
    assert CliRunner().invoke(app, [*config, "run"], env=env).exit_code == 1

    result = CliRunner().invoke(app, [*config, "findings", "-f", "ocsf"], env=env)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    as_json = CliRunner().invoke(app, [*config, "findings", "-f", "json"], env=env).output
    assert len(lines) == len(json.loads(as_json)) > 0
    for line in lines:
        event = json.loads(line)
        assert list(VALIDATOR.iter_errors(event)) == [], event
        assert event["activity_id"] == 1  # one evaluation so far: every finding is new
