"""A saved ``wg show dump``: one interface picked from ``wg show all dump``, and malformed lines
named while the rest is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.errors import SourceError
from tests.connectors.wireguard.office import (
    CI_SEEN,
    JANE_SEEN,
    NOW,
    Keys,
    accounts_of,
    connector,
    exported,
    office_dump,
)
from tests.support.wireguard import dump_text, keypair


def test_one_interface_is_picked_from_wg_show_all_dump(files: Path, keys: Keys) -> None:
    _, other = keypair()
    lines = [f"wg0\t{line}" for line in office_dump(keys).splitlines()]
    lines += [f"wg1\t{line}" for line in dump_text("(none)", other, 51821, []).splitlines()]
    (files / "all.dump").write_text("\n".join(lines) + "\n")

    snapshot = connector(files, dump_file="all.dump", exported_at=NOW.isoformat()).collect()
    assert accounts_of(snapshot)[keys.jane].last_login_at == JANE_SEEN
    assert snapshot.settings["wireguard"]["interface"] == "wg0"

    with pytest.raises(SourceError, match=r"all\.dump: has no interface wg7 \(it has wg0, wg1\)"):
        connector(files, dump_file="all.dump", interface="wg7").collect()


def test_a_malformed_dump_line_is_named_and_the_rest_is_read(files: Path, keys: Keys) -> None:
    dump = files / "wg0.dump"
    lines = dump.read_text().splitlines()
    lines[2] = lines[2].rsplit("\t", 1)[0]  # bob's line loses a field
    lines[1] = lines[1].replace(str(int(JANE_SEEN.timestamp())), "yesterday")
    dump.write_text("\n".join(lines) + "\n")

    snapshot = exported(files).collect()

    assert not snapshot.complete
    assert [(e.source, e.line, e.message) for e in snapshot.errors] == [
        (str(dump), 2, "latest-handshake (field 5) is not a number of seconds"),
        (str(dump), 3, "expected 8 tab-separated fields for a peer, found 7"),
    ]
    # Still configured: they are accounts, with nothing known of their handshakes.
    accounts = accounts_of(snapshot)
    assert accounts[keys.jane].last_login_at is None
    assert accounts[keys.jane].attributes["interface"] == "absent"
    assert accounts[keys.ci].last_login_at == CI_SEEN
