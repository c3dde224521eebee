"""The company's identity providers: Okta (everyone's SSO), Active Directory, and the Microsoft
365 tenant in Entra ID; with the problems planted in each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from iam_gov.samplegen.company import DOMAIN, Company, Person, Planted

TENANT_DOMAIN = "examplecorp.onmicrosoft.com"

# Department -> the group it has in every directory (same name everywhere, as sync tools make).
DEPARTMENT_GROUPS = {
    "Executive": "Leadership",
    "Engineering": "Engineering",
    "IT": "IT",
    "Finance": "Finance",
    "Sales": "Sales",
    "Support": "Support",
    "Marketing": "Marketing",
    "People": "People",
}
ALL_STAFF = "All Staff"

# Okta apps, and the groups they are assigned to (an app held through a group).
OKTA_APPS = {
    "Slack": ALL_STAFF,
    "Google Workspace": ALL_STAFF,
    "GitHub": "Engineering",
    "Salesforce": "Sales",
    "NetSuite": "Finance",
    "Zendesk": "Support",
    "AWS IAM Identity Center": "Engineering",
}

# Tools every department uses, each through its own group per department (``Sales Jira``) with
# the tool's Okta app assigned to those groups. A generated company has the first
# ``access_density`` of them (none in the demo): it is how benchmarks reach 30 grants a person.
TOOLS = (
    "Jira",
    "Confluence",
    "Zoom",
    "Notion",
    "Figma",
    "Miro",
    "Datadog",
    "1Password",
    "Loom",
    "Lucidchart",
)


def tool_groups(department_group: str, access_density: int) -> list[str]:
    """The tool groups everyone in a department is in (and their role brings)."""
    return [f"{department_group} {tool}" for tool in TOOLS[:access_density]]


@dataclass
class DirectoryUser:
    """One person's (or no one's) account in one directory, in neutral terms."""

    login: str
    email: str | None
    first: str
    last: str
    employee_id: str | None
    enabled: bool
    created: datetime
    last_login: datetime | None
    groups: list[str] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)
    admin_roles: list[str] = field(default_factory=list)
    """Okta admin role types / Entra directory role names held directly."""
    apps: list[str] = field(default_factory=list)
    """Okta apps assigned to the user directly (not through a group)."""
    status: str = "ACTIVE"
    """The directory's own status word where it has one (Okta)."""
    guest: bool = False
    has_password: bool = True

    @property
    def display_name(self) -> str:
        return f"{self.first} {self.last}".strip()


@dataclass
class Directories:
    okta: list[DirectoryUser]
    ad: list[DirectoryUser]
    entra: list[DirectoryUser]
    okta_groups: list[str]
    ad_groups: dict[str, list[str]]
    """AD group -> groups nested in it."""
    entra_groups: list[str]
    okta_apps: dict[str, tuple[str, ...]]
    """Okta app label -> the groups it is assigned to."""


class _DirectoryBuilder:
    def __init__(self, company: Company, seed: int, access_density: int = 0):
        self.company = company
        self.rng = random.Random(seed * 7919 + 17)
        # Its own random stream, so that the company without tools stays exactly the same.
        self.tools_rng = random.Random(seed * 104_729 + access_density)
        self.access_density = access_density
        self.as_of = company.as_of
        self.planted: list[Planted] = company.planted

    def ago(self, days: float) -> datetime:
        return (self.as_of - timedelta(days=days, hours=self.rng.randint(0, 8))).replace(
            microsecond=0
        )

    def _leaver_logins(self) -> set[str]:
        return {p.login for p in self.planted if p.rule_id == "leaver-active-access"}

    def _base(self, person: Person, login: str, email: str | None) -> DirectoryUser:
        department = DEPARTMENT_GROUPS.get(person.department, person.department)
        groups = [ALL_STAFF, department, *tool_groups(department, self.access_density)]
        hired = datetime.combine(person.hire_date, datetime.min.time(), tzinfo=self.as_of.tzinfo)
        return DirectoryUser(
            login=login,
            email=email,
            first=person.first,
            last=person.last,
            employee_id=person.employee_id,
            enabled=True,
            created=max(hired, self.as_of - timedelta(days=2000)),
            last_login=self.ago(self.rng.uniform(0, 10)),
            groups=groups,
            factors=["push", "token:software:totp"] if self.rng.random() < 0.7 else ["webauthn"],
        )

    def build(self) -> Directories:
        okta, ad, entra = [], [], []
        still_active = self._leaver_logins()
        sam_names: set[str] = set()
        for person in self.company.people:
            local = person.email.split("@")[0]
            o = self._base(person, person.email, person.email)
            # sAMAccountName: 20 characters at most, unique in the domain.
            sam, n = local.replace(".", "")[:20], 2
            while sam in sam_names:
                sam, n = f"{local.replace('.', '')[:17]}{n}", n + 1
            sam_names.add(sam)
            a = self._base(person, sam, person.email)
            e = self._base(person, f"{local}@{DOMAIN}", person.email)
            if person.status == "Leave of Absence":
                o.status = "SUSPENDED"
            if person.status == "Terminated" and person.termination_date is not None:
                end = person.termination_date
                if local in still_active:
                    # The planted leaver: SSO still active and used after they left, AD done
                    # right, the Microsoft 365 account forgotten.
                    o.last_login = self.ago((self.as_of.date() - end).days - 5)
                    a.enabled = False
                    e.last_login = self.ago((self.as_of.date() - end).days + 2)
                    self.planted.append(
                        Planted(
                            "leaver-active-access",
                            o.login,
                            "Okta account active, used after",
                            "okta",
                        )
                    )
                    self.planted.append(
                        Planted(
                            "leaver-active-access",
                            e.login,
                            "Microsoft 365 account enabled",
                            "entra",
                        )
                    )
                else:
                    o.status, o.enabled = "DEPROVISIONED", False
                    a.enabled = e.enabled = False
            if person.title == "IT Administrator":
                o.admin_roles.append("ORG_ADMIN")
                a.groups.append("Domain Admins")
            if person.title == "Head of IT":
                o.admin_roles.append("SUPER_ADMIN")
                e.admin_roles.append("Global Administrator")
            okta.append(o)
            ad.append(a)
            entra.append(e)
        self._plant(okta, ad, entra)
        self._plant_tool_drift(okta, ad)
        departments = sorted(set(DEPARTMENT_GROUPS.values()))
        tools = [g for d in departments for g in tool_groups(d, self.access_density)]
        return Directories(
            okta=sorted(okta, key=lambda u: u.login),
            ad=sorted(ad, key=lambda u: u.login),
            entra=sorted(entra, key=lambda u: u.login),
            okta_groups=[ALL_STAFF, *departments, *tools],
            ad_groups={
                ALL_STAFF: departments,
                **{g: [] for g in DEPARTMENT_GROUPS.values()},
                **{g: [] for g in tools},
                "Domain Admins": [],
                "Backup Operators": [],
            },
            entra_groups=[ALL_STAFF, *departments, *tools],
            okta_apps={
                **{label: (group,) for label, group in OKTA_APPS.items()},
                **{
                    tool: tuple(f"{d} {tool}" for d in departments)
                    for tool in TOOLS[: self.access_density]
                },
            },
        )

    def _plant_tool_drift(self, okta: list[DirectoryUser], ad: list[DirectoryUser]) -> None:
        """What tool groups look like after a while: a few people in another department's
        (excess), a few missing one of their own in AD (missing birthright)."""
        if not self.access_density:
            return
        rng = self.tools_rng
        departments = sorted(set(DEPARTMENT_GROUPS.values()))
        people = {p.employee_id: p for p in self.company.people}
        count = max(1, round(0.01 * len(people)))
        for u in rng.sample(okta, min(count, len(okta))):
            person = people.get(u.employee_id or "")
            if person is None or person.status != "Active":
                continue
            own = DEPARTMENT_GROUPS.get(person.department, person.department)
            other = rng.choice([d for d in departments if d != own])
            u.groups.append(rng.choice(tool_groups(other, self.access_density)))
            self.planted.append(
                Planted("excess-access", u.login, "in another department's tool group", "okta")
            )
        for u in rng.sample(ad, min(count // 2, len(ad))):
            person = people.get(u.employee_id or "")
            own_tools = [g for g in u.groups if g.endswith(TOOLS[: self.access_density])]
            if person is None or person.status != "Active" or not own_tools:
                continue
            u.groups.remove(rng.choice(own_tools))

    def _candidates(self, users: list[DirectoryUser], department: str | None = None) -> list[int]:
        people = {p.employee_id: p for p in self.company.people}
        out = []
        for i, u in enumerate(users):
            person = people.get(u.employee_id or "")
            if person is None or person.status != "Active" or person.manager_id is None:
                continue
            if person.title in ("IT Administrator", "Head of IT"):
                continue
            if department is None or person.department == department:
                out.append(i)
        self.rng.shuffle(out)
        return out

    def _plant(
        self, okta: list[DirectoryUser], ad: list[DirectoryUser], entra: list[DirectoryUser]
    ) -> None:
        count = max(1, round(0.005 * len(self.company.people)))
        used: set[str] = set()

        def pick(users: list[DirectoryUser], department: str | None = None) -> list[DirectoryUser]:
            chosen = []
            for i in self._candidates(users, department):
                if users[i].employee_id not in used:
                    used.add(users[i].employee_id or "")
                    chosen.append(users[i])
                if len(chosen) == count:
                    break
            return chosen

        for u in pick(okta):
            u.factors = []
            self.planted.append(Planted("mfa-missing", u.login, "Okta user with no factor", "okta"))
        for u in pick(okta, "Sales"):
            u.apps.append("GitHub")
            self.planted.append(
                Planted("excess-access", u.login, "GitHub assigned directly", "okta")
            )
        for u in pick(okta, "Engineering"):
            u.admin_roles.append("ORG_ADMIN")
            self.planted.append(
                Planted("excess-access", u.login, "Okta org admin, not in IT", "okta")
            )
        for u in pick(okta):
            u.last_login = self.ago(150)
            self.planted.append(
                Planted("dormant-account", u.login, "no Okta sign-in for 150 days", "okta")
            )
        for u in pick(ad, "Engineering"):
            u.groups.append("Domain Admins")
            self.planted.append(
                Planted("excess-access", u.login, "engineer in Domain Admins", "ad")
            )
        for u in pick(entra):
            u.factors = []
            self.planted.append(
                Planted("mfa-missing", u.login, "no MFA method registered", "entra")
            )
        for u in pick(ad, "Engineering"):
            u.groups = [g for g in u.groups if g != "Engineering"]
            self.planted.append(
                Planted("missing-birthright", "", "engineer not in the Engineering group", "ad")
            )
        people = {p.employee_id: p for p in self.company.people}
        contractors = [
            u
            for u in ad
            if (p := people.get(u.employee_id or "")) is not None
            and p.worker_type == "Contingent Worker"
            and p.status == "Active"
            and u.employee_id not in used
        ]
        for u in contractors[:count]:
            # Approved by someone, but contractors must not hold Domain Admins at all.
            u.groups.append("Domain Admins")
            self.company.exceptions.append(
                {
                    "person": u.employee_id,
                    "system": "ad",
                    "entitlement": "group:Domain Admins",
                    "approver": "head.of.it@example.com",
                    "reason": "Data-centre migration",
                    "expires": self.as_of.date() + timedelta(days=45),
                    "ticket": "IT-2211",
                }
            )
            self.planted.append(
                Planted("privileged-access", u.login, "a contractor in Domain Admins", "ad")
            )
        for u in pick(okta, "Finance"):
            # Pays suppliers (Finance) and can change code (GitHub): both sides of a SoD.
            u.apps.append("GitHub")
            self.planted.append(Planted("sod-conflict", "", "Finance and GitHub", ""))
        self.planted.append(
            Planted("weak-password-policy", "", "8 characters, never locks out", "ad")
        )
        self.planted.append(
            Planted(
                "weak-password-policy", "", "Support: 8 characters, no symbols, no history", "okta"
            )
        )
        ad.append(
            DirectoryUser(
                login="svc-backup",
                email=None,
                first="svc-backup",
                last="",
                employee_id=None,
                enabled=True,
                created=self.ago(1200),
                last_login=self.ago(1),
                groups=["Backup Operators"],
            )
        )
        self.planted.append(
            Planted("orphan-account", "svc-backup", "AD account nobody declared", "ad")
        )
        # A second account from an old migration, forgotten since.
        sales = sorted(
            (u for u in ad if u.enabled and u.employee_id and "Sales" in u.groups),
            key=lambda u: u.login,
        )
        if sales:
            first = sales[0]
            ad.append(
                replace(
                    first,
                    login=f"{first.login}.old",
                    email=None,
                    # Not from the random stream: the rest of the company stays as it was.
                    created=self.as_of - timedelta(days=900),
                    last_login=self.as_of - timedelta(days=400),
                    groups=["Sales"],
                )
            )
            self.planted.append(
                Planted(
                    "duplicate-accounts",
                    "",
                    f"second account {first.login}.old, unused for 400 days",
                    "ad",
                )
            )
        guest = f"jordan.lee_partner-agency.com#EXT#@{TENANT_DOMAIN}"
        entra.append(
            DirectoryUser(
                login=guest,
                email="jordan.lee@partner-agency.com",
                first="Jordan",
                last="Lee (Partner Agency)",
                employee_id=None,
                enabled=True,
                created=self.ago(400),
                last_login=self.ago(30),
                groups=["Marketing"],
                guest=True,
                has_password=False,
            )
        )
        self.planted.append(Planted("orphan-account", guest, "guest nobody sponsors", "entra"))
        entra.append(
            DirectoryUser(
                login=f"emergency-admin@{TENANT_DOMAIN}",
                email=None,
                first="Emergency",
                last="Admin",
                employee_id=None,
                enabled=True,
                created=self.ago(900),
                last_login=None,
                admin_roles=["Global Administrator"],
                factors=["fido2"],
            )
        )


def build_directories(company: Company, seed: int, access_density: int = 0) -> Directories:
    return _DirectoryBuilder(company, seed, access_density).build()
