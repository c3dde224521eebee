"""Generated companies for the demo, tests and benchmarks: same shape at any size."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from iam_gov.errors import IamGovError
from iam_gov.files import PRIVATE_FILE, PRIVATE_FOLDER, make_private_folders
from iam_gov.samplegen.company import Company, build_company
from iam_gov.samplegen.directories import (
    DEPARTMENT_GROUPS,
    TENANT_DOMAIN,
    TOOLS,
    build_directories,
    tool_groups,
)
from iam_gov.samplegen.directory_files import ad_ldif, entra_files, okta_files
from iam_gov.samplegen.files import (
    HR_COLUMNS,
    PASSWORD_POLICY,
    authorization_details,
    credential_report,
    hr_rows,
    last_accessed_files,
)
from iam_gov.samplegen.graph_dump import graph_dump_files
from iam_gov.samplegen.vpn_files import build_vpn, openvpn_files, wireguard_files

POLICY = """\
# What access is expected at {name}: policy as code. `iam-gov config check` validates it.
# Entitlements are named kind:name (group:Engineering, app:GitHub, admin-role:ORG_ADMIN,
# directory-role:Global Administrator, policy:AdministratorAccess) or by native id.
version: 1

roles:
  - name: everyone
    description: Birthright access for everyone HR lists.
    match: {{}}
    grants:
      okta: ["group:Everyone", "group:All Staff"]
      ad: ["group:All Staff"]
      entra: ["group:All Staff"]
{department_roles}
  - name: engineer
    description: Everyone in Engineering builds and reads the product's AWS resources.
    match: {{department: Engineering}}
    grants:
      aws: ["group:Developers", "group:ReadOnly"]
      openvpn: ["vpn:corp-vpn"]

  - name: it-staff
    match: {{department: IT}}
    grants:
      openvpn: ["vpn:corp-vpn"]

  - name: sre
    description: Site reliability engineers run production.
    match: {{title: "Site Reliability*"}}
    includes: [engineer]
    grants:
      aws: ["group:SRE"]
      wireguard: ["vpn:ops-wg"]

  - name: data
    match: {{department: Engineering, title: "Data *"}}
    grants:
      aws: ["group:Data-Analysts"]

  - name: it-admin
    match: {{department: IT, title: "IT Administrator*"}}
    grants:
      aws: ["group:Admins", "group:ReadOnly"]
      okta: ["admin-role:ORG_ADMIN"]
      ad: ["group:Domain Admins"]
      wireguard: ["vpn:ops-wg"]

  - name: head-of-it
    match: {{department: IT, title: "Head of IT"}}
    grants:
      aws: ["group:ReadOnly"]
      okta: ["admin-role:SUPER_ADMIN"]
      entra: ["directory-role:Global Administrator"]

  - name: security
    match: {{department: IT, title: "Security Engineer*"}}
    grants:
      aws: ["group:Security-Audit", "group:ReadOnly"]

  - name: finance
    description: Analysts and the controller see the AWS bill; accountants do not.
    match: {{department: Finance, title: ["Financial Analyst", "Controller"]}}
    grants:
      aws: ["group:Finance-Billing"]

privileged:
  aws: ["group:Admins", "group:SRE", "policy:AdministratorAccess", "policy:IAMFullAccess"]
  ad:
    - {{entitlement: "group:Domain Admins", employees_only: true}}

accounts:
  - system: aws
    login: breakglass-admin
    kind: break-glass
    owner: security@example.com
    reason: Emergency access when SSO is down; hardware MFA in the safe.
  - system: aws
    login: ci-deployer
    kind: service
    owner: platform@example.com
    reason: Deploys from CI.
    entitlements: ["group:Deployers"]
  - system: entra
    login: emergency-admin@{tenant}
    kind: break-glass
    owner: security@example.com
    reason: Microsoft's recommended emergency access account; FIDO2 key in the safe.

separation_of_duties:
  - name: pay-and-change-code
    description: Whoever pays suppliers must not change the code that runs the business.
    sides:
      - {{okta: ["group:Finance"]}}
      - {{okta: ["app:GitHub"], aws: ["group:Developers"]}}

exceptions:
{exceptions}
rules:
  dormant-account: {{days: 90}}
  stale-access-key: {{max_age_days: 90, unused_days: 90}}
  leaver-active-access: {{grace_days: 0}}
"""

CAMPAIGN = """\
# A quarterly access review: `iam-gov campaign create --file campaign-q4.yaml --launch`
name: Q4 access review
description: Everyone's access in every system, reviewed by their manager.
scope:
  systems: []              # empty: every configured system
  account_kinds: [human, service, break-glass]
  # privileged_only: true  # findings_only, leavers_only, movers_only, departments, people,
  #                        # entitlements (policy patterns) narrow it further
reviewers:
  rule: manager            # manager (from HR) | owner (policy `owners:`) | named
  fallback: {it_head}   # no manager, or the manager's own access
due_in_days: 14
recurrence: quarterly      # monthly | quarterly | yearly | a cron expression
no_response: recommendation   # keep | revoke | recommendation, for items nobody decided
comment_required: [approve-flagged, revoke]
precertify: role-explained # approve at launch what a role fully explains, and say so
unused_after_days: 90
"""

TRIGGERS = """\
# Reviews opened when access changes, not only once a quarter:
# `iam-gov campaign triggers --file triggers.yaml` after each run (cron does it).
triggers:
  - kind: new-privileged-grant      # a privileged grant that was not there at the last run
    reviewers: {{rule: owner, fallback: {it_head}}}
    due_in_days: 5
  - kind: mover                     # someone changed department, title or manager
    reviewers: {{rule: manager, fallback: {it_head}}}
    due_in_days: 10
  - kind: exception-expiring        # an approved exception ends soon: renew or remove
    days_before: 14
    reviewers: {{rule: manager, fallback: {it_head}}}
    comment_required: [always]
"""

CONFIG = """\
# iam-gov configuration for {name}. Paths are relative to this file.
# Secrets never go here: live connectors read them from the environment or the OS keyring.

[store]
# Where runs are kept: a SQLite file (relative to this file), or a PostgreSQL URL for a store
# that several machines share. IAM_GOV_DATABASE_URL or --database-url override it.
url = "sqlite:///{store}"

[policy]
path = "policy.yaml"

[correlation]
match = ["employee_id", "email", "login", "name"]
overrides = "overrides.yaml"

[review]
# Access reviews: who is at the keyboard (OS account -> e-mail in HR; or IAM_GOV_REVIEWER),
# who may act for another reviewer, who reviews what nobody else can, where reminders go.
reviewers = {{}}
admins = ["{it_head}"]
fallback_reviewer = "{it_head}"
reminders_folder = "{reminders}"

[deprovision]
# Leavers: the guards of `iam-gov deprovision`. The demo's exports are of one fixed day; a real
# deployment keeps the default (24 hours): no action on data older than a collect a day.
max_snapshot_age_hours = 100000
max_accounts = 25
sla_hours = 24

[drift]
# `iam-gov run` writes each run's drift report to a dated folder here (beside the store) and
# prunes old snapshots and reports by [drift.retention]; exit 1 when a new finding is at or
# above fail_on.
reports_folder = "{reports}"
fail_on = "high"

[systems.hr]
type = "hr"
path = "hr/workers.csv"
preset = "workday"
exported_at = "{as_of}"

[systems.okta]
type = "okta"
mode = "export"
path = "okta"
password_policies = "okta/policies-password.json"
exported_at = "{as_of}"

[systems.ad]
type = "ldap"
flavor = "ad"
mode = "export"
path = "ad/example.com.ldf"
exported_at = "{as_of}"

[systems.entra]
type = "entra"
mode = "export"
path = "entra"
exported_at = "{as_of}"

[systems.openvpn]
type = "openvpn"
pki_dir = "openvpn/pki"
crl_path = "openvpn/pki/crl.pem"            # the copy the server's crl-verify reads
server_conf = "openvpn/server.conf"
status_file = "openvpn/status.log"
log_files = ["openvpn/openvpn.log*"]
timezone = "UTC"                            # the server writes its logs in UTC
network_name = "corp-vpn"
exported_at = "{as_of}"

[systems.wireguard]
type = "wireguard"
config = "wireguard/wg0.conf"
dump_file = "wireguard/wg0.dump"
network_name = "ops-wg"
interface_up_since = "{up_since}"           # systemctl show wg-quick@wg0 -p ActiveEnterTimestamp
exported_at = "{as_of}"

[systems.aws]
type = "aws"
mode = "export"
authorization_details = "aws/authorization-details.json"
credential_report = "aws/credential-report.json"
password_policy = "aws/password-policy.json"
service_last_accessed = "aws/last-accessed"  # Access Advisor, one file per user and role
"""


EntraStyle = Literal["graph-script", "iam-gov"]
"""How the tenant is exported: as an operator's script saves Graph's answers (paged, with
``$expand``; ``graph_dump``), or in iam-gov's own layout (``iam-gov export``)."""


def _department_roles(access_density: int) -> str:
    lines = []
    for department, group in DEPARTMENT_GROUPS.items():
        granted = ", ".join(f'"group:{g}"' for g in [group, *tool_groups(group, access_density)])
        lines += [
            f"  - name: {group.lower().replace(' ', '-')}-department",
            f"    match: {{department: {department}}}",
            "    grants:",
            f"      okta: [{granted}]",
            f"      ad: [{granted}]",
            f"      entra: [{granted}]",
            "",
        ]
    return "\n".join(lines)


def _yaml_scalar(value: Any) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def _exceptions_yaml(company: Company) -> str:
    if not company.exceptions:
        return "  []\n"
    lines = []
    for exc in company.exceptions:
        first = True
        for key in ("person", "system", "entitlement", "approver", "reason", "expires", "ticket"):
            prefix = "  - " if first else "    "
            value = exc[key]
            rendered = str(value) if key == "expires" else _yaml_scalar(value)
            lines.append(f"{prefix}{key}: {rendered}")
            first = False
    return "\n".join(lines) + "\n"


def _overrides_yaml(company: Company) -> str:
    text = "# Accounts linked to people by hand, where no matching rule can (reviewed quarterly).\n"
    if not company.overrides:
        return text + "links: []\n"
    text += "links:\n"
    for link in company.overrides:
        text += (
            f"  - system: {link['system']}\n    account: {_yaml_scalar(link['account'])}\n"
            f"    person: {link['person']}\n    reason: {_yaml_scalar(link['reason'])}\n"
        )
    return text


def _planted_md(company: Company) -> str:
    lines = [
        "# Problems planted in this company",
        "",
        "`iam-gov run` must report each of these (a test checks it).",
        "",
        "| rule | system | account | what |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p.rule_id} | {p.system} | {p.login} | {p.what} |" for p in company.planted]
    return "\n".join(lines) + "\n"


def generate(
    out_dir: Path,
    *,
    people: int,
    seed: int,
    as_of: datetime | None = None,
    name: str = "Example Corp",
    access_density: int = 0,
    store: str = "iam-gov.db",
    entra_style: EntraStyle = "graph-script",
    force: bool = False,
) -> list[Path]:
    """Write the company into ``out_dir``; returns the files written. ``access_density``
    gives every department that many tool groups (with an app each) in Okta, AD and Entra,
    about four more grants a person for each. ``store`` is the SQLite file its configuration
    names (relative to the configuration). ``entra_style`` is the tool whose files the Entra
    export is: an operator's Graph script (the default), or ``iam-gov export``.

    ``out_dir`` must be missing or empty unless ``force`` (its files are then replaced). A
    symbolic link there is refused, with or without ``force``: the folder itself, or one
    anywhere inside it. No link is followed while writing (``IamGovError`` otherwise)."""
    if not 0 <= access_density <= len(TOOLS):
        raise IamGovError(f"the access density is between 0 and {len(TOOLS)}")
    _check_out_dir(out_dir, force=force)
    company = build_company(people, seed, as_of)
    directories = build_directories(company, seed, access_density)  # plants problems too
    vpn = build_vpn(company, seed)  # plants its own problems too
    entra = graph_dump_files if entra_style == "graph-script" else entra_files
    trees: list[tuple[str, Iterator[tuple[str, Any]]]] = [
        ("okta", okta_files(directories)),
        ("openvpn", openvpn_files(vpn, seed, company.as_of)),
        ("wireguard", wireguard_files(vpn, seed, company.as_of)),
        ("entra", entra(directories)),
        ("aws/last-accessed", last_accessed_files(company)),
    ]
    files: list[tuple[str, str]] = [
        (f"{root}/{relative}", _tree_text(content))
        for root, tree in trees
        for relative, content in tree
    ]
    files += [
        ("hr/workers.csv", _hr_csv(company)),
        ("aws/authorization-details.json", _json4(authorization_details(company))),
        ("aws/credential-report.json", _json4(credential_report(company))),
        ("aws/password-policy.json", _json4(PASSWORD_POLICY)),
        ("ad/example.com.ldf", ad_ldif(directories)),
        (
            "policy.yaml",
            POLICY.format(
                name=name,
                exceptions=_exceptions_yaml(company),
                department_roles=_department_roles(access_density),
                tenant=TENANT_DOMAIN,
            ),
        ),
        ("overrides.yaml", _overrides_yaml(company)),
        ("campaign-q4.yaml", CAMPAIGN.format(it_head=_it_head(company))),
        ("triggers.yaml", TRIGGERS.format(it_head=_it_head(company))),
        (
            "iam-gov.toml",
            CONFIG.format(
                name=name,
                store=store,
                it_head=_it_head(company),
                reminders=(PurePosixPath(store).parent / "reminders").as_posix(),
                reports=(PurePosixPath(store).parent / "reports").as_posix(),
                as_of=company.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
                up_since=(company.as_of - timedelta(days=63)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ),
        ),
        (
            "planted.json",
            _json4(
                [
                    {"rule_id": x.rule_id, "system": x.system, "login": x.login, "what": x.what}
                    for x in company.planted
                ]
            ),
        ),
        ("PLANTED.md", _planted_md(company)),
    ]
    return _write_files(out_dir, files)


def _tree_text(content: Any) -> str:
    """A directory export file as written: text as it is, anything else as JSON."""
    if isinstance(content, str):
        return content
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def _json4(value: Any) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def _hr_csv(company: Company) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HR_COLUMNS)
    writer.writerows(hr_rows(company))
    return out.getvalue()


# --- writing without following a link ----------------------------------------------------

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _check_out_dir(out_dir: Path, *, force: bool) -> None:
    """Refuse a folder that is a link, holds a link, is not a folder, or is not empty
    (unless ``force``), before anything is written."""
    if out_dir.is_symlink():
        raise IamGovError(f"--out {out_dir}: is a symbolic link; refusing to write through it")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise IamGovError(f"--out {out_dir}: exists and is not a folder")
    entries = list(_walk(out_dir))
    links = [e for e in entries if e.is_symlink()]
    if links:
        raise IamGovError(
            f"--out {out_dir}: holds a symbolic link ({links[0].relative_to(out_dir)}); "
            "refusing to write there, even with --force"
        )
    if entries and not force:
        raise IamGovError(
            f"--out {out_dir}: is not empty; choose a new folder, or --force to replace "
            "the sample's files there"
        )


def _walk(folder: Path) -> Iterable[Path]:
    """Everything under ``folder``, links listed but never followed."""
    for entry in sorted(folder.iterdir()):
        yield entry
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry)


def _write_files(out_dir: Path, files: Iterable[tuple[str, str]]) -> list[Path]:
    """Write each ``(relative path, text)`` under ``out_dir``, opening every folder and file
    relative to its parent's descriptor without following a link (``O_NOFOLLOW``); a file
    already there is unlinked, then created anew (``O_EXCL``), so nothing is written through a
    link put there meanwhile either."""
    make_private_folders(out_dir)
    root = _open_dir(str(out_dir), None, out_dir)
    written: list[Path] = []
    try:
        for relative, text in files:
            *folders, filename = PurePosixPath(relative).parts
            shown = out_dir / relative
            fd = os.dup(root)
            try:
                for part in folders:
                    fd = _swap(fd, _subfolder(fd, part, shown))
                _write_file(fd, filename, text.encode("utf-8"), shown)
            finally:
                os.close(fd)
            written.append(shown)
    finally:
        os.close(root)
    return written


def _swap(old: int, new: int) -> int:
    os.close(old)
    return new


def _open_dir(name: str, parent: int | None, shown: Path) -> int:
    try:
        return os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=parent)
    except OSError as exc:
        raise IamGovError(
            f"{shown}: cannot open the folder without following a link: {exc.strerror}"
        ) from None


def _subfolder(parent: int, name: str, shown: Path) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, PRIVATE_FOLDER, dir_fd=parent)
    return _open_dir(name, parent, shown)


def _write_file(parent: int, name: str, data: bytes, shown: Path) -> None:
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise IamGovError(f"{shown}: is a folder where the sample writes a file")
        os.unlink(name, dir_fd=parent)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        fd = os.open(name, flags, PRIVATE_FILE, dir_fd=parent)
    except OSError as exc:
        raise IamGovError(f"{shown}: cannot create the file: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(data)


__all__ = ["EntraStyle", "build_company", "generate"]


def _it_head(company: Company) -> str:
    """Who reviews what nobody else can in the sample company: the head of IT."""
    heads = [p for p in company.people if p.title == "Head of IT"] or company.people[:1]
    return heads[0].email
