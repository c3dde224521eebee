"""AWS services a principal is allowed to use but has not used for a long time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from iam_gov.aws_policy import analysis_for, is_aws_view
from iam_gov.engine.state import EvaluationState
from iam_gov.model import AccountStatus, Severity
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule
from iam_gov.timeutil import as_utc

LAST_ACCESSED_KIND = "service-last-accessed"
_SHOWN = 8


class Params(RuleParams):
    days: int = Field(90, ge=1, description="A service not used for this many days is unused.")
    min_services: int = Field(1, ge=1, description="Report a principal from this many unused.")


class UnusedService(BaseModel):
    service: str
    """The service prefix, as in ``s3:GetObject``."""
    name: str | None
    last_accessed: datetime | None
    """None: never, as far as AWS has tracked."""


class UnusedEvidence(Evidence):
    account_login: str
    principal_arn: str
    principal_type: str
    unused: list[UnusedService]
    allowed_services: int
    """Services both its policies and AWS's last-accessed data say it may use."""
    threshold_days: int


@rule(
    id="unused-privilege",
    title="Unused AWS service permissions",
    severity=Severity.MEDIUM,
    control="Access is granted on the principle of least privilege.",
    soc2=("CC6.1", "CC6.3"),
    iso27001=("A.8.2", "A.5.15"),
    remediation=(
        "Remove the unused services from the principal's policies (IAM Access Analyzer can "
        "generate a policy from what it did use), or record why it keeps them."
    ),
)
def unused_privilege(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """An active IAM user or role allowed to use AWS services it has not used in N days
    (never used ones included), from AWS's service-last-accessed data (Access Advisor).
    Only services that both its policies (as iam-gov evaluates them) and AWS's data say it
    may use are counted; a principal without last-accessed data, or younger than N days,
    is not judged.

    ```yaml
    rules:
      unused-privilege:
        days: 90
        min_services: 3
    ```
    """
    for view in state.systems.values():
        if not is_aws_view(view):
            continue
        analysis = None
        cutoff = view.as_of - timedelta(days=params.days)
        for arn in sorted(view.accounts):
            account = view.accounts[arn]
            document = view.documents.get(f"{arn}#{LAST_ACCESSED_KIND}")
            if document is None or document.kind != LAST_ACCESSED_KIND:
                continue
            if account.status is not AccountStatus.ACTIVE:
                continue
            if account.created_at is not None and account.created_at > cutoff:
                continue
            if analysis is None:
                analysis = analysis_for(view)
            principal = analysis.principals.get(arn)
            if principal is None or principal.kind not in ("user", "role"):
                continue
            allowed = analysis.effective_permissions(principal).services()
            entries = _entries(document.document)
            judged = {service: entry for service, entry in entries.items() if service in allowed}
            unused = [
                entry
                for _, entry in sorted(judged.items())
                if entry.last_accessed is None or entry.last_accessed < cutoff
            ]
            if len(unused) < params.min_services:
                continue
            shown = ", ".join(f"{u.service} ({_when(u)})" for u in unused[:_SHOWN])
            if len(unused) > _SHOWN:
                shown += f" and {len(unused) - _SHOWN} more"
            link = state.links[(view.name, arn)]
            yield Hit(
                subject=f"{view.name}:{arn}:unused-services",
                system=view.name,
                person_id=link.person_id,
                message=(
                    f"{view.name} {principal.kind} {account.login} has not used "
                    f"{len(unused)} of the {len(judged)} AWS services its policies allow in "
                    f"{days(params.days)}: {shown}."
                ),
                evidence=UnusedEvidence(
                    account_login=account.login,
                    principal_arn=arn,
                    principal_type=principal.kind,
                    unused=unused,
                    allowed_services=len(judged),
                    threshold_days=params.days,
                ),
            )


def _entries(document: Mapping[str, Any]) -> dict[str, UnusedService]:
    """``ServicesLastAccessed`` as AWS returns it, by service prefix; unreadable entries
    are skipped (the data comes from the system under review)."""
    out: dict[str, UnusedService] = {}
    items = document.get("ServicesLastAccessed")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("ServiceNamespace"), str):
            continue
        last: datetime | None = None
        raw = item.get("LastAuthenticated")
        if isinstance(raw, str):
            try:
                last = as_utc(datetime.fromisoformat(raw))
            except ValueError:
                continue  # unknown is not "never": do not judge it
        name = item.get("ServiceName")
        service = item["ServiceNamespace"].lower()
        out[service] = UnusedService(
            service=service, name=name if isinstance(name, str) else None, last_accessed=last
        )
    return out


def _when(service: UnusedService) -> str:
    if service.last_accessed is None:
        return "never"
    return f"last {service.last_accessed:%Y-%m-%d}"
