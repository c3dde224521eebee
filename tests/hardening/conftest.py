"""Fixtures the hardening tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hardening.fuzz_exports import DemoCopy


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoCopy]:
    """A private copy of the demo company's exports, damaged and restored file by file."""
    copy = DemoCopy()
    yield copy
    copy.close()
