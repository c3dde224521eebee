"""An empty AWS account for each test, written as the AWS CLI exports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.aws_account import ExportedAccount


@pytest.fixture
def aws(tmp_path: Path) -> ExportedAccount:
    return ExportedAccount(tmp_path / "export")
