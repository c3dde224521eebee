"""Every file iam-gov creates is 0600 and every folder it creates 0700 under umask 022: the
store and its WAL, drift report folders, saved plans, reports written with --out, exports,
evidence bundles, reminder e-mails, held HR plans and the sample company; and no writer
follows a symbolic link at the name it was given to overwrite something else."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iam_gov import audit, cli
from iam_gov.samplegen import generate
from iam_gov.store import Store
from tests.support.okta_server import TOKEN, OktaServer, example_org
from tests.support.world import AS_OF

TOKEN_ENV = "IAM_GOV_TEST_OKTA_TOKEN"


@dataclass
class Ran:
    code: int
    out: str
    err: str


def iam_gov(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """The command as ``python -m iam_gov`` runs it, in this process (one import, one umask)."""
    capsys.readouterr()
    argv = sys.argv
    sys.argv = ["iam-gov", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def made_by_iam_gov(root: Path) -> Iterator[Path]:
    """Every file and folder under ``root``, ``root`` included; links are listed, not followed."""
    yield root
    yield from sorted(root.rglob("*"))


def assert_private(root: Path, *, at_least: int = 1) -> None:
    """Files 0600 and folders 0700 under ``root`` (the drift folder's ``latest`` link aside: a
    link has no mode of its own)."""
    files = 0
    for path in made_by_iam_gov(root):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        assert stat.S_IMODE(info.st_mode) == wanted, f"{path}: {mode(path):04o}"
        files += stat.S_ISREG(info.st_mode)
    assert files >= at_least, f"{root}: only {files} file(s): the test proves nothing"


@pytest.fixture(scope="module")
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@dataclass
class Site:
    """A generated company whose configuration writes everything under ``made``, a folder
    that does not exist yet, and a store that ran once."""

    company: Path
    made: Path
    config: str
    url: str

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
        return iam_gov(capsys, "--config", self.config, "--database-url", self.url, *args)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, umask_022: None) -> Iterator[Site]:
    """The company, and its first `run` into a store whose folders do not exist yet."""
    root = tmp_path_factory.mktemp("modes")
    company = root / "company"
    generate(company, people=20, seed=5, as_of=AS_OF)
    made = root / "made"
    config = company / "iam-gov.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^reminders_folder = ".*"$', f'reminders_folder = "{made}/mail/out"', text)
    text = re.sub(r'(?m)^reports_folder = ".*"$', f'reports_folder = "{made}/reports/all"', text)
    config.write_text(text, encoding="utf-8")
    done = Site(company, made, str(config), f"sqlite:///{made}/state/db/iam-gov.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("IAM_GOV_CONFIG", raising=False)
        patch.delenv("IAM_GOV_DATABASE_URL", raising=False)
        patch.setenv("IAM_GOV_REVIEWER", "auditor@example.com")
        argv = sys.argv
        sys.argv = ["iam-gov", "--config", done.config, "--database-url", done.url, "run"]
        try:
            cli.main()
        except SystemExit as exc:
            assert exc.code in (0, 1), exc.code  # 1: the sample's planted findings
        finally:
            sys.argv = argv
        yield done


def test_a_run_writes_a_private_store_and_report_folder(site: Site) -> None:
    """`run` into a store whose folders do not exist: the store, every folder made for it, the
    drift report folder and its files are only the owner's."""
    assert (site.made / "state" / "db" / "iam-gov.db").is_file()
    assert list((site.made / "reports" / "all").glob("*/drift.html"))
    assert_private(site.made, at_least=5)


def test_sqlite_side_files_of_a_reopened_store_are_private(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store made before (its -wal and -shm gone with its last connection): SQLite makes
    them anew when iam-gov opens it again, and they are 0600 like the store."""
    db = site.made / "state" / "db" / "iam-gov.db"
    assert not db.with_name("iam-gov.db-wal").exists()
    with Store.open(site.url) as store:
        with store.writing() as conn:
            audit.append(conn, "test", "file-modes", {})
        side = sorted(p.name for p in db.parent.iterdir())
        assert {"iam-gov.db-wal", "iam-gov.db-shm"} <= set(side)
        assert_private(db.parent, at_least=3)


def test_a_store_named_by_a_file_uri_through_the_cli_is_private(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "by-uri" / "deeper" / "iam-gov.db"
    ran = iam_gov(
        capsys,
        "--config",
        site.config,
        "--database-url",
        f"sqlite:///file:{path}?mode=rwc&uri=true",
        "collect",
        "-s",
        "hr",
    )
    assert ran.code == 0, ran.err
    assert path.is_file()
    assert_private(tmp_path / "by-uri")


def test_reports_plans_reminders_and_evidence_are_private(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each command that writes a file given on the command line, into folders it makes."""
    out = site.made / "out"  # --out FILE needs its folder: the user's, made 0700 here
    hr_file = str(site.company / "hr" / "workers.csv")
    out.mkdir(mode=0o700)
    steps = [
        ("drift", "--out", str(out / "drift.md")),
        ("leavers", "report", "--since", "2026-01-01", "--out", str(out / "leavers.txt")),
        ("deprovision", "--from-hr", hr_file, "--plan-out", str(out / "plan.json")),
        ("campaign", "create", "--name", "modes", "--privileged-only", "--launch"),
        ("campaign", "remind"),
        ("campaign", "close", "1", "--force-before-due", "--out", str(out / "ev" / "bundle")),
    ]
    for step in steps:
        ran = site.cli(capsys, *step)
        assert ran.code in (0, 1), (step, ran.out, ran.err)
    for name in ("drift.md", "leavers.txt", "plan.json"):
        assert (out / name).is_file(), name
    assert len(list((out / "ev" / "bundle").iterdir())) >= 5
    assert list((site.made / "mail" / "out").glob("*.eml"))
    assert_private(site.made, at_least=15)


@pytest.mark.parametrize(
    "command",
    [
        ("drift", "--out", "{link}"),
        ("leavers", "report", "--since", "2026-01-01", "--out", "{link}"),
        ("deprovision", "--from-hr", "{hr}", "--plan-out", "{link}"),
    ],
    ids=["drift", "leavers", "plan"],
)
def test_a_file_named_through_a_link_is_refused_and_the_target_kept(
    command: tuple[str, ...],
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A link at the name given (planted by someone else, or an old habit): the command says
    so in one line and writes nothing; neither the target nor the link changes."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    target.chmod(0o644)
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    hr = str(site.company / "hr" / "workers.csv")
    args = [part.format(link=link, hr=hr) for part in command]
    ran = site.cli(capsys, *args)
    assert ran.code == 2, (ran.out, ran.err)
    assert "symbolic link" in ran.err and str(link) in ran.err
    assert target.read_text() == "keep me\n" and mode(target) == 0o644
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "precious.txt"]


def test_a_stale_temporary_link_beside_the_file_is_never_written_through(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old writer used a fixed temporary name (``.drift.md.tmp``): a link planted there
    would have been written through. Now the temporary file is new and random."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (tmp_path / ".drift.md.tmp").symlink_to(target)
    ran = site.cli(capsys, "drift", "--out", str(tmp_path / "drift.md"))
    assert ran.code in (0, 1), ran.err
    assert target.read_text() == "keep me\n"
    assert mode(tmp_path / "drift.md") == 0o600


@pytest.fixture(scope="module")
def okta() -> Iterator[OktaServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, TOKEN)
        patch.delenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", raising=False)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)
        with OktaServer(example_org()) as server:
            yield server


def test_an_export_of_a_live_system_is_private(
    okta: OktaServer, tmp_path: Path, umask_022: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export okta --out` into folders that do not exist: every page file, every folder and
    the iam-gov-export.toml only the owner's; an --out that is a link is refused."""
    config = tmp_path / "iam-gov.toml"
    policy = tmp_path / "policy.yaml"
    policy.write_text("{}\n")
    config.write_text(
        '[policy]\npath = "policy.yaml"\n\n[systems.okta]\ntype = "okta"\nmode = "live"\n'
        f'org_url = "{okta.url}"\nallow_http = true\napi_token = {{ env = "{TOKEN_ENV}" }}\n'
    )
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    out = tmp_path / "exports" / "2025" / "okta"
    ran = iam_gov(capsys, "--config", str(config), "--database-url", url, "export", "okta",
                  "--out", str(out))  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert (out / "iam-gov-export.toml").is_file() and (out / "users.json").is_file()
    assert_private(tmp_path / "exports", at_least=5)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "linked"
    link.symlink_to(elsewhere)
    ran = iam_gov(capsys, "--config", str(config), "--database-url", url, "export", "okta",
                  "--out", str(link))  # fmt: skip
    assert ran.code == 2 and "symbolic link" in ran.err
    assert list(elsewhere.iterdir()) == []


def test_samples_generate_writes_a_private_company(
    tmp_path: Path, umask_022: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`samples generate` into folders that do not exist; then again with --force over the
    files it wrote, which a user had opened up meanwhile (they are made anew, 0600)."""
    out = tmp_path / "new" / "deeper" / "company"
    ran = iam_gov(capsys, "samples", "generate", "--out", str(out), "--people", "5")
    assert ran.code == 0, ran.err
    assert_private(tmp_path / "new", at_least=10)
    workers = next(out.rglob("*.csv"))
    workers.chmod(0o644)
    ran = iam_gov(capsys, "samples", "generate", "--out", str(out), "--people", "5", "--force")
    assert ran.code == 0, ran.err
    assert mode(workers) == 0o600
    assert_private(tmp_path / "new", at_least=10)


def test_a_held_hr_plan_is_private(site: Site, tmp_path: Path) -> None:
    """An HR event held for a human (`hr-webhook`, mode = "hold"): the plan saved in a held
    folder that did not exist is 0600, its folders 0700."""
    from iam_gov.config import load_config
    from iam_gov.deprovision.events import parse_event
    from iam_gov.deprovision.service import handle_event
    from iam_gov.policy import load_policy
    from iam_gov.rules import all_rules

    config = load_config(Path(site.config))
    policy = load_policy(config.policy.path, rules=all_rules())
    body = b'{"event_id": "evt-modes", "type": "employee.terminated", "employee_id": "E1002"}'
    held = tmp_path / "held" / "plans"
    with Store.open(site.url) as store:
        outcome = handle_event(
            store, config, policy, parse_event(body, "test"), body, source="test",
            actor="hr", mode="hold", held_folder=held,
        )  # fmt: skip
    assert outcome.status == "held", outcome
    assert outcome.held_at is not None and outcome.held_at.parent == held
    assert_private(tmp_path / "held")
