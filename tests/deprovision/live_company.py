"""Acme, a small company whose every system is live, for the deprovisioning end-to-end tests.

HR is a CSV file (generic preset); Okta is the local Okta of ``okta_server``; Entra the local
Microsoft Graph of ``graph_server`` (Contoso's tenant, with Acme's people added); LDAP a real
slapd (OpenLDAP flavor, locks through ppolicy); AWS IAM a moto server; OpenVPN a real easy-rsa
PKI with the CRL installed where the server reads it; WireGuard a wg0.conf file.

The servers are started once per test module (``Servers``); ``build_company`` seeds each of
them afresh with Acme's accounts, writes the configuration, collects and evaluates, so that
every test starts from the same world. ``LiveCompany.state`` is what each system holds of
Acme's people, read from the systems themselves, and ``LiveCompany.writes`` the changes the
servers were asked for since ``LiveCompany.mark``: the two ways a test tells that nothing was
changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from iam_gov.collect import collect
from iam_gov.config import Config, load_config
from iam_gov.deprovision.executor import Executor
from iam_gov.deprovision.plan import Plan
from iam_gov.deprovision.planner import Request, make_plan
from iam_gov.evaluation import evaluate
from iam_gov.policy import Policy, load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store
from iam_gov.store.schema import audit_log, deprovision_runs, deprovision_steps
from iam_gov.timeutil import utcnow
from tests.support.graph_server import CLIENT_ID, GraphServer, Tenant, oid
from tests.support.graph_tenant import SECRET_ENV, _user_record, demo_tenant
from tests.support.okta_server import OktaServer, Org
from tests.support.pki import Pki, iter_serials_in_crl_text, openssl, tree_state
from tests.support.slapd import (
    OPENLDAP_BASE,
    PASSWORD_ENV,
    ThrowawaySlapd,
    admin,
    group_dn,
    person_dn,
)

ACTOR = "it-ops@acme.example"
DOMAIN = "acme.example"
LEFT_ON = utcnow().date() - timedelta(days=14)
"""The leaver's last day: two weeks ago, whenever the tests run (the live systems' data is of
now, and a plan is made for now)."""


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    login: str
    department: str
    status: str
    end_date: date | None = None

    @property
    def email(self) -> str:
        return f"{self.login}@{DOMAIN}"

    @property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def last(self) -> str:
        return self.name.split()[-1]


LEAVER = Employee("E100", "Lena Leaver", "lena.leaver", "Engineering", "terminated", LEFT_ON)
"""Left two weeks ago; still has an account in every system, and group memberships."""
ACTIVE = Employee("E101", "Ada Active", "ada.active", "Engineering", "active")
"""Shares Lena's groups, VPN and WireGuard server: must come out of every run untouched."""
KEYHOLDER = Employee("E102", "Omar Ops", "omar.ops", "IT", "active")
"""An administrator who keeps the AWS break-glass account (linked to him by hand)."""
OTHER = Employee("E103", "Priya Product", "priya.product", "Product", "active")
PEOPLE = (LEAVER, ACTIVE, KEYHOLDER, OTHER)
BREAK_GLASS = "breakglass-admin"
"""The AWS break-glass user: declared ``kind: break-glass`` in the policy."""

OKTA_GROUPS = {"Engineering": (LEAVER, ACTIVE), "IT Admins": (KEYHOLDER,)}
ENTRA_ENGINEERING = oid("group: Engineering")
"""Contoso's Engineering group, which is itself a member of All Staff."""
LDAP_GROUPS = {"acme-engineering": (LEAVER, ACTIVE), "acme-oncall": (KEYHOLDER, ACTIVE)}
"""Each with two members: a groupOfNames must keep one (slapd refuses to remove the last)."""
AWS_GROUPS = {"developers": (LEAVER, ACTIVE), "admins": (KEYHOLDER,)}
VPN_PEOPLE = (LEAVER, ACTIVE)
"""People with an OpenVPN certificate (CN = login) and a WireGuard peer."""


def entra_id(person: Employee) -> str:
    return oid(person.login)


# --- the servers, started once per module ----------------------------------------------------


@dataclass(frozen=True)
class WireGuardKeys:
    server_private: str
    peers: dict[str, str]
    """Login -> public key."""


@dataclass(frozen=True)
class Servers:
    slapd: ThrowawaySlapd
    graph: GraphServer
    moto: str
    """The moto server's endpoint."""
    pki: Pki
    """The demo PKI with a client certificate for each of ``VPN_PEOPLE``: copied per test."""
    serials: dict[str, str]
    """Login -> serial of their OpenVPN certificate."""
    wireguard: WireGuardKeys


def add_vpn_clients(pki: Pki) -> dict[str, str]:
    return {person.login: pki.client(person.login) for person in VPN_PEOPLE}


# --- seeding each system ---------------------------------------------------------------------


def acme_org() -> Org:
    """Acme's Okta: everyone, Lena and Ada in Engineering, Omar in IT Admins."""
    org = Org()
    users = {
        p.login: org.add_user(p.email, first=p.first, last=p.last, employee_number=p.employee_id)
        for p in PEOPLE
    }
    for name, members in OKTA_GROUPS.items():
        org.add_member(org.add_group(name), *(users[p.login] for p in members))
    github = org.add_app("GitHub", "github")
    org.assign_app(github, org.group("Engineering"))
    return org


def acme_tenant() -> Tenant:
    """Contoso's tenant (so that Graph answers with all its kinds of objects), with Acme's
    people added; Lena and Ada directly in Engineering (itself a member of All Staff)."""
    tenant = demo_tenant()
    for person in PEOPLE:
        record = _user_record(person.name, person.email, employeeId=person.employee_id)
        tenant.users[record["id"]] = record
    tenant.members[ENTRA_ENGINEERING] += [entra_id(LEAVER), entra_id(ACTIVE)]
    return tenant


def seed_ldap(slapd: ThrowawaySlapd) -> None:
    """Acme's people and groups in the OpenLDAP tree, made afresh (removed first if a test
    before left them locked or out of a group)."""
    from ldap3.core.exceptions import LDAPNoSuchObjectResult

    conn = admin(slapd, OPENLDAP_BASE)
    try:
        for dn in [*(group_dn(g) for g in LDAP_GROUPS), *(person_dn(p.login) for p in PEOPLE)]:
            with contextlib.suppress(LDAPNoSuchObjectResult):
                conn.delete(dn)
        for p in PEOPLE:
            conn.add(
                person_dn(p.login),
                ["inetOrgPerson"],
                {
                    "uid": p.login,
                    "cn": p.name,
                    "sn": p.last,
                    "mail": p.email,
                    "employeeNumber": p.employee_id,
                    "userPassword": "Passw0rd!",
                },
            )
        for name, members in LDAP_GROUPS.items():
            conn.add(
                group_dn(name),
                ["groupOfNames"],
                {"cn": name, "member": [person_dn(p.login) for p in members]},
            )
    finally:
        conn.unbind()


def seed_aws(iam: Any) -> None:
    """Acme's IAM users (tagged with employee id and e-mail), each with a console password
    and an access key, and the break-glass user in admins."""
    for group in AWS_GROUPS:
        iam.create_group(GroupName=group)
    for person in PEOPLE:
        tags = {"employee_id": person.employee_id, "email": person.email}
        iam.create_user(
            UserName=person.login, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
        iam.create_login_profile(UserName=person.login, Password="Corr3ct-Horse-Battery")
        iam.create_access_key(UserName=person.login)
    for group, members in AWS_GROUPS.items():
        for person in members:
            iam.add_user_to_group(GroupName=group, UserName=person.login)
    iam.create_user(UserName=BREAK_GLASS)
    iam.create_login_profile(UserName=BREAK_GLASS, Password="Corr3ct-Horse-Battery")
    iam.create_access_key(UserName=BREAK_GLASS)
    iam.add_user_to_group(GroupName="admins", UserName=BREAK_GLASS)


def wg_conf(keys: WireGuardKeys) -> str:
    lines = [
        "# wg0: Acme's ops VPN.",
        "[Interface]",
        "Address = 10.9.0.1/24",
        "ListenPort = 51820",
        f"PrivateKey = {keys.server_private}",
    ]
    for n, person in enumerate(VPN_PEOPLE, start=2):
        lines += [
            "",
            f"# iam-gov: login={person.login} email={person.email} "
            f'employee_id={person.employee_id} name="{person.name}"',
            "[Peer]",
            f"PublicKey = {keys.peers[person.login]}",
            f"AllowedIPs = 10.9.0.{n}/32",
        ]
    return "\n".join(lines) + "\n"


def hr_csv() -> str:
    rows = [
        "employee_id,email,name,department,title,manager_id,employment_type,status,"
        "start_date,end_date"
    ]
    for p in PEOPLE:
        manager = "" if p is KEYHOLDER else KEYHOLDER.employee_id
        rows.append(
            f"{p.employee_id},{p.email},{p.name},{p.department},Staff,{manager},employee,"
            f"{p.status},2022-03-01,{p.end_date or ''}"
        )
    return "\n".join(rows) + "\n"


POLICY = f"""\
version: 1
accounts:
  - system: aws
    login: {BREAK_GLASS}
    kind: break-glass
    owner: security@{DOMAIN}
    reason: Emergency access when SSO is down; hardware MFA in the safe.
"""

OVERRIDES = f"""\
links:
  - system: aws
    account: {BREAK_GLASS}
    person: {KEYHOLDER.employee_id}
    reason: Omar keeps the break-glass credentials in the safe
"""


def config_toml(servers: Servers, okta: OktaServer, deprovision: str = "") -> str:
    return f"""\
[policy]
path = "policy.yaml"

[correlation]
overrides = "overrides.yaml"

[deprovision]
{deprovision}

[systems.hr]
type = "hr"
path = "hr/workers.csv"

[systems.okta]
type = "okta"
mode = "live"
org_url = "{okta.url}"
allow_http = true              # the local Okta is plain http on loopback
api_token = {{env = "OKTA_API_TOKEN"}}
max_retries = 0                # a failing Okta fails at once (the tests make it fail)

[systems.entra]
type = "entra"
mode = "live"
tenant_id = "{servers.graph.tenant_id}"
client_id = "{CLIENT_ID}"
client_secret = {{env = "{SECRET_ENV}"}}
authority_host = "{servers.graph.url}"
graph_url = "{servers.graph.url}"

[systems.ldap]
type = "ldap"
flavor = "openldap"
mode = "live"
url = "{servers.slapd.url}"
bind_dn = "cn=iam-gov,{OPENLDAP_BASE}"
bind_password = {{env = "{PASSWORD_ENV}"}}
base_dn = "{OPENLDAP_BASE}"

[systems.aws]
type = "aws"
mode = "live"
endpoint_url = "{servers.moto}"
access_advisor = false         # moto has no Access Advisor

[systems.openvpn]
type = "openvpn"
pki_dir = "easy-rsa/pki"
crl_path = "etc-openvpn/crl.pem"
timezone = "UTC"

[systems.wireguard]
type = "wireguard"
config = "wireguard/wg0.conf"
"""


# --- the company ---------------------------------------------------------------------------


@dataclass
class LiveCompany:
    root: Path
    config: Config
    policy: Policy
    store: Store
    okta: OktaServer
    servers: Servers
    iam: Any
    pki: Pki
    _ldap_mark: int = field(default=0)

    @property
    def graph(self) -> GraphServer:
        return self.servers.graph

    @property
    def slapd(self) -> ThrowawaySlapd:
        return self.servers.slapd

    @property
    def crl(self) -> Path:
        """The CRL the OpenVPN server reads (not the PKI's own)."""
        return self.root / "etc-openvpn" / "crl.pem"

    @property
    def wg_conf(self) -> Path:
        return self.root / "wireguard" / "wg0.conf"

    @property
    def config_file(self) -> Path:
        return self.root / "iam-gov.toml"

    # --- planning and applying -----------------------------------------------------------

    def plan(self, *who: Employee, reason: str = "left the company, ticket HR-1234") -> Plan:
        request = Request(who=[p.email for p in who], reason=reason, trigger="cli", actor=ACTOR)
        return make_plan(self.store, self.config, self.policy, request)

    def executor(self, config: Config | None = None) -> Executor:
        return Executor(self.store, config or self.config, actor=ACTOR)

    def with_deprovision(self, **settings: Any) -> Config:
        """The configuration with other ``[deprovision]`` settings."""
        changed = self.config.deprovision.model_copy(update=settings)
        return self.config.model_copy(update={"deprovision": changed})

    # --- what the systems hold ---------------------------------------------------------------

    def mark(self) -> None:
        """Forget the requests seen so far: ``writes`` reports only the ones after this."""
        with self.okta.lock:
            self.okta.seen.clear()
        with self.graph.lock:
            self.graph.requests.clear()
        self._ldap_mark = self.slapd.log_mark()

    def writes(self) -> dict[str, list[str]]:
        """The changes each server was asked for since ``mark`` (reads left out), and the
        files of the file-based systems that changed. Empty lists: nothing was written."""
        okta = [f"{s.method} {s.path}" for s in self.okta.seen if s.method != "GET"]
        graph = [f"{r.method} {r.path}" for r in self.graph.graph_requests() if r.method != "GET"]
        ldap = [
            f"{op.kind} {op.dn}"
            for op in self.slapd.operations_since(self._ldap_mark)
            if op.kind == "MOD"
        ]
        return {"okta": okta, "entra": graph, "ldap": ldap}

    def state(self) -> dict[str, Any]:
        """Everything the systems hold of Acme's people (and the break-glass user), read from
        the systems: equal before and after means nothing was changed."""
        return {
            "okta": self.okta_state(),
            "entra": self.entra_state(),
            "ldap": self.ldap_state(),
            "aws": self.aws_state(),
            "openvpn": tree_state(self.pki.dir, self.crl),
            "wireguard": hashlib.sha256(self.wg_conf.read_bytes()).hexdigest(),
        }

    def okta_state(self) -> dict[str, Any]:
        org = self.okta.org
        with self.okta.lock:
            return {
                user.login: (
                    user.status,
                    sorted(g.name for g in org.groups.values() if user.id in g.members),
                    list(user.sessions_revoked),
                )
                for user in org.users.values()
            }

    def entra_state(self) -> dict[str, Any]:
        tenant = self.graph.tenant
        with self.graph.lock:
            return {
                user["userPrincipalName"]: (
                    user["accountEnabled"],
                    user["signInSessionsValidFromDateTime"],
                    sorted(
                        tenant.groups[g]["displayName"]
                        for g, members in tenant.members.items()
                        if user["id"] in members
                    ),
                )
                for user in tenant.users.values()
            }

    def ldap_state(self) -> dict[str, Any]:
        conn = admin(self.slapd, OPENLDAP_BASE)
        try:
            out: dict[str, Any] = {}
            for person in PEOPLE:
                conn.search(
                    person_dn(person.login),
                    "(objectClass=*)",
                    search_scope="BASE",
                    attributes=["pwdAccountLockedTime"],
                )
                locked = conn.response[0]["raw_attributes"].get("pwdAccountLockedTime", [])
                out[person.login] = [v.decode() for v in locked]
            for group in LDAP_GROUPS:
                conn.search(
                    group_dn(group), "(objectClass=*)", search_scope="BASE", attributes=["member"]
                )
                members = conn.response[0]["raw_attributes"].get("member", [])
                out[group] = sorted(v.decode().lower() for v in members)
            return out
        finally:
            conn.unbind()

    def aws_state(self) -> dict[str, Any]:
        iam = self.iam
        out: dict[str, Any] = {}
        for user in [*(p.login for p in PEOPLE), BREAK_GLASS]:
            try:
                iam.get_login_profile(UserName=user)
                password = True
            except iam.exceptions.NoSuchEntityException:
                password = False
            keys = sorted(
                (k["AccessKeyId"], k["Status"])
                for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            )
            groups = sorted(
                g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]
            )
            out[user] = {"password": password, "keys": keys, "groups": groups}
        return out

    def crl_serials(self) -> list[str]:
        """The serials the CRL the server reads lists as revoked."""
        text = openssl("crl", "-in", str(self.crl), "-noout", "-text").stdout
        return list(iter_serials_in_crl_text(text))

    # --- the records of runs -----------------------------------------------------------------

    def steps_of(self, run_id: int) -> list[Any]:
        with self.store.reading() as conn:
            return list(
                conn.execute(
                    select(deprovision_steps)
                    .where(deprovision_steps.c.run_id == run_id)
                    .order_by(deprovision_steps.c.seq)
                )
            )

    def runs(self) -> list[Any]:
        with self.store.reading() as conn:
            return list(conn.execute(select(deprovision_runs).order_by(deprovision_runs.c.id)))

    def audit(self, action: str | None = None) -> list[Any]:
        query = select(audit_log).order_by(audit_log.c.seq)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        with self.store.reading() as conn:
            return list(conn.execute(query))


def build_company(
    root: Path,
    store: Store,
    servers: Servers,
    okta: OktaServer,
    *,
    deprovision: str = "",
) -> LiveCompany:
    """Acme under ``root``: every system seeded afresh, configured, collected, evaluated.
    ``okta`` serves ``acme_org()`` (a new server per test: its org is its state)."""
    from tests.connectors.aws.conftest import _reset, iam_client

    servers.graph.reset(acme_tenant())
    seed_ldap(servers.slapd)
    _reset(servers.moto)
    iam = iam_client(servers.moto)
    seed_aws(iam)
    root.mkdir(parents=True)
    pki = servers.pki.copy(root / "easy-rsa")
    (root / "etc-openvpn").mkdir()
    shutil.copy(pki.crl, root / "etc-openvpn" / "crl.pem")
    (root / "wireguard").mkdir()
    (root / "wireguard" / "wg0.conf").write_text(wg_conf(servers.wireguard))
    (root / "wireguard" / "wg0.conf").chmod(0o600)
    (root / "hr").mkdir()
    (root / "hr" / "workers.csv").write_text(hr_csv())
    (root / "policy.yaml").write_text(POLICY)
    (root / "overrides.yaml").write_text(OVERRIDES)
    toml = root / "iam-gov.toml"
    toml.write_text(config_toml(servers, okta, deprovision))
    config = load_config(toml)
    policy = load_policy(config.policy.path, rules=all_rules())
    collect(config, store)
    evaluate(store, config, policy)
    company = LiveCompany(root, config, policy, store, okta, servers, iam, pki)
    company.mark()
    return company
