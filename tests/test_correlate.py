"""Account -> person matching: methods in order, ambiguity, declared accounts, overrides."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam_gov.config import CorrelationSettings, MatchMethod
from iam_gov.correlate import (
    AccountLink,
    Confidence,
    Overrides,
    correlate,
    load_overrides,
    normalise_name,
)
from iam_gov.errors import InputError
from iam_gov.model import Account, AccountKind, EmploymentStatus, Person
from iam_gov.policy import Policy, load_policy
from iam_gov.rules import all_rules
from tests.support.world import account, arn, person

NO_POLICY = "version: 1\n"
DECLARED = """\
version: 1
accounts:
  - system: aws
    login: svc-*
    kind: service
    owner: platform-team
  - system: aws
    login: breakglass
    kind: break-glass
    owner: ciso
"""


def policy(folder: Path, text: str = NO_POLICY) -> Policy:
    path = folder / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path, rules=all_rules())


def link_of(
    folder: Path,
    people: Sequence[Person],
    acct: Account,
    *,
    match: Sequence[str] | None = None,
    email_domains: Sequence[str] = (),
    policy_text: str = NO_POLICY,
    overrides: Overrides | None = None,
) -> AccountLink:
    settings = CorrelationSettings(
        email_domains=tuple(email_domains),
        **({"match": tuple(MatchMethod(m) for m in match)} if match is not None else {}),
    )
    links = correlate(
        people, [acct], settings, policy(folder, policy_text), overrides or Overrides.empty()
    )
    return links[(acct.system, acct.native_id)]


JANE = person("E1", "Jane Doe", email="jane.doe@example.com")
JOHN = person("E2", "John Smith", email="john.smith@example.com")
PEOPLE = [JANE, JOHN]


# --- methods ------------------------------------------------------------------------------


def test_employee_id(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("x1", employee_id=" e2 "))

    assert (link.person_id, link.method, link.confidence) == ("E2", "employee_id", Confidence.HIGH)
    assert link.kind is AccountKind.HUMAN
    assert link.account_id == arn("x1")


def test_email(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("x1", email="John.Smith@EXAMPLE.com"))

    assert (link.person_id, link.method, link.confidence) == ("E2", "email", Confidence.HIGH)


def test_login_that_is_an_email_address_counts_as_email(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("john.smith@example.com"))

    assert (link.person_id, link.method) == ("E2", "email")


def test_email_domains_are_equivalent_only_when_configured(tmp_path: Path) -> None:
    acct = account("x1", email="jane.doe@example.io")

    unlinked = link_of(tmp_path, PEOPLE, acct, match=["email"])
    linked = link_of(
        tmp_path, PEOPLE, acct, match=["email"], email_domains=["Example.com", "@example.io"]
    )

    assert unlinked.person_id is None
    assert (linked.person_id, linked.method) == ("E1", "email")


def test_login_against_the_email_local_part(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("Jane.Doe"))

    assert (link.person_id, link.method, link.confidence) == ("E1", "login", Confidence.MEDIUM)


def test_login_against_the_username_hr_attribute(tmp_path: Path) -> None:
    people = [
        person("E3", "Zoë Müller", email="z.mueller@example.com", attributes={"username": "zmu"})
    ]

    assert link_of(tmp_path, people, account("ZMU")).person_id == "E3"
    assert link_of(tmp_path, people, account("z.mueller")).person_id == "E3"


@pytest.mark.parametrize(
    "display_name",
    ["Jane Doe", "Doe, Jane", "DOE JANE", "Jané Dòe"],
)
def test_name_is_a_low_confidence_match(tmp_path: Path, display_name: str) -> None:
    link = link_of(tmp_path, PEOPLE, account("x1", display_name=display_name))

    assert (link.person_id, link.method, link.confidence) == ("E1", "name", Confidence.LOW)


def test_names_with_letters_that_do_not_decompose(tmp_path: Path) -> None:
    people = [person("E4", "Søren Łukasiewicz")]

    link = link_of(tmp_path, people, account("x1", display_name="Lukasiewicz, Soren"))

    assert link.person_id == "E4"


def test_nothing_matches(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("x1", employee_id="E999", display_name="Nobody"))

    assert (link.person_id, link.method, link.confidence) == (None, "none", Confidence.NONE)
    assert link.note == "carries employee id E999, which HR does not know"


# --- method order -------------------------------------------------------------------------


def test_methods_are_tried_in_the_configured_order(tmp_path: Path) -> None:
    # The employee id says John, the e-mail says Jane.
    acct = account("x1", employee_id="E2", email="jane.doe@example.com")

    assert link_of(tmp_path, PEOPLE, acct).person_id == "E2"
    assert link_of(tmp_path, PEOPLE, acct, match=["email", "employee_id"]).person_id == "E1"


def test_methods_not_configured_are_not_used(tmp_path: Path) -> None:
    acct = account("jane.doe", display_name="Jane Doe")

    assert link_of(tmp_path, PEOPLE, acct, match=["employee_id", "email"]).person_id is None
    assert link_of(tmp_path, PEOPLE, acct, match=["name"]).method == "name"


# --- ambiguity ----------------------------------------------------------------------------


def test_shared_email_links_nobody_and_names_both(tmp_path: Path) -> None:
    twins = [
        person("E10", "Alex Kim", email="akim@example.com"),
        person("E11", "Alice Kimura", email="akim@example.com"),
    ]

    link = link_of(tmp_path, twins, account("x1", email="akim@example.com"))

    assert link.person_id is None
    assert "email matches several people (E10, E11)" in link.note


def test_rehire_links_the_current_record(tmp_path: Path) -> None:
    rehire = [
        person("E20", "Sam Lee", email="sam.lee@example.com", status=EmploymentStatus.TERMINATED),
        person("E21", "Sam Lee", email="sam.lee@example.com"),
    ]

    link = link_of(tmp_path, rehire, account("x1", email="sam.lee@example.com"))

    assert (link.person_id, link.method) == ("E21", "email")
    assert link.note == "2 HR records share this email"


def test_ambiguous_method_falls_through_to_the_next(tmp_path: Path) -> None:
    twins = [
        person("E10", "Alex Kim", email="akim@example.com"),
        person("E11", "Alice Kimura", email="akim@example.com"),
    ]

    link = link_of(
        tmp_path, twins, account("akim", email="akim@example.com", display_name="Kim, Alex")
    )

    assert (link.person_id, link.method, link.confidence) == ("E10", "name", Confidence.LOW)
    assert "email matches several people (E10, E11)" in link.note


# --- declared accounts --------------------------------------------------------------------


def test_declared_accounts_belong_to_nobody_even_when_the_name_matches(tmp_path: Path) -> None:
    people = [
        person("E5", "Svc Backup", email="svc-backup@example.com"),
        person("E6", "Breakglass"),
    ]

    service = link_of(
        tmp_path, people, account("svc-backup", display_name="Svc Backup"), policy_text=DECLARED
    )
    breakglass = link_of(tmp_path, people, account("breakglass"), policy_text=DECLARED)

    assert (service.person_id, service.kind, service.confidence) == (
        None,
        AccountKind.SERVICE,
        Confidence.NONE,
    )
    assert service.note.startswith("declared service at ")
    assert service.note.endswith("policy.yaml:3")
    assert (breakglass.person_id, breakglass.kind) == (None, AccountKind.BREAK_GLASS)


def test_accounts_the_system_marks_as_service_are_not_linked(tmp_path: Path) -> None:
    link = link_of(tmp_path, PEOPLE, account("jane.doe", kind=AccountKind.SERVICE))

    assert (link.person_id, link.kind, link.note) == (None, AccountKind.SERVICE, "service account")


# --- overrides ----------------------------------------------------------------------------

OVERRIDES = """\
links:
  - system: aws
    account: JD-Admin
    person: E1
    reason: Jane's admin account (SEC-4)
  - system: aws
    account: arn:aws:iam::123456789012:user/contractor7
    person: John.Smith@example.com
    reason: contract via agency
  - system: aws
    account: jane.doe
    person: null
    reason: shared training login, not Jane's
  - system: aws
    account: old-intern
    person: E404
    reason: intern from last summer
"""


def overrides(folder: Path, text: str = OVERRIDES) -> tuple[Overrides, Path]:
    path = folder / "overrides.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_overrides(path), path


def test_override_links_by_hand(tmp_path: Path) -> None:
    loaded, path = overrides(tmp_path)

    by_login = link_of(tmp_path, PEOPLE, account("jd-admin"), overrides=loaded)
    by_arn = link_of(tmp_path, PEOPLE, account("contractor7"), overrides=loaded)

    assert (by_login.person_id, by_login.method, by_login.confidence) == (
        "E1",
        "override",
        Confidence.HIGH,
    )
    assert by_login.note == f"linked by hand at {path}:2: Jane's admin account (SEC-4)"
    assert (by_arn.person_id, by_arn.method) == ("E2", "override")


def test_override_declares_an_account_nobodys(tmp_path: Path) -> None:
    loaded, path = overrides(tmp_path)

    link = link_of(tmp_path, PEOPLE, account("jane.doe"), overrides=loaded)

    assert link.person_id is None  # although its login matches Jane
    assert (link.method, link.confidence) == ("override", Confidence.HIGH)
    assert link.note == f"declared nobody's at {path}:10: shared training login, not Jane's"


def test_override_to_someone_not_in_hr(tmp_path: Path) -> None:
    loaded, path = overrides(tmp_path)

    link = link_of(tmp_path, PEOPLE, account("old-intern"), overrides=loaded)

    assert (link.person_id, link.method, link.confidence) == (None, "override", Confidence.NONE)
    assert link.note == f"override at {path}:14 names E404, who is not in HR"


def test_accounts_without_an_override_are_matched_as_usual(tmp_path: Path) -> None:
    loaded, _ = overrides(tmp_path)

    link = link_of(tmp_path, PEOPLE, account("john.smith"), overrides=loaded)

    assert (link.person_id, link.method) == ("E2", "login")


def test_duplicate_override_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = """\
        links:
          - system: aws
            account: jdoe
            person: E1
            reason: first
          - system: okta
            account: jdoe
            person: E1
            reason: another system, fine
          - system: aws
            account: JDoe
            person: E2
            reason: again
        """

    with pytest.raises(InputError) as raised:
        overrides(tmp_path, text)

    path = tmp_path / "overrides.yaml"
    assert raised.value.problems == (
        f"{path}:10: links.2: account 'JDoe' is already linked at {path}:2",
    )


def test_bad_overrides_file(tmp_path: Path) -> None:
    text = """\
        links:
          - system: aws
            account: jdoe
            persn: E1
            reason: typo
        """

    with pytest.raises(InputError) as raised:
        overrides(tmp_path, text)

    path = tmp_path / "overrides.yaml"
    assert raised.value.problems == (
        f"{path}:2: links.0.person: required key is missing",
        f"{path}:4: links.0.persn: unknown key",
    )


def test_no_overrides_file() -> None:
    assert load_overrides(None) == Overrides.empty()


# --- names --------------------------------------------------------------------------------

PLAIN = {
    "é": "e", "è": "e", "ê": "e", "ë": "e", "á": "a", "à": "a", "â": "a", "ä": "a", "å": "a",
    "ã": "a", "í": "i", "ï": "i", "ó": "o", "ö": "o", "ô": "o", "õ": "o", "ú": "u", "ü": "u",
    "ñ": "n", "ç": "c", "ý": "y", "ø": "o", "æ": "ae", "ł": "l",
}  # fmt: skip
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz" + "".join(PLAIN), min_size=1, max_size=10)
NAME = st.lists(WORD, min_size=1, max_size=4)


def strip_accents(text: str) -> str:
    return "".join(PLAIN.get(c, c) for c in text)


@given(NAME, st.randoms(use_true_random=False))
def test_normalised_names_ignore_case_accents_and_word_order(
    words: list[str], rnd: random.Random
) -> None:
    name = " ".join(words)
    expected = normalise_name(name)
    shuffled = words[:]
    rnd.shuffle(shuffled)

    assert normalise_name(name.upper()) == expected
    assert normalise_name(name.title()) == expected
    assert normalise_name(strip_accents(name)) == expected
    assert normalise_name("  ".join(shuffled)) == expected
    assert normalise_name(f"{words[-1]}, {' '.join(words[:-1])}") == expected
    assert expected == " ".join(sorted(strip_accents(name).split()))


@given(NAME, NAME)
def test_different_names_stay_different(first: list[str], second: list[str]) -> None:
    plain_first = sorted(strip_accents(" ".join(first)).split())
    plain_second = sorted(strip_accents(" ".join(second)).split())

    if plain_first != plain_second:
        assert normalise_name(" ".join(first)) != normalise_name(" ".join(second))
