"""The demo PKI the OpenVPN tests share: a real easy-rsa PKI, copied fresh for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pki import DemoPki, demo_pki


@pytest.fixture
def demo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return demo_pki(tmp_path_factory, tmp_path / "easy-rsa")
