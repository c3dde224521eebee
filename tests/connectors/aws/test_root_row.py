"""The credential report's ``<root_account>`` row: IAM always writes it, so a report without
it (cut short, filtered by someone's script, from an endpoint that leaves it out) leaves the
root user unjudged and the snapshot incomplete, live and from an export, never silently
complete without the root user."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest

from iam_gov.connectors.aws.export import ROOT_ROW_UNKNOWN, ROOT_USER
from iam_gov.model import AccountKind, SnapshotError, SystemSnapshot

from .conftest import ACCOUNT_ID, MotoAccount

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
ERIN = f"arn:aws:iam::{ACCOUNT_ID}:user/erin"


def _without_root(csv: str) -> str:
    """What ``grep -v '<root_account>'`` leaves of the report."""
    return "".join(line for line in csv.splitlines(keepends=True) if not line.startswith(ROOT_USER))


def _root_problem(snapshot: SystemSnapshot) -> SnapshotError:
    (problem,) = [e for e in snapshot.errors if e.consequence == ROOT_ROW_UNKNOWN]
    return problem


def test_the_fake_writes_the_root_row_first_as_iam_does(small: MotoAccount) -> None:
    """moto leaves the row out; ``tests.support.moto_iam`` puts it back, first, with the
    fields IAM writes for the root user, so that the live collect is complete with it."""
    small.iam.generate_credential_report()
    lines = small.iam.get_credential_report()["Content"].decode().splitlines()

    assert lines[1].split(",")[:8] == [
        ROOT_USER,
        ROOT,
        "2015-01-01T00:00:00+00:00",
        "not_supported",
        "no_information",
        "not_supported",
        "not_supported",
        "false",  # moto's account summary: AccountMFAEnabled 0
    ]
    assert [line.split(",")[0] for line in lines[1:]] == [ROOT_USER, "erin"]
    snapshot = small.live().collect()
    assert snapshot.complete, snapshot.errors
    root = next(a for a in snapshot.accounts if a.native_id == ROOT)
    assert (root.login, root.kind, root.mfa_factors) == ("root", AccountKind.BREAK_GLASS, ())


def test_live_report_without_the_root_row_is_incomplete(
    small: MotoAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint whose report has no root row (moto as it comes): one problem naming the
    API call, with what it leaves unknown; everything else is read."""
    from moto.iam.models import IAMBackend

    faithful: Callable[[IAMBackend], str] = IAMBackend.get_credential_report
    monkeypatch.setattr(
        IAMBackend, "get_credential_report", lambda self: _without_root(faithful(self))
    )

    snapshot = small.live().collect()

    assert not snapshot.complete
    problem = _root_problem(snapshot)
    assert (problem.source, problem.record) == ("iam:GetCredentialReport", ROOT_USER)
    assert problem.message == (
        "the credential report has no <root_account> row, which IAM always writes "
        "(cut short or filtered?)"
    )
    assert str(problem).endswith(f"({ROOT_ROW_UNKNOWN})")
    assert snapshot.errors == (problem,)
    assert {a.native_id for a in snapshot.accounts} == {ERIN}


@pytest.mark.parametrize("report", ["csv", "json"])
def test_exported_report_without_the_root_row_is_incomplete(
    small: MotoAccount, tmp_path: Path, report: Literal["csv", "json"]
) -> None:
    """The CLI's file with the root row filtered out, as decoded CSV or inside the JSON's
    base64 ``Content``: incomplete, naming the file; the same file whole is complete."""
    connector = small.export(tmp_path, report=report)
    whole = connector.collect()
    assert whole.complete, whole.errors
    path = tmp_path / f"credential-report.{report}"
    if report == "csv":
        path.write_text(_without_root(path.read_text()))
    else:
        document = json.loads(path.read_text())
        csv = _without_root(base64.b64decode(document["Content"]).decode())
        document["Content"] = base64.b64encode(csv.encode()).decode()
        path.write_text(json.dumps(document))

    cut = connector.collect()

    assert not cut.complete
    problem = _root_problem(cut)
    assert (problem.source, problem.record) == (str(path), ROOT_USER)
    assert [e for e in cut.errors if e not in whole.errors] == [problem]
    # Only the root user is missing: nobody else was lost with its row.
    assert {a.native_id for a in whole.accounts} - {a.native_id for a in cut.accounts} == {ROOT}


def test_a_report_of_the_header_alone_is_incomplete(small: MotoAccount, tmp_path: Path) -> None:
    """An account without IAM users still has its root row: a report of the header alone
    was a complete snapshot of an account without a root user."""
    small.iam.delete_login_profile(UserName="erin")
    small.iam.delete_user(UserName="erin")
    connector = small.export(tmp_path, report="csv")
    path = tmp_path / "credential-report.csv"
    path.write_text(path.read_text().splitlines(keepends=True)[0])

    snapshot = connector.collect()

    assert not snapshot.complete
    assert _root_problem(snapshot).source == str(path)
    assert snapshot.accounts == ()


def test_a_root_row_known_only_by_its_arn_is_enough(small: MotoAccount, tmp_path: Path) -> None:
    """The user column damaged, the ARN intact: still the root user, no problem."""
    connector = small.export(tmp_path, report="csv")
    path = tmp_path / "credential-report.csv"
    path.write_text(path.read_text().replace(ROOT_USER, "<root_acco?nt>"))

    snapshot = connector.collect()

    assert snapshot.complete, snapshot.errors
    assert ROOT in {a.native_id for a in snapshot.accounts}
