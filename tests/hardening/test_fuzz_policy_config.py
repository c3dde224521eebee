"""Hostile YAML and TOML: the policy, the overrides, the VPN identity mapping, a campaign
definition, review triggers and ``iam-gov.toml``, fuzzed and mutated, are read or refused
with the loader's typed error naming the file and the line (or the key), one line per
problem, quoting nothing of another line; never another exception."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings

from iam_gov.campaigns.definition import DefinitionError, load_definition
from iam_gov.campaigns.triggers import load_triggers
from iam_gov.config import load_config
from iam_gov.connectors.shared.vpn_identities import read_identities
from iam_gov.correlate import load_overrides
from iam_gov.errors import ConfigError, InputError, PolicyError, SourceError
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from tests.hardening.fuzz import CANARY, Tally, canary_whole, check_refusal, fuzzed

POLICY = f"""\
version: 1
roles:
  - name: everyone
    description: "{CANARY}"
    match: {{}}
    grants:
      okta: ["group:Everyone"]
  - name: engineers
    match: {{department: [Engineering, "Platform*"]}}
    includes: [everyone]
    grants:
      ad: ["group:Engineering"]
privileged:
  aws: ["policy:AdministratorAccess", {{entitlement: "group:Admins", require_mfa: true}}]
exceptions:
  - person: E1
    system: okta
    entitlement: "group:Finance"
    approver: cfo@example.com
    reason: quarter close
    expires: 2027-01-01
accounts:
  - system: aws
    login: "svc-*"
    kind: service
    owner: ops@example.com
rules:
  dormant-account: {{days: 60, days_by_system: {{aws: 30}}}}
""".encode()

OVERRIDES = f"""\
links:
  - system: aws
    account: sandbox-olivia
    person: E1030
    reason: "{CANARY}"
  - system: okta
    account: build-bot
    person: null
    reason: nobody's
""".encode()

IDENTITIES = f"""\
identities:
  - cn: alice
    employee_id: E001
    note: "{CANARY}"
  - cn: ci-runner
    kind: service
  - public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    login: bob
""".encode()

DEFINITION = f"""\
name: Q4 access review
description: "{CANARY}"
scope:
  systems: [okta, aws]
  account_kinds: [human, service]
reviewers:
  rule: manager
  fallback: arjun.laine@example.com
due_in_days: 14
recurrence: quarterly
no_response: recommendation
comment_required: [approve-flagged, revoke]
""".encode()

TRIGGERS = b"""\
triggers:
  - kind: new-privileged-grant
    reviewers: {rule: owner, fallback: sec@example.com}
    due_in_days: 5
  - kind: mover
    due_in_days: 10
"""

CONFIG = f"""\
# {CANARY}
[store]
url = "sqlite:///iam-gov.db"

[policy]
path = "policy.yaml"

[correlation]
match = ["employee_id", "email"]
email_domains = ["example.com"]

[deprovision]
max_accounts = 25
max_share = 0.1

[drift]
fail_on = "high"
retention = {{ keep_days = 90, keep_runs = 30 }}

[systems.hr]
type = "hr"
path = "hr/workers.csv"
exported_at = "2026-11-27T09:00:00Z"

[systems.ad]
type = "ldap"
flavor = "ad"
mode = "export"
path = "ad/example.com.ldf"
""".encode()

_KEY_PATH = re.compile(r": [^\s:]+: ")
"""``file: key.path: message``: a problem placed by its key rather than its line."""

# Said of a YAML file as a whole: no line applies.
YAML_WHOLE = (
    "the file is empty",
    "not UTF-8 text (byte",
    "Input should be a valid dictionary",  # a document that is a single scalar
    "is a mapping",  # a campaign definition or triggers file that is not
)
# Said of the configuration as a whole.
TOML_WHOLE = ("not UTF-8 text (byte", "(top level): ")


def _by_key(rest: str) -> bool:
    return _KEY_PATH.match(rest) is not None


def read_or_refuse(
    tmp_path: Path,
    name: str,
    data: bytes,
    load: Callable[[Path], Any],
    error: type[InputError],
    whole_file: tuple[str, ...],
    tally: Tally,
) -> None:
    """``data`` as the file ``name``, loaded: read, or refused with ``error`` as the fuzz
    tests demand (located, one line per problem, no canary)."""
    path = tmp_path / name
    path.write_bytes(data)
    try:
        load(path)
    except InputError as exc:
        assert isinstance(exc, error), f"{type(exc).__name__}, not {error.__name__}: {exc}"
        check_refusal(
            exc,
            path,
            whole_file=whole_file,
            located=_by_key,
            tally=tally,
            canary_whole=canary_whole(data),
        )
    else:
        tally.accepted += 1


def _policy(path: Path) -> Any:
    return load_policy(path, rules=all_rules())


def _identities(path: Path) -> Any:
    return read_identities(path)


TALLIES = {name: Tally() for name in ("policy", "overrides", "mapping", "campaign", "config")}
_FUZZ = settings(
    max_examples=50,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(data=fuzzed(POLICY))
@example(data=POLICY)
@example(data=POLICY.replace(b"  - name: engineers", b"  - name: everyone"))
@example(data=b"a: &a [*a]\n")
@example(data=b"[" * 1000 + b"]" * 1000)
@example(data=b"roles:\n  - name: x\n    name: y\n")
@example(data=b"version: !!python/object/apply:os.system [id]\n")
def test_a_fuzzed_policy_is_read_or_refused_at_its_line(tmp_path: Path, data: bytes) -> None:
    """Any bytes as the policy: loaded, or a PolicyError naming file:line (or the key) —
    duplicate keys, cycles of aliases, deep nesting and python tags included."""
    read_or_refuse(
        tmp_path, "policy.yaml", data, _policy, PolicyError, YAML_WHOLE, TALLIES["policy"]
    )


@_FUZZ
@given(data=fuzzed(OVERRIDES))
@example(data=OVERRIDES)
@example(data=OVERRIDES + OVERRIDES[len(b"links:\n") :])
def test_fuzzed_overrides_are_read_or_refused_at_their_line(tmp_path: Path, data: bytes) -> None:
    """Any bytes as the manual links: loaded, or an InputError naming file:line."""
    read_or_refuse(
        tmp_path,
        "overrides.yaml",
        data,
        load_overrides,
        InputError,
        YAML_WHOLE,
        TALLIES["overrides"],
    )


@_FUZZ
@given(data=fuzzed(IDENTITIES))
@example(data=IDENTITIES)
def test_a_fuzzed_identity_mapping_is_read_or_refused_at_its_line(
    tmp_path: Path, data: bytes
) -> None:
    """Any bytes as the VPN identity mapping: read, or a SourceError naming file:line."""
    read_or_refuse(
        tmp_path, "mapping.yaml", data, _identities, SourceError, YAML_WHOLE, TALLIES["mapping"]
    )


@_FUZZ
@given(data=fuzzed(DEFINITION))
@example(data=DEFINITION)
@example(data=TRIGGERS)
@example(data=DEFINITION + b"\ndue: 2026-02-30\n")  # a date that is none: at its line
def test_a_fuzzed_campaign_definition_is_read_or_refused_at_its_line(
    tmp_path: Path, data: bytes
) -> None:
    """Any bytes as a campaign definition and as a triggers file: read, or a
    DefinitionError naming file:line."""
    for load in (load_definition, load_triggers):
        read_or_refuse(
            tmp_path,
            "campaign.yaml",
            data,
            load,
            DefinitionError,
            YAML_WHOLE,
            TALLIES["campaign"],
        )


@_FUZZ
@given(data=fuzzed(CONFIG))
@example(data=CONFIG)
@example(data=CONFIG + b"[systems.hr]\n")
@example(data=CONFIG.replace(b"max_accounts = 25", b'max_accounts = "many"'))
@example(data=CONFIG.replace(b'type = "ldap"', b"type = ["))
@example(data=CONFIG.rstrip() + b" = 1")
@example(data=CONFIG + '[systems."hr\u2028x"]\ntype = "hr"\n"\u2028" = 1\n'.encode())
@example(data=CONFIG.replace(b"[drift]", '["d\u2028" ]'.encode()))
def test_a_fuzzed_config_is_read_or_refused_at_its_line_or_key(tmp_path: Path, data: bytes) -> None:
    """Any bytes as ``iam-gov.toml``: loaded, or a ConfigError whose every problem names the
    file and the line (TOML syntax) or the key (a wrong value)."""
    read_or_refuse(
        tmp_path, "iam-gov.toml", data, load_config, ConfigError, TOML_WHOLE, TALLIES["config"]
    )


def test_toml_errors_name_the_line_and_type_errors_the_key(tmp_path: Path) -> None:
    """A syntax error anywhere in the file, up to its very end, is placed at its line; a
    value of the wrong type is placed at its key."""
    path = tmp_path / "iam-gov.toml"
    lines = CONFIG.decode().splitlines()
    for number in (2, 12, len(lines)):
        broken = [*lines]
        broken[number - 1] += " = ="
        path.write_text("\n".join(broken))
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(f"{path}:{number}: "), (number, str(exc))
        else:
            raise AssertionError(f"line {number} broken, yet the config loaded")
    path.write_text(CONFIG.decode().replace("max_accounts = 25", 'max_accounts = "many"'))
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: deprovision.max_accounts: "), str(exc)
    else:
        raise AssertionError("a string for max_accounts loaded")


def test_the_valid_samples_load() -> None:
    """The samples the fuzzing mutates are good files: what is refused is the mutation."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for name, data, load in (
            ("policy.yaml", POLICY, _policy),
            ("overrides.yaml", OVERRIDES, load_overrides),
            ("mapping.yaml", IDENTITIES, _identities),
            ("campaign.yaml", DEFINITION, load_definition),
            ("triggers.yaml", TRIGGERS, load_triggers),
            ("iam-gov.toml", CONFIG, load_config),
        ):
            (base / name).write_bytes(data)
            assert load(base / name) is not None, name
