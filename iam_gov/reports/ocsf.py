"""Findings as OCSF Detection Finding events (class 2004), one JSON object per line, for SIEMs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from iam_gov import __version__
from iam_gov.model import Finding, Severity
from iam_gov.reports.formats import FindingsReport, findings_format
from iam_gov.rules import all_rules
from iam_gov.timeutil import as_utc

OCSF_VERSION = "1.3.0"
"""The OCSF schema version the events follow."""

CLASS_UID = 2004
CLASS_NAME = "Detection Finding"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"

ACTIVITY = {1: "Create", 2: "Update", 3: "Close"}
STATUS = {1: "New", 4: "Resolved"}
SEVERITY_ID = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
SEVERITY_NAME = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
ANALYTIC_RULE = 1
"""analytic.type_id: the finding comes from a rule."""


def _ms(value: datetime) -> int:
    """OCSF timestamp_t: milliseconds since the Unix epoch."""
    return int(as_utc(value).timestamp() * 1000)


def detection_finding(finding: Finding, *, generated_at: datetime) -> dict[str, Any]:
    """One finding as an OCSF Detection Finding. Activity: Create the first time it is seen,
    Update when seen again, Close once resolved; ``time`` is when that happened."""
    rule = all_rules().get(finding.rule_id)
    title = rule.title if rule else finding.rule_id
    if finding.resolved_at is not None:
        activity_id, status_id, time = 3, 4, finding.resolved_at
    else:
        seen_again = (
            finding.first_seen is not None
            and finding.last_seen is not None
            and as_utc(finding.last_seen) > as_utc(finding.first_seen)
        )
        activity_id, status_id = (2 if seen_again else 1), 1
        time = finding.last_seen or finding.first_seen or generated_at
    info: dict[str, Any] = {
        "uid": finding.finding_id,
        "title": title,
        "desc": finding.message,
        "types": [finding.rule_id],
        "analytic": {
            "uid": finding.rule_id,
            "name": title,
            "type_id": ANALYTIC_RULE,
            "type": "Rule",
        },
    }
    if finding.first_seen is not None:
        info["first_seen_time"] = _ms(finding.first_seen)
    if finding.last_seen is not None:
        info["last_seen_time"] = _ms(finding.last_seen)
    severity_id = SEVERITY_ID[finding.severity]
    event: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "activity_id": activity_id,
        "activity_name": ACTIVITY[activity_id],
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"{CLASS_NAME}: {ACTIVITY[activity_id]}",
        "severity_id": severity_id,
        "severity": SEVERITY_NAME[severity_id],
        "status_id": status_id,
        "status": STATUS[status_id],
        "time": _ms(time),
        "message": finding.message,
        "finding_info": info,
        "resources": _resources(finding),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "iam-gov", "vendor_name": "iam-gov", "version": __version__},
        },
        "unmapped": {"evidence": finding.evidence},
    }
    if rule is not None:
        event["remediation"] = {"desc": rule.remediation}
        event["unmapped"]["controls"] = {
            "statement": rule.control,
            "soc2": list(rule.soc2),
            "iso27001": list(rule.iso27001),
        }
    return event


def _resources(finding: Finding) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if finding.system is not None:
        out.append({"type": "System", "uid": finding.system, "name": finding.system})
    login = finding.evidence.get("account_login")
    subject: dict[str, Any] = {
        "type": "Account" if isinstance(login, str) else "Subject",
        "uid": finding.subject,
        "name": login if isinstance(login, str) else finding.subject,
    }
    if finding.person_id is not None:
        subject["owner"] = {"uid": finding.person_id, "type": "User", "type_id": 1}
    out.append(subject)
    return out


@findings_format("ocsf", "OCSF Detection Finding events as JSON Lines, for a SIEM")
def _ocsf(report: FindingsReport) -> str:
    return findings_ocsf(report.findings, generated_at=report.generated_at)


def findings_ocsf(findings: Sequence[Finding], *, generated_at: datetime) -> str:
    """JSON Lines: one event per line, which is what log shippers and SIEM inputs read
    (Splunk's monitor and HEC raw inputs, Filebeat, Logstash, Fluent Bit, Vector): a file can
    be tailed and appended to, and a bad line costs one event, not the batch. Non-ASCII is
    escaped, so that no Unicode line separator inside a name can split an event."""
    return "".join(
        json.dumps(detection_finding(f, generated_at=generated_at), sort_keys=True) + "\n"
        for f in findings
    )
