"""The OpenLDAP password policy: the ppolicy entry normalized, what slapd does not enforce not
counted, and which entry is the default one."""

from __future__ import annotations

from pathlib import Path

from .conftest import alice, export


def ppolicy(name: str, **attributes: str) -> str:
    text = (
        f"dn: cn={name},ou=policies,dc=example,dc=org\n"
        "objectClass: organizationalRole\nobjectClass: pwdPolicy\n"
        f"cn: {name}\npwdAttribute: userPassword\n"
    )
    return text + "".join(f"{k}: {v}\n" for k, v in attributes.items()) + "\n"


def test_the_ppolicy_entry_is_normalized(tmp_path: Path) -> None:
    strict = ppolicy(
        "default",
        pwdCheckQuality="2",
        pwdMinLength="14",
        pwdInHistory="12",
        pwdMaxAge="7776000",
        pwdLockout="TRUE",
        pwdMaxFailure="5",
        pwdCheckModule="ppm.so",
    )

    snapshot = export(tmp_path, alice() + strict).collect()

    assert snapshot.complete and snapshot.errors == ()
    assert snapshot.settings["password_policy"] == {
        "source": "openldap-ppolicy",
        "dn": "cn=default,ou=policies,dc=example,dc=org",
        "min_length": 14,
        "history": 12,
        "max_age_days": 90,
        "lockout_threshold": 5,
        "complexity": None,  # a check module decides, by rules of its own
    }


def test_what_slapd_does_not_enforce_is_not_counted(tmp_path: Path) -> None:
    # No quality checking: pwdMinLength is ignored. No pwdLockout: failures never lock.
    lax = ppolicy("default", pwdMinLength="12", pwdMaxFailure="3")

    policy = export(tmp_path, alice() + lax).collect().settings["password_policy"]

    assert (policy["min_length"], policy["lockout_threshold"]) == (0, 0)
    assert policy["complexity"] is False
    assert policy["notes"] == ["pwdMinLength 12 is not enforced: pwdCheckQuality is 0"]


def test_a_ppolicy_with_only_defaults_enforces_nothing(tmp_path: Path) -> None:
    policy = export(tmp_path, alice() + ppolicy("default")).collect().settings["password_policy"]

    assert (policy["min_length"], policy["history"], policy["lockout_threshold"]) == (0, 0, 0)
    assert policy["max_age_days"] is None and policy["complexity"] is False


def test_a_ppolicy_the_export_shows_nothing_of_is_unknown(tmp_path: Path) -> None:
    hidden = "dn: cn=default,ou=policies,dc=example,dc=org\nobjectClass: pwdPolicy\n\n"

    snapshot = export(tmp_path, alice() + hidden).collect()

    assert "password_policy" not in snapshot.settings and snapshot.complete
    (note,) = snapshot.errors
    assert note.record == "cn=default,ou=policies,dc=example,dc=org"
    assert note.message.startswith("password policy: it shows none of pwdAttribute, ")


def test_several_ppolicies_need_password_policy_dn(tmp_path: Path) -> None:
    text = alice() + ppolicy("default", pwdInHistory="5") + ppolicy("admins", pwdInHistory="24")

    ambiguous = export(tmp_path, text).collect()

    assert "password_policy" not in ambiguous.settings and ambiguous.complete
    (note,) = ambiguous.errors
    assert note.message == (
        "several password policies (cn=admins,ou=policies,dc=example,dc=org, "
        "cn=default,ou=policies,dc=example,dc=org): set password_policy_dn to the default "
        "one; the password policy is not judged"
    )
    named = export(
        tmp_path, text, password_policy_dn="CN=Default, OU=Policies,DC=example,DC=org"
    ).collect()
    assert named.settings["password_policy"]["history"] == 5 and named.errors == ()


def test_no_ppolicy_is_no_policy_known_and_nothing_said(tmp_path: Path) -> None:
    # The overlay is optional: without it (or without the entry) nothing is judged.
    snapshot = export(tmp_path, alice()).collect()

    assert "password_policy" not in snapshot.settings and snapshot.errors == ()
