"""The drift report's changed grants as CSV for a spreadsheet: one row per grant added or
removed, every cell printable and unable to start a formula (``textsafe.csv_cell``)."""

from __future__ import annotations

import csv
import io
from typing import Final

from iam_gov.drift.model import DriftReport
from iam_gov.drift.render_markdown import person_of, shown_grants
from iam_gov.textsafe import csv_cell

CSV_COLUMNS: Final = ("system", "login", "person", "entitlement", "privileged", "change", "via")


def render_csv(report: DriftReport) -> str:
    """A header and one row per grant change, in the report's order. A removal in a system
    whose changes were not compared is never listed (what it did not show is not removed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for g in shown_grants(report):
        row = (
            g.system,
            g.login,
            person_of(g.person_name, g.person_id),
            g.entitlement_name,
            "yes" if g.privileged else "no",
            g.change,
            g.via or "",
        )
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
