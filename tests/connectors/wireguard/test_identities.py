"""Who a WireGuard peer is: its comments (by convention) and the identity mapping file, and
the mistakes in either."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam_gov.errors import SourceError
from tests.connectors.wireguard.office import (
    Keys,
    accounts_of,
    connector,
    exported,
)


def test_a_duplicate_peer_and_a_bad_identity_comment_are_reported(files: Path, keys: Keys) -> None:
    config = files / "wg0.conf"
    config.write_text(
        config.read_text().replace(
            "# build runner\n", "# iam-gov: login=ci colour=blue kind=robot\n"
        )
        + f"\n[Peer]\nPublicKey = {keys.jane}\nAllowedIPs = 10.8.0.200/32\n"
    )

    snapshot = exported(files, mapping=None).collect()

    # Neither hides access: every peer is read.
    assert snapshot.complete
    assert [(e.line, e.record, e.message) for e in snapshot.errors] == [
        (
            20,
            keys.ci,
            "iam-gov comment: colour is not one of email=, employee_id=, kind=, login=, name=",
        ),
        (20, keys.ci, "iam-gov comment: kind= is human or service"),
        (37, keys.jane, "this peer is already defined at line 10; wg merges the two"),
    ]
    accounts = accounts_of(snapshot)
    assert accounts[keys.ci].login == "ci"
    assert accounts[keys.jane].attributes["config_line"] == "10,37"
    assert accounts[keys.jane].attributes["allowed_ips"] == "10.8.0.2/32,10.8.0.200/32"


def test_a_key_mapped_twice_is_a_mistake(files: Path, keys: Keys) -> None:
    mapping = files / "identities.yaml"
    mapping.write_text(mapping.read_text() + f'  - public_key: "{keys.bob}"\n    login: robert\n')

    with pytest.raises(SourceError) as raised:
        exported(files).collect()

    assert str(raised.value) == (
        f"{mapping}:10: identities.3.public_key: {keys.bob!r} is mapped twice"
    )


def test_which_comments_name_a_peer(files: Path, keys: Keys) -> None:
    explicit_only = accounts_of(connector(files, comment_convention="iam-gov").collect())
    assert explicit_only[keys.jane].login == "jdoe"
    assert explicit_only[keys.bob].login == f"peer-{keys.bob[:8]}"
    assert explicit_only[keys.carol].login == f"peer-{keys.carol[:8]}"

    none = accounts_of(connector(files, comment_convention="off").collect())
    assert none[keys.jane].login == f"peer-{keys.jane[:8]}"
    assert none[keys.jane].email is None


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        (["# jane.doe@example.com"], ("jane.doe@example.com", "jane.doe@example.com", None)),
        (["# Name = Jane Doe"], (None, None, "Jane Doe")),
        (["#friendly_name: jdoe"], ("jdoe", None, None)),
        # The explicit comment wins; the others fill what it does not say.
        (
            ["# Name = Jane Doe", "# iam-gov: login=jdoe", "# Name = someone-else"],
            ("jdoe", None, "Jane Doe"),
        ),
        (["# her laptop, see ticket 42", "# Name: jdoe"], ("jdoe", None, None)),
    ],
)
def test_comment_conventions(
    tmp_path: Path, keys: Keys, comments: list[str], expected: tuple[str | None, ...]
) -> None:
    lead, inside = comments[:1], comments[1:]  # above the header, and inside the block
    text = "\n".join(
        ["[Interface]", "ListenPort = 51820", "", *lead, "[Peer]", *inside]
        + [f"PublicKey = {keys.jane}", "AllowedIPs = 10.8.0.2/32", ""]
    )
    (tmp_path / "wg0.conf").write_text(text)

    (account,) = connector(tmp_path).collect().accounts

    login, email, display_name = expected
    assert account.login == (login or email or f"peer-{keys.jane[:8]}")
    assert (account.email, account.display_name) == (email, display_name)
