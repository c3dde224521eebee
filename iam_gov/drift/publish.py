"""A scheduled run's last step: the report in every format, written to its dated folder and
sent on, recorded (``drift_reports``) and audited, then retention. Shared by ``iam-gov run``
and ``iam-gov drift --deliver``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert

from iam_gov import audit
from iam_gov.config import Config
from iam_gov.store import Store
from iam_gov.store.schema import drift_reports
from iam_gov.timeutil import utcnow

from .deliver import DeliveryResult, deliver, delivery_exit_code, reports_root
from .model import DriftReport
from .render import render
from .retention import PruneResult, prune

FILES = {"drift.md": "markdown", "drift.html": "html", "drift.json": "json", "grants.csv": "csv"}
"""The files of a report folder, and the format of each."""


@dataclass
class Published:
    report: DriftReport
    deliveries: list[DeliveryResult]
    exit_code: int
    """The report's own code, or 3 when a delivery failed (the report is kept either way)."""
    pruned: PruneResult | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str | None:
        return next((str(d.path) for d in self.deliveries if d.channel == "folder" and d.ok), None)


def report_files(report: DriftReport) -> dict[str, bytes]:
    return {name: render(report, fmt).encode("utf-8") for name, fmt in FILES.items()}


def publish(
    store: Store,
    config: Config,
    report: DriftReport,
    *,
    retention: bool = True,
    actor: str | None = None,
    now: datetime | None = None,
) -> Published:
    """Write and send ``report``, record it, then prune by ``[drift.retention]`` (a report
    just written is the newest: it is kept, with everything it refers to)."""
    results = deliver(config, report, report_files(report))
    code = delivery_exit_code(report.exit_code, results)
    published = Published(report, results, code)
    with store.writing() as conn:
        report_id = conn.execute(
            insert(drift_reports)
            .values(
                made_at=report.made_at,
                folder=published.folder,
                baseline=report.baseline.model_dump(mode="json"),
                snapshot_ids=report.snapshot_ids,
                exit_code=code,
                summary=report.summary.model_dump(mode="json"),
            )
            .returning(drift_reports.c.id)
        ).scalar_one()
        audit.append(
            conn,
            "drift.report",
            f"drift-report:{report_id}",
            {
                "folder": published.folder,
                "baseline": report.baseline.model_dump(mode="json"),
                "exit_code": code,
                "deliveries": [
                    {"channel": d.channel, "ok": d.ok, "detail": d.detail} for d in results
                ],
                "summary": report.summary.model_dump(mode="json"),
            },
            actor=actor,
        )
    if retention:
        published.pruned = prune(
            store,
            config.drift.retention,
            reports_root=reports_root(config),
            now=now or utcnow(),
            actor=actor,
        )
        published.problems.extend(published.pruned.problems)
    return published
