"""Bad input for the export readers (OpenVPN, WireGuard, AWS, Okta, Graph): mutations of the
demo company's valid files, and what every read of one must come to.

A read of a damaged file ends in one of three ways: the connector's typed error naming the
file (``SourceError``), an incomplete snapshot whose problems name the file and a place in it,
or a snapshot that keeps every account the undamaged file gave. Anything else (another
exception, a complete snapshot with accounts missing) is a bug the tests report."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from iam_gov.collect import build_connector, integrity_problems
from iam_gov.config import Config, load_config
from iam_gov.errors import SourceError
from iam_gov.model import SystemSnapshot

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo"

# Characters that have broken parsers before: NUL, bidi overrides, CR, a BOM, a lone
# surrogate's replacement, a line separator, tabs and quotes in the wrong place.
HOSTILE = ["\x00", "\u202e", "\u2066", "\r", "\r\n", "\ufeff", "\ufffd", "\u2028", "\t", '"', "\\"]


DAMAGED_FILES: dict[str, list[str]] = {
    "openvpn": [
        "openvpn/pki/index.txt",
        "openvpn/status.log",
        "openvpn/openvpn.log",
        "openvpn/server.conf",
        "openvpn/pki/crl.pem",
        "openvpn/pki/ca.crt",
        "openvpn/pki/certs_by_serial/1007.pem",
        "openvpn/mapping.yaml",
    ],
    "wireguard": ["wireguard/wg0.conf", "wireguard/wg0.dump", "wireguard/mapping.yaml"],
    "aws": [
        "aws/authorization-details.json",
        "aws/credential-report.json",
        "aws/password-policy.json",
        "aws/last-accessed/user/ana.sato.json",
    ],
    "okta": [
        "okta/users.json",
        "okta/users-deprovisioned.json",
        "okta/groups.json",
        "okta/apps.json",
        "okta/group-members/00g0d2512eb3c8150a3a.json",
        "okta/app-users/0oa5abe2922183656908.json",
        "okta/factors/00u8599dabb16f656d19.json",
        "okta/role-assignees.json",
        "okta/policies-password.json",
    ],
    "entra": [
        "entra/users.json",
        "entra/users_3.json",
        "entra/groups/page-001.json",
        "entra/27690806-3df1-5de7-b859-9ccb6e6cd102_members_2.json",
        "entra/roleManagement_directory_roleAssignments.json",
        "entra/reports_authenticationMethods_userRegistrationDetails.json",
        "entra/servicePrincipals.json",
        "entra/domains.json",
    ],
}
"""The demo files the fuzz tests and benchmarks/fuzz_exports.py damage, by system."""


@dataclass(frozen=True)
class Mutation:
    """One change to a file's bytes, described for the failure message."""

    what: str
    apply: Callable[[bytes], bytes]

    def __repr__(self) -> str:
        return self.what


def _truncate(at: float) -> Mutation:
    return Mutation(f"truncated at {at:.3f}", lambda data: data[: int(len(data) * at)])


def _flip(at: float, value: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        if not data:
            return data
        i = min(int(len(data) * at), len(data) - 1)
        return data[:i] + bytes([value]) + data[i + 1 :]

    return Mutation(f"byte at {at:.3f} set to {value:#x}", apply)


def _insert(at: float, piece: bytes) -> Mutation:
    def apply(data: bytes) -> bytes:
        i = int(len(data) * at)
        return data[:i] + piece + data[i:]

    return Mutation(f"{piece[:40]!r}… ({len(piece)} bytes) inserted at {at:.3f}", apply)


def _delete(at: float, count: int) -> Mutation:
    def apply(data: bytes) -> bytes:
        i = int(len(data) * at)
        return data[:i] + data[i + count :]

    return Mutation(f"{count} bytes deleted at {at:.3f}", apply)


def _replace_all(data: bytes) -> Mutation:
    return Mutation(f"replaced by {len(data)} random bytes", lambda _old: data)


POSITIONS = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
PIECES = st.one_of(
    st.sampled_from(HOSTILE).map(lambda text: text.encode()),
    st.text(min_size=1, max_size=20).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=20),
    # a very long line
    st.integers(min_value=10_000, max_value=200_000).map(lambda n: b"A" * n),
)


def byte_mutations() -> st.SearchStrategy[Mutation]:
    """Truncation, a byte flipped, bytes inserted or deleted, the whole file random."""
    return st.one_of(
        st.builds(_truncate, st.floats(min_value=0.0, max_value=0.999)),
        st.builds(_flip, POSITIONS, st.integers(min_value=0, max_value=255)),
        st.builds(_insert, POSITIONS, PIECES),
        st.builds(_delete, POSITIONS, st.integers(min_value=1, max_value=64)),
        st.builds(_replace_all, st.binary(max_size=300)),
    )


def truncations() -> st.SearchStrategy[Mutation]:
    return st.builds(_truncate, st.floats(min_value=0.0, max_value=0.999))


# --- JSON ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deep:
    """A list nested ``depth`` deep, written as text: past any recursion limit a reader
    might trip on (``json`` itself would need that much stack to write it)."""

    depth: int

    def text(self) -> str:
        return "[" * self.depth + "]" * self.depth


WRONG_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
    st.just([]),
    st.just({}),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.builds(Deep, st.integers(min_value=50, max_value=100_000)),
)

_HOLE = "\x00iam-gov-fuzz-hole\x00"


def _places(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every place in a JSON document (the root too)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _places(item, (*path, position))


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return document


def _dump(document: Any, value: Any) -> str:
    """``document`` as JSON, with ``value`` where the hole is."""
    text = value.text() if isinstance(value, Deep) else json.dumps(value)
    return json.dumps(document).replace(json.dumps(_HOLE), text, 1)


@st.composite
def json_mutation(draw: st.DrawFn, original: bytes) -> Mutation:
    """A JSON file with a value of the wrong type somewhere (null, a number, a string where
    a list is, deep nesting), a key written twice, or the whole document deeply nested."""
    text = original.decode("utf-8-sig")
    document = json.loads(text)
    places = list(_places(document))
    kind = draw(st.sampled_from(["wrong type", "duplicate key", "deep"]))
    value = draw(WRONG_VALUES)
    keyed = [p for p in places if p and isinstance(p[-1], str)]
    if kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=200_000))
        mutated = Deep(depth).text()
        return Mutation(f"a document nested {depth} deep", lambda _old: mutated.encode())
    if kind == "duplicate key" and keyed:
        path = draw(st.sampled_from(keyed))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        assert isinstance(key, str)
        # The key again, after its first value: Python's json keeps the last one.
        body = json.dumps(parent)
        twice = body[:-1] + (", " if len(body) > 2 else "") + f"{json.dumps(key)}: "
        twice += (value.text() if isinstance(value, Deep) else json.dumps(value)) + "}"
        mutated = json.dumps(_set(document, path[:-1], _HOLE)).replace(json.dumps(_HOLE), twice)
        return Mutation(
            f"key {'.'.join(map(str, path))} written twice, then {_describe(value)}",
            lambda _old: mutated.encode(),
        )
    path = draw(st.sampled_from(places))
    mutated = _dump(_set(document, path, _HOLE), value)
    return Mutation(
        f"{'.'.join(map(str, path)) or '(root)'} set to {_describe(value)}",
        lambda _old: mutated.encode(),
    )


def _describe(value: Any) -> str:
    return f"a list nested {value.depth} deep" if isinstance(value, Deep) else repr(value)[:60]


# --- the demo company's exports ---------------------------------------------------------------


OPENVPN_MAPPING = """\
identities:
  - cn: former-contractor
    login: r.okafor
    email: r.okafor@contractor.example
    kind: human
    note: contract ended
  - cn: soren.adeyemi
    employee_id: E1001
"""
WIREGUARD_MAPPING = """\
identities:
  - public_key: "59FoRd020XtjoI0oRbtlL7Yy5Zsw/k8sUkXzZ7y+nAk="
    login: office-router
    kind: service
    note: added during the 2025 office move
"""


class DemoCopy:
    """A private copy of the demo company, its configuration loaded once; a file is changed
    for one read and put back."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="iam-gov-fuzz-")) / "demo"
        shutil.copytree(DEMO, self.root)
        # The demo names VPN users in comments and common names; a mapping file is read too.
        (self.root / "openvpn" / "mapping.yaml").write_text(OPENVPN_MAPPING)
        (self.root / "wireguard" / "mapping.yaml").write_text(WIREGUARD_MAPPING)
        toml = self.root / "iam-gov.toml"
        text = toml.read_text()
        for system in ("openvpn", "wireguard"):
            text = text.replace(
                f"[systems.{system}]\n", f'[systems.{system}]\nmapping = "{system}/mapping.yaml"\n'
            )
        toml.write_text(text)
        self.config: Config = load_config(toml)
        self.original: dict[str, SystemSnapshot] = {}

    def close(self) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)

    def collect(self, system: str) -> SystemSnapshot:
        return build_connector(system, self.config.systems[system]).collect()

    def baseline(self, system: str) -> SystemSnapshot:
        if system not in self.original:
            self.original[system] = self.collect(system)
        return self.original[system]

    @contextmanager
    def changed(self, relative: str, data: bytes) -> Iterator[Path]:
        path = self.root / relative
        before = path.read_bytes()
        path.write_bytes(data)
        try:
            yield path
        finally:
            path.write_bytes(before)


@dataclass(frozen=True)
class Outcome:
    """What one read of a damaged file came to."""

    kind: str
    """``refused`` (SourceError), ``incomplete`` or ``read`` (a complete snapshot)."""
    snapshot: SystemSnapshot | None = None
    error: SourceError | None = None


def read_damaged(
    demo: DemoCopy,
    system: str,
    relative: str,
    mutation: Mutation,
    *,
    may_be_empty: bool = False,
) -> Outcome:
    """Collect ``system`` with ``relative`` changed by ``mutation``, and check what came of it:
    a typed error naming the file, an incomplete snapshot naming it, or a snapshot that lost
    no account. Any other exception escapes (and fails the calling test). ``may_be_empty``:
    an empty JSON list (or list of empty pages) is a true answer of this file (Okta: no
    deprovisioned users)."""
    original = demo.baseline(system)
    data = mutation.apply((demo.root / relative).read_bytes())
    folder = demo.root / relative.split("/")[0]
    with demo.changed(relative, data) as path:
        try:
            snapshot = demo.collect(system)
        except SourceError as exc:
            check_refusal(exc, folder, path)
            return Outcome("refused", error=exc)
    if not snapshot.complete:
        check_problems(snapshot, folder, path)
        return Outcome("incomplete", snapshot=snapshot)
    if may_be_empty and _no_items(data):
        return Outcome("read", snapshot=snapshot)
    if not integrity_problems(snapshot):
        before = {a.native_id for a in original.accounts}
        after = {a.native_id for a in snapshot.accounts}
        lost = before - after
        # A changed id is a lost account and a new one; a complete snapshot with fewer
        # accounts than the undamaged file's has dropped data without saying so.
        assert len(after) >= len(before), (
            f"{mutation!r}: complete snapshot lost accounts {sorted(lost)[:5]}"
        )
    return Outcome("read", snapshot=snapshot)


def _no_items(data: bytes) -> bool:
    """An empty list, or a list of empty pages (``jq -s`` of one): a true empty answer."""
    try:
        document = json.loads(data)
    except ValueError:
        return False
    return isinstance(document, list) and all(page == [] for page in document)


def check_refusal(exc: SourceError, folder: Path, path: Path) -> None:
    """Every line of the error names a file of the system (most often the damaged one)."""
    assert exc.problems, "a SourceError without a problem"
    for problem in exc.problems:
        assert problem.startswith(str(folder)) or problem.startswith(str(path)), (
            f"a problem that names no file of the system: {problem[:200]!r}"
        )
    assert any(str(path) in problem for problem in exc.problems) or path.parent == folder, (
        f"{path} is not named: {exc.problems[:3]}"
    )
    assert "Traceback" not in str(exc)


def check_problems(snapshot: SystemSnapshot, folder: Path, path: Path) -> None:
    """An incomplete snapshot says where: a problem names the damaged file or another file
    of the system (one that refers to what the damage changed, one the damage made needed),
    or the record it concerns (a group's member whose user id changed)."""
    assert snapshot.errors, "incomplete without a problem"
    named = [
        e
        for e in snapshot.errors
        if e.source.startswith(str(folder)) or path.name in e.source or str(path) in e.message
    ]
    placed = [e for e in snapshot.errors if e.record or e.line is not None]
    assert named or placed, f"no problem says where: {[str(e) for e in snapshot.errors][:3]}"


# --- the command ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One system's snapshots in the store: ids, and whether each is complete."""

    ids: tuple[int, ...]
    complete: tuple[bool, ...]


def stored(db: Path, system: str) -> Stored:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, complete FROM snapshots WHERE system = ? ORDER BY id", (system,)
        ).fetchall()
    return Stored(tuple(r[0] for r in rows), tuple(bool(r[1]) for r in rows))


def iam_gov_collect(
    demo: DemoCopy,
    system: str,
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """``iam-gov collect --system SYSTEM`` as the installed command runs it (its ``main``, in
    this process): the exit code and everything it printed, on one line per problem."""
    from iam_gov.cli import main

    monkeypatch.setenv("IAM_GOV_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("COLUMNS", "2000")
    config = str(demo.root / "iam-gov.toml")
    monkeypatch.setattr(sys, "argv", ["iam-gov", "--config", config, "collect", "-s", system])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    printed = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    # the console's width was fixed when it was made, perhaps by an earlier test in this
    # process: a long path may be folded over lines
    return code, (printed.out + printed.err).replace("\n", "")


def check_command(
    demo: DemoCopy,
    system: str,
    *,
    unusable: tuple[str, bytes],
    partial: tuple[str, bytes],
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the command: the undamaged export is stored complete (exit 0); a file made
    unusable fails the system (exit 5) naming the file, storing nothing; a file damaged in
    part is stored incomplete (exit 4), naming the file."""
    code, text = iam_gov_collect(demo, system, db, monkeypatch, capsys)
    assert code == 0, text
    before = stored(db, system)
    assert before.complete == (True,)

    with demo.changed(*unusable) as path:
        code, text = iam_gov_collect(demo, system, db, monkeypatch, capsys)
    assert code == 5, text
    assert str(path) in text and "Traceback" not in text and "internal error" not in text
    assert stored(db, system) == before  # no partial write

    with demo.changed(*partial) as path:
        code, text = iam_gov_collect(demo, system, db, monkeypatch, capsys)
    assert code == 4, text
    assert str(path) in text and "Traceback" not in text
    after = stored(db, system)
    assert after.ids[:-1] == before.ids and after.complete[-1] is False
