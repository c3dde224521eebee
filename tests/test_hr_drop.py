"""An HR export cut at a line boundary reads cleanly: one with far fewer people than the last
is refused unless confirmed, so that leavers' findings do not look resolved and everyone else
does not become an orphan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from iam_gov.samplegen import generate
from tests.support.world import AS_OF
from tests.test_cli import FIRST_RUN, iam_gov


def hr_snapshots(db: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, json_extract(counts, '$.people') FROM snapshots WHERE system = 'hr' "
            "ORDER BY id"
        ).fetchall()
    return [(int(i), int(n)) for i, n in rows]


def keep_rows(company: Path, count: int) -> None:
    """The HR export with only its first ``count`` people: cut at a line boundary."""
    [hr] = (company / "hr").glob("*.csv")
    lines = hr.read_text(encoding="utf-8").splitlines(keepends=True)
    hr.write_text("".join(lines[: count + 1]), encoding="utf-8")


def test_a_sharp_drop_is_refused_unless_confirmed(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    db = tmp_path / "store" / "iam-gov.db"
    toml = str(company / "iam-gov.toml")
    assert iam_gov("--config", toml, "run", db=db).returncode == FIRST_RUN
    [(first, people)] = hr_snapshots(db)

    keep_rows(company, people // 2)
    cut = iam_gov("--config", toml, "run", db=db)

    assert cut.returncode == 5, cut.stdout
    assert f"fewer than the {people} of the last snapshot" in cut.stdout
    assert "--accept-hr-drop" in cut.stdout
    assert hr_snapshots(db) == [(first, people)]  # HR keeps its previous snapshot
    assert "STALE" in cut.stdout

    confirmed = iam_gov("--config", toml, "run", "--accept-hr-drop", db=db)
    assert confirmed.returncode != 2, confirmed.stdout
    assert [n for _, n in hr_snapshots(db)] == [people, people // 2]


def test_a_small_drop_is_stored(tmp_path: Path) -> None:
    company = tmp_path / "company"
    generate(company, people=30, seed=5, as_of=AS_OF)
    db = tmp_path / "store" / "iam-gov.db"
    toml = str(company / "iam-gov.toml")
    iam_gov("--config", toml, "run", db=db)
    [(_, people)] = hr_snapshots(db)

    keep_rows(company, people - 1)  # one person gone: an ordinary day
    done = iam_gov("--config", toml, "collect", "--system", "hr", db=db)

    assert done.returncode == 0, done.stdout + done.stderr
    assert [n for _, n in hr_snapshots(db)] == [people, people - 1]
