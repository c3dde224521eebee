"""The WireGuard tests' keys (made by wg, once per module) and the office VPN's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.wireguard.office import Keys, make_keys, write_files
from tests.support.wireguard import require_wg


@pytest.fixture(scope="module")
def keys() -> Keys:
    require_wg()
    return make_keys()


@pytest.fixture
def files(tmp_path: Path, keys: Keys) -> Path:
    write_files(tmp_path, keys)
    return tmp_path
