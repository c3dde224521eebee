"""A fictional company: its people (HR) and its AWS account, with problems planted on purpose."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

ACCOUNT_ID = "210987654321"
DOMAIN = "example.com"

FIRST = [
    "Ada",
    "Zoë",
    "José",
    "Ngozi",
    "Søren",
    "Łukasz",
    "Mei",
    "Aarav",
    "Fatima",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Mateo",
    "Sofia",
    "Yuki",
    "Chen",
    "Amara",
    "Kwame",
    "Ingrid",
    "Diego",
    "Priya",
    "Omar",
    "Hana",
    "Lucas",
    "Chloé",
    "Ivan",
    "Leila",
    "Tomás",
    "Aisha",
    "Erik",
    "Nia",
    "Rafael",
    "Elena",
    "Kofi",
    "Mira",
    "Jonas",
    "Sara",
    "Dmitri",
    "Ana",
    "Hugo",
    "Freya",
    "Ravi",
    "Lina",
    "Pablo",
    "Greta",
    "Samir",
    "Iris",
    "Malik",
    "Clara",
    "Kenji",
    "Alma",
    "Jakub",
    "Rosa",
    "Bilal",
    "Maya",
    "Felix",
    "Noor",
    "Arjun",
    "Lea",
    "Tariq",
    "Eva",
    "Oscar",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "García",
    "Nakamura",
    "Müller",
    "Kowalski",
    "Haddad",
    "Novak",
    "Rossi",
    "Dubois",
    "Kim",
    "Patel",
    "O'Brien",
    "Fernández",
    "Mensah",
    "Jensen",
    "Costa",
    "Ivanova",
    "Schmidt",
    "Tanaka",
    "Silva",
    "Ahmed",
    "Larsen",
    "Moreau",
    "Nguyen",
    "Horvath",
    "Santos",
    "Bauer",
    "Yilmaz",
    "Weber",
    "Kaur",
    "Petrov",
    "Laine",
    "Romero",
    "Adeyemi",
    "Berg",
    "Castro",
    "Varga",
    "Mbeki",
    "Sato",
    "Lopez",
    "Fischer",
    "Ortiz",
    "Novotná",
    "Reyes",
    "Hoffmann",
    "Chowdhury",
    "Eriksen",
]

# department -> (share of people, titles, manager title)
DEPARTMENTS: dict[str, tuple[float, tuple[str, ...], str]] = {
    "Engineering": (
        0.38,
        (
            "Software Engineer",
            "Senior Software Engineer",
            "Software Engineer",
            "Site Reliability Engineer",
            "Data Engineer",
        ),
        "Engineering Manager",
    ),
    "IT": (0.08, ("IT Administrator", "Security Engineer"), "Head of IT"),
    "Finance": (0.08, ("Accountant", "Financial Analyst"), "Controller"),
    "Sales": (0.18, ("Account Executive", "Sales Development Rep"), "Sales Director"),
    "Support": (0.12, ("Support Engineer", "Support Specialist"), "Support Lead"),
    "Marketing": (0.10, ("Marketing Manager", "Content Writer"), "Head of Marketing"),
    "People": (0.06, ("People Partner", "Recruiter"), "Head of People"),
}
LOCATIONS = ("Berlin", "Lisbon", "Toronto", "Remote")


@dataclass
class Person:
    employee_id: str
    first: str
    last: str
    email: str
    department: str
    title: str
    manager_id: str | None
    worker_type: str  # Workday: Employee / Contingent Worker
    status: str  # Workday: Active / Terminated / Leave of Absence
    hire_date: date
    termination_date: date | None
    location: str
    cost_center: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class AccessKey:
    active: bool
    created: datetime
    last_used: datetime | None = None
    service: str | None = None
    region: str | None = None


@dataclass
class IamUser:
    name: str
    created: datetime
    groups: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    inline: dict[str, dict[str, object]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    password: bool = False
    password_changed: datetime | None = None
    password_last_used: datetime | None = None
    mfa: bool = False
    keys: list[AccessKey] = field(default_factory=list)
    boundary: str | None = None
    last_accessed: dict[str, datetime | None] | None = None
    """IAM Access Advisor's view: service namespace -> last use (None: never), when exported."""


@dataclass
class IamRole:
    name: str
    created: datetime
    trust: dict[str, object]
    attached: list[str]
    last_used: datetime | None


@dataclass(frozen=True)
class Planted:
    """A problem put there on purpose: the demo must find it."""

    rule_id: str
    login: str
    what: str
    system: str = "aws"


@dataclass
class Company:
    as_of: datetime
    people: list[Person]
    users: list[IamUser]
    roles: list[IamRole]
    planted: list[Planted]
    exceptions: list[dict[str, object]]
    overrides: list[dict[str, object]]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("'", "").lower()


class _Builder:
    def __init__(self, n: int, seed: int, as_of: datetime):
        self.rng = random.Random(seed)
        self.n = n
        self.as_of = as_of
        self.today = as_of.date()
        self.people: list[Person] = []
        self.users: list[IamUser] = []
        self.planted: list[Planted] = []
        self.exceptions: list[dict[str, object]] = []
        self.overrides: list[dict[str, object]] = []
        self._emails: set[str] = set()
        # Every e-mail local part is a login already; special logins must not collide.
        self._logins: set[str] = set()

    def ago(self, days: float, jitter_hours: int = 8) -> datetime:
        hours = self.rng.randint(0, jitter_hours) if jitter_hours else 0
        moment = self.as_of - timedelta(days=days, hours=hours)
        return moment.replace(microsecond=0)

    def build(self) -> Company:
        self._people()
        self._aws_users()
        return Company(
            as_of=self.as_of,
            people=self.people,
            users=self.users,
            roles=self._roles(),
            planted=self.planted,
            exceptions=self.exceptions,
            overrides=self.overrides,
        )

    # --- HR ------------------------------------------------------------------------------

    def _people(self) -> None:
        rng = self.rng
        ceo = self._person("Executive", "Chief Executive Officer", None, hire_days=2400)
        heads: dict[str, Person] = {}
        for dept, (_, _, manager_title) in DEPARTMENTS.items():
            heads[dept] = self._person(dept, manager_title, ceo.employee_id, hire_days=1800)
        remaining = self.n - len(self.people)
        weights = [share for share, _, _ in DEPARTMENTS.values()]
        for i in range(remaining):
            # The first ones are spread evenly so that a small company has every department.
            dept = (
                list(DEPARTMENTS)[i]
                if i < len(DEPARTMENTS)
                else rng.choices(list(DEPARTMENTS), weights)[0]
            )
            titles = DEPARTMENTS[dept][1]
            title = titles[0] if i < len(DEPARTMENTS) else rng.choice(titles)
            self._person(dept, title, heads[dept].employee_id, hire_days=rng.randint(30, 1500))

    def _person(self, dept: str, title: str, manager: str | None, hire_days: int) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{_ascii(first)}.{_ascii(last)}"
        email, k = f"{local}@{DOMAIN}", 2
        while email in self._emails:
            email, k = f"{local}{k}@{DOMAIN}", k + 1
        self._emails.add(email)
        self._logins.add(email.split("@")[0])
        person = Person(
            employee_id=f"E{1001 + len(self.people)}",
            first=first,
            last=last,
            email=email,
            department=dept,
            title=title,
            manager_id=manager,
            worker_type="Contingent Worker" if rng.random() < 0.08 and manager else "Employee",
            status="Active",
            hire_date=self.today - timedelta(days=hire_days),
            termination_date=None,
            location=rng.choice(LOCATIONS),
            cost_center=f"CC-{100 + list(DEPARTMENTS).index(dept) if dept in DEPARTMENTS else 99}",
        )
        self.people.append(person)
        return person

    # --- AWS -----------------------------------------------------------------------------

    def _groups_for(self, p: Person) -> list[str]:
        if p.department == "Engineering":
            groups = ["Developers", "ReadOnly"]
            if p.title.startswith("Site Reliability"):
                groups.append("SRE")
            if p.title.startswith("Data"):
                groups.append("Data-Analysts")
            return groups
        if p.department == "IT":
            if p.title.startswith("Security"):
                return ["Security-Audit", "ReadOnly"]
            if p.title.startswith("IT Administrator"):
                return ["Admins", "ReadOnly"]
            return ["ReadOnly"]
        if p.department == "Finance":
            return ["Finance-Billing"]
        return []

    def _normal_user(self, p: Person, login: str | None = None) -> IamUser:
        rng = self.rng
        created = self.ago(min((self.today - p.hire_date).days, rng.randint(20, 900)))
        user = IamUser(
            name=login or p.email.split("@")[0],
            created=created,
            groups=self._groups_for(p),
        )
        tag_style = rng.random()
        if tag_style < 0.7:
            user.tags = {"employee_id": p.employee_id, "team": p.department.lower()}
        elif tag_style < 0.85:
            user.tags = {"email": p.email}
        if rng.random() < 0.85 or p.department == "IT":
            user.password = True
            user.password_changed = self.ago(rng.randint(5, 80))
            user.password_last_used = self.ago(rng.randint(0, 20))
            user.mfa = True
        if p.department == "Engineering" and rng.random() < 0.6:
            user.keys.append(
                AccessKey(
                    active=True,
                    created=self.ago(rng.randint(5, 80)),
                    last_used=self.ago(rng.randint(0, 6)),
                    service=rng.choice(["s3", "ec2", "lambda", "cloudformation", "sts"]),
                    region=rng.choice(["eu-central-1", "us-east-1"]),
                )
            )
        if not user.password and not user.keys:
            # Everyone with AWS access uses it somehow; a user with neither is a leaver's.
            user.keys.append(AccessKey(True, self.ago(30), self.ago(1), "s3", "eu-central-1"))
        return user

    def _count(self, rate: float) -> int:
        return max(1, round(rate * self.n))

    def _aws_users(self) -> None:
        rng = self.rng
        aws_people = [
            p
            for p in self.people
            if p.department in ("Engineering", "IT")
            or (p.department == "Finance" and p.title != "Accountant")
        ]
        engineers = [p for p in aws_people if p.department == "Engineering"]
        it_admins = [p for p in aws_people if p.title == "IT Administrator"]
        rng.shuffle(engineers)
        pool = iter(engineers)
        passed_over: list[Person] = []
        by_person: dict[str, IamUser] = {}
        for p in aws_people:
            by_person[p.employee_id] = self._normal_user(p)

        def take(k: int, wanted: str | None) -> list[Person]:
            """The next k engineers, each not already holding ``wanted`` through their role."""

            def fits(p: Person) -> bool:
                return wanted is None or wanted not in by_person[p.employee_id].groups

            out: list[Person] = []
            while len(out) < k:
                candidate = next((p for p in passed_over if fits(p)), None)
                if candidate is not None:
                    passed_over.remove(candidate)
                else:
                    candidate = next(pool, None)
                    if candidate is None:
                        break
                    if not fits(candidate):
                        passed_over.append(candidate)
                        continue
                out.append(candidate)
            return out

        # (share of the company, the group it adds, what it does)
        scenarios: list[tuple[float, str | None, Callable[[Person, IamUser], None]]] = [
            (0.02, None, self._leaver_still_active),
            (0.01, None, self._leaver_cleaned_up),
            (0.01, None, self._old_key),
            (0.01, None, self._unused_key),
            (0.01, None, self._no_mfa),
            (0.01, "Finance-Billing", self._excess_group),
            (0.005, None, self._excess_admin_policy),
            (0.005, "Data-Analysts", self._approved_exception),
            (0.005, "Data-Analysts", self._expired_exception),
            (0.005, None, self._on_leave),
            (0.005, None, self._name_only_match),
            (0.005, None, self._linked_by_hand),
            (0.005, None, self._keys_for_anyone),
        ]
        for rate, wanted, apply in scenarios:
            for p in take(self._count(rate), wanted):
                apply(p, by_person[p.employee_id])
        for p in it_admins[: self._count(0.005)]:
            self._dormant_admin(p, by_person[p.employee_id])
        security = [p for p in aws_people if p.title == "Security Engineer"]
        for p in security[: self._count(0.005)]:
            self._unused_services(p, by_person[p.employee_id])
        self.users = list(by_person.values())
        for i in range(self._count(0.01)):
            self._orphan(i)
        self._service_accounts()
        self.users.sort(key=lambda u: u.name)

    def _leaver_still_active(self, p: Person, u: IamUser) -> None:
        p.status = "Terminated"
        p.termination_date = self.today - timedelta(days=40 + self.rng.randint(0, 20))
        u.password, u.mfa = True, True
        u.password_changed = self.ago(150)
        u.password_last_used = self.ago((self.today - p.termination_date).days + 3)
        u.keys = [AccessKey(True, self.ago(200), self.ago(12), "s3", "eu-central-1")]
        self.planted.append(
            Planted(
                "leaver-active-access",
                u.name,
                f"{p.name} left on {p.termination_date}; console and a key still active, "
                "the key used after they left",
            )
        )

    def _leaver_cleaned_up(self, p: Person, u: IamUser) -> None:
        p.status = "Terminated"
        p.termination_date = self.today - timedelta(days=20)
        u.password, u.mfa, u.password_last_used, u.password_changed = False, False, None, None
        u.keys = [AccessKey(False, self.ago(300), self.ago(21), "s3", "eu-central-1")]

    def _old_key(self, p: Person, u: IamUser) -> None:
        u.keys = [AccessKey(True, self.ago(400), self.ago(1), "s3", "eu-central-1")]
        self.planted.append(Planted("stale-access-key", u.name, "access key 400 days old"))

    def _unused_key(self, p: Person, u: IamUser) -> None:
        u.keys = [AccessKey(True, self.ago(120), None)]
        self.planted.append(
            Planted("stale-access-key", u.name, "access key never used in 120 days")
        )

    def _no_mfa(self, p: Person, u: IamUser) -> None:
        u.password, u.mfa = True, False
        u.password_changed, u.password_last_used = self.ago(60), self.ago(2)
        self.planted.append(Planted("mfa-missing", u.name, "console password, no MFA device"))

    def _excess_group(self, p: Person, u: IamUser) -> None:
        u.groups.append("Finance-Billing")
        self.planted.append(
            Planted("excess-access", u.name, "engineer in Finance-Billing with no exception")
        )

    def _excess_admin_policy(self, p: Person, u: IamUser) -> None:
        u.attached.append("AdministratorAccess")
        self.planted.append(
            Planted("excess-access", u.name, "AdministratorAccess attached directly to a developer")
        )

    def _keys_for_anyone(self, p: Person, u: IamUser) -> None:
        # Meant as "manage your own keys", written without the ${aws:username} resource.
        u.inline["self-service-credentials"] = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys"],
                    "Resource": "*",
                }
            ],
        }
        self.planted.append(
            Planted(
                "aws-privilege-escalation",
                u.name,
                "may create access keys for any user, admins included",
            )
        )

    def _unused_services(self, p: Person, u: IamUser) -> None:
        # ReadOnly lets them read EC2 and S3 (and IAM, which Access Advisor leaves out);
        # they only ever read S3.
        u.last_accessed = {"s3": self.ago(2), "ec2": None}
        self.planted.append(
            Planted("unused-privilege", u.name, "never used EC2, which it may read")
        )

    def _approved_exception(self, p: Person, u: IamUser) -> None:
        u.groups.append("Data-Analysts")
        self.exceptions.append(
            {
                "person": p.employee_id,
                "system": "aws",
                "entitlement": "group:Data-Analysts",
                "approver": f"head.of.data@{DOMAIN}",
                "reason": "Builds the revenue dashboards this quarter",
                "expires": self.today + timedelta(days=60),
                "ticket": "SEC-1042",
            }
        )

    def _expired_exception(self, p: Person, u: IamUser) -> None:
        u.groups.append("Data-Analysts")
        self.exceptions.append(
            {
                "person": p.email,
                "system": "aws",
                "entitlement": "group:Data-Analysts",
                "approver": f"head.of.data@{DOMAIN}",
                "reason": "Migration of the reporting jobs",
                "expires": self.today - timedelta(days=10),
                "ticket": "SEC-987",
            }
        )
        self.planted.append(
            Planted("excess-access", u.name, "Data-Analysts held on an exception that expired")
        )

    def _on_leave(self, p: Person, u: IamUser) -> None:
        p.status = "Leave of Absence"

    def _name_only_match(self, p: Person, u: IamUser) -> None:
        # An old-style login that matches no e-mail, and no employee id tag: only the name
        # (with its accents and in "Last, First" order) links it, at low confidence.
        u.name = self._unique_login(f"{_ascii(p.first)[0]}{_ascii(p.last)}-ops")
        u.tags = {"name": f"{p.last}, {p.first}"}

    def _unique_login(self, wanted: str) -> str:
        login, k = wanted, 2
        while login in self._logins:
            login, k = f"{wanted}{k}", k + 1
        self._logins.add(login)
        return login

    def _linked_by_hand(self, p: Person, u: IamUser) -> None:
        u.name = self._unique_login(f"sandbox-{_ascii(p.first)}")
        u.tags = {}
        self.overrides.append(
            {
                "system": "aws",
                "account": u.name,
                "person": p.employee_id,
                "reason": "Personal sandbox created before the naming convention",
            }
        )

    def _dormant_admin(self, p: Person, u: IamUser) -> None:
        u.password, u.mfa = True, True
        u.password_changed, u.password_last_used = self.ago(400), self.ago(200)
        u.keys = []
        u.created = self.ago(700)
        self.planted.append(
            Planted("dormant-account", u.name, "Admins member who has not signed in for 200 days")
        )

    def _orphan(self, i: int) -> None:
        name = "temp-contractor-2024" if i == 0 else f"temp-contractor-{2024 + i}"
        self.users.append(
            IamUser(
                name=name,
                created=self.ago(380),
                groups=["Developers"],
                password=True,
                password_changed=self.ago(380),
                password_last_used=self.ago(9),
                mfa=True,
            )
        )
        self.planted.append(Planted("orphan-account", name, "nobody in HR, not declared"))

    def _service_accounts(self) -> None:
        self.users.append(
            IamUser(
                name="ci-deployer",
                created=self.ago(500),
                groups=["Deployers"],
                keys=[
                    AccessKey(True, self.ago(30), self.ago(0.2), "cloudformation", "eu-central-1")
                ],
                tags={"owner": f"platform@{DOMAIN}"},
            )
        )
        self.users.append(
            IamUser(
                name="breakglass-admin",
                created=self.ago(600),
                groups=["Admins"],
                password=True,
                password_changed=self.ago(600),
                mfa=True,
                tags={"owner": f"security@{DOMAIN}"},
            )
        )

    def _roles(self) -> list[IamRole]:
        def trust(principal: dict[str, str]) -> dict[str, object]:
            return {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
                ],
            }

        roles = [
            IamRole(
                "OrganizationAccountAccessRole",
                self.ago(900),
                trust({"AWS": "arn:aws:iam::111122223333:root"}),
                ["AdministratorAccess"],
                self.ago(3),
            ),
            IamRole(
                "app-lambda-exec",
                self.ago(300),
                trust({"Service": "lambda.amazonaws.com"}),
                ["DataLakeRead"],
                self.ago(0.5),
            ),
            IamRole(
                "legacy-batch-role",
                self.ago(500),
                trust({"Service": "ec2.amazonaws.com"}),
                ["PowerUserAccess"],
                None,
            ),
        ]
        self.planted.append(
            Planted("dormant-account", "legacy-batch-role", "role never used in 500 days")
        )
        return roles


def build_company(people: int, seed: int, as_of: datetime | None = None) -> Company:
    moment = as_of or datetime.combine(date.today(), time(9, 0), tzinfo=UTC)
    return _Builder(people, seed, moment.astimezone(UTC)).build()
