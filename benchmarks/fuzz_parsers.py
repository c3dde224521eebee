"""The parser fuzz properties at length: thousands of fuzzed and mutated HR CSV and JSON
exports, policies, overrides, identity mappings, campaign definitions, configurations and LDIF
exports, each read or refused with a typed error naming the file and its line (or key) and
quoting nothing of another line; then fuzzed names looked up in a real slapd through the LDAP
connector's filters, each finding exactly its own entry. Prints, per parser, how many cases
were read and how many refused.

`make test` runs a few hundred of these (tests/hardening/test_fuzz_*.py,
tests/hardening/test_ldap_filter_fuzz.py)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from iam_gov.campaigns.definition import DefinitionError, load_definition  # noqa: E402
from iam_gov.config import load_config  # noqa: E402
from iam_gov.correlate import load_overrides  # noqa: E402
from iam_gov.errors import ConfigError, InputError, PolicyError, SourceError  # noqa: E402
from tests.hardening import test_fuzz_hr as hr  # noqa: E402
from tests.hardening import test_fuzz_ldif as ldif  # noqa: E402
from tests.hardening import test_fuzz_policy_config as yaml_toml  # noqa: E402
from tests.hardening import test_ldap_filter_fuzz as ldap_filter  # noqa: E402
from tests.hardening.fuzz import Tally, fuzzed  # noqa: E402

Read = Callable[[Path, bytes, Tally], None]


def _yaml(name: str, load: Callable[[Path], object], error: type[InputError]) -> Read:
    def read(folder: Path, data: bytes, tally: Tally) -> None:
        yaml_toml.read_or_refuse(folder, name, data, load, error, yaml_toml.YAML_WHOLE, tally)

    return read


def _config(folder: Path, data: bytes, tally: Tally) -> None:
    yaml_toml.read_or_refuse(
        folder, "iam-gov.toml", data, load_config, ConfigError, yaml_toml.TOML_WHOLE, tally
    )


def _hr(name: str) -> Read:
    def read(folder: Path, data: bytes, tally: Tally) -> None:
        hr.read_or_refuse(folder / name, data, tally)

    return read


def _ldif(folder: Path, data: bytes, tally: Tally) -> None:
    ldif.read_or_refuse(folder / "directory.ldif", data, tally)


PARSERS: dict[str, tuple[bytes, Read]] = {
    "HR CSV": (hr.VALID_CSV, _hr("people.csv")),
    "HR JSON": (hr.VALID_JSON, _hr("people.json")),
    "policy YAML": (yaml_toml.POLICY, _yaml("policy.yaml", yaml_toml._policy, PolicyError)),
    "overrides YAML": (yaml_toml.OVERRIDES, _yaml("overrides.yaml", load_overrides, InputError)),
    "VPN identity mapping YAML": (
        yaml_toml.IDENTITIES,
        _yaml("mapping.yaml", yaml_toml._identities, SourceError),
    ),
    "campaign definition YAML": (
        yaml_toml.DEFINITION,
        _yaml("campaign.yaml", load_definition, DefinitionError),
    ),
    "iam-gov.toml": (yaml_toml.CONFIG, _config),
    "LDIF": (ldif.VALID, _ldif),
}


def fuzz_parser(valid: bytes, read: Read, cases: int, folder: Path) -> Tally:
    tally = Tally()
    folder.mkdir()

    @settings(
        max_examples=cases, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(data=fuzzed(valid))
    def run(data: bytes) -> None:
        read(folder, data, tally)

    run()
    return tally


def fuzz_ldap(batches: int) -> tuple[int, int]:
    """(names, lookups) checked against slapd."""
    counts = [0, 0]
    with ldap_filter.fuzz_slapd() as server, ldap_filter.connected(server) as (directory, scope):

        @settings(
            max_examples=batches,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(batch=ldap_filter.batches)
        def run(batch: list[tuple[str, str]]) -> None:
            counts[1] += ldap_filter.check_batch(server, directory, scope, batch)
            counts[0] += len(batch)

        run()
    return counts[0], counts[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=3000, help="fuzzed files per parser")
    parser.add_argument("--ldap-batches", type=int, default=300, help="batches of LDAP names")
    args = parser.parse_args()
    total = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        for number, (name, (valid, read)) in enumerate(PARSERS.items()):
            started = time.perf_counter()
            tally = fuzz_parser(valid, read, args.cases, Path(work) / str(number))
            print(
                f"{name}: {tally.accepted + tally.rejected} fuzzed files, {tally.accepted} "
                f"read, {tally.rejected} refused with a typed, located error, 0 other "
                f"exceptions, {time.perf_counter() - started:.1f} s"
            )
    started = time.perf_counter()
    names, lookups = fuzz_ldap(args.ldap_batches)
    print(
        f"LDAP filters (slapd): {names} fuzzed names, {lookups} lookups by uid, cn and mail, "
        f"each found exactly its own entry, {time.perf_counter() - started:.1f} s"
    )
    print(f"parser fuzzing: {time.perf_counter() - total:.1f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
