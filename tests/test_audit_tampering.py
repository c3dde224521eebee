"""Random tampering with the audit log (the fast part; `make bench` runs thousands): every
edit, deletion, reordering and truncation is caught naming the first bad record."""

from __future__ import annotations

from pathlib import Path

from tests.support.audit_tampering import run

CASES = 200


def test_random_tampering_is_always_caught_and_named(tmp_path: Path) -> None:
    caught, misses = run(tmp_path, CASES, seed=13)
    assert misses == []
    assert caught == CASES
