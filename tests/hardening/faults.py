"""The fault matrix's shared parts: which faults, what each system is expected to make of them,
and a small company whose ``iam-gov run`` reads one faulty live system beside a healthy one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from iam_gov.timeutil import utcnow

Outcome = Literal["complete", "incomplete", "failed"]

# Short limits, so that a cell ends in a second or two: the faults are what is slow, not us.
TIMEOUT = 0.5
"""Seconds the clients wait for one answer in the ``timeout`` cells."""
HELD = 2.0
"""Seconds a ``timeout`` fault holds its answer back: past ``TIMEOUT``."""
RETRIES = 1
"""Retries the clients are configured with: every fault that is retried meets RETRIES + 1
requests, then the system gives up on that call."""
STORM_DEADLINE = 1.5
"""Okta's collect deadline in the 429-storm cells: Okta waits out every 429 (up to ten times
per call), so the deadline is what ends a storm there."""
OKTA_MAX_RATE_LIMIT_WAITS = 10
"""``connectors/okta/client.py``: waits for a reset per call before it gives up."""


@dataclass(frozen=True)
class Expect:
    """What one system makes of one fault: the outcome, the words the reason must hold, and
    how many requests the faulty endpoint may meet (``requests``: exactly; ``at_most``)."""

    outcome: Outcome
    reason: tuple[str, ...] = ()
    requests: int | None = None
    at_most: int | None = None


FAULTS = (
    "timeout",
    "http-500",
    "http-500-once",
    "http-503-once",
    "reset",
    "reset-once",
    "truncated-json",
    "repeated-page",
    "missing-page",
    "429-storm-reset-header",
    "429-storm-no-header",
)
"""Every fault of the matrix. ``-once``: transient, a retry would mend it."""

TRIES = RETRIES + 1
EXPECTED: dict[str, dict[str, Expect]] = {
    # Okta: every 5xx and every lost answer is retried with backoff; a listing page that fails
    # for good stops that listing (incomplete, with the reason); 429s wait for the reset.
    "okta": {
        "timeout": Expect("incomplete", ("listing stopped", "timed out"), TRIES),
        "http-500": Expect("incomplete", ("HTTP 500", f"after {TRIES} attempts"), TRIES),
        "http-500-once": Expect("complete", (), 1),
        "http-503-once": Expect("complete", (), 1),
        "reset": Expect("incomplete", ("listing stopped", "no response"), TRIES),
        "reset-once": Expect("complete", (), 1),
        "truncated-json": Expect("incomplete", ("listing stopped", "not JSON"), 1),
        "repeated-page": Expect("incomplete", ("repeats an earlier page",), 1),
        "missing-page": Expect("incomplete", ("listing stopped", "HTTP 404"), 1),
        "429-storm-reset-header": Expect(
            "failed", ("deadline", "HTTP 429 E0000047"), at_most=OKTA_MAX_RATE_LIMIT_WAITS + 1
        ),
        "429-storm-no-header": Expect(
            "failed", ("deadline", "HTTP 429 E0000047"), at_most=OKTA_MAX_RATE_LIMIT_WAITS + 1
        ),
    },
    # Graph: 429, 503, 504 and lost answers are retried (Retry-After, else backoff); a 500 is
    # not (Graph's guidance): the list stops there, with the users read before it. (Three lost
    # answers in a row would take the server to be gone and fail the system: tests/connectors/
    # entra/test_fail_fast.py.)
    "graph": {
        "timeout": Expect(
            "incomplete", ("ReadTimeout", f"no answer after {TRIES} attempts"), TRIES
        ),
        "http-500": Expect("incomplete", ("500", "users after it are missing"), 1),
        "http-500-once": Expect("incomplete", ("500", "users after it are missing"), 1),
        "http-503-once": Expect("complete", (), 1),
        "reset": Expect(
            "incomplete", (f"no answer after {TRIES} attempts", "users after it"), TRIES
        ),
        "reset-once": Expect("complete", (), 1),
        "truncated-json": Expect("incomplete", ("not a JSON object", "users after it"), 1),
        "repeated-page": Expect("incomplete", ("RepeatedPage", "already read"), 1),
        "missing-page": Expect("incomplete", ("404", "users after it are missing"), 1),
        "429-storm-reset-header": Expect("incomplete", ("429", "users after it"), TRIES),
        "429-storm-no-header": Expect("incomplete", ("429", "users after it"), TRIES),
    },
    # HR live: one request for the whole report; it is read whole or not at all. 429, 502,
    # 503, 504 and lost answers are retried, a 500 is not.
    "hr": {
        "timeout": Expect("failed", ("cannot be reached", "ReadTimeout"), TRIES),
        "http-500": Expect("failed", ("HTTP 500",), 1),
        "http-500-once": Expect("failed", ("HTTP 500",), 1),
        "http-503-once": Expect("complete", (), 1),
        "reset": Expect("failed", ("cut off", f"after {TRIES} attempt"), TRIES),
        "reset-once": Expect("complete", (), 1),
        "truncated-json": Expect("failed", ("not valid JSON", "cut off"), 1),
        "429-storm-reset-header": Expect("failed", ("HTTP 429", f"after {TRIES} attempt"), TRIES),
        "429-storm-no-header": Expect("failed", ("HTTP 429", f"after {TRIES} attempt"), TRIES),
    },
}
"""HR has no pages: a repeated or missing page cannot happen to one request."""

CELLS = [(system, fault) for system, faults in EXPECTED.items() for fault in faults]


# --- a small company ---------------------------------------------------------------------------

LEFT_ON = utcnow().date() - timedelta(days=14)
"""The leaver's last day: two weeks ago, whenever the tests run."""


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    email: str
    status: str = "active"
    end_date: date | None = None


def hr_csv(people: list[Employee]) -> str:
    lines = ["employee_id,name,email,department,status,end_date"]
    for p in people:
        end = p.end_date.isoformat() if p.end_date else ""
        lines.append(f"{p.employee_id},{p.name},{p.email},Engineering,{p.status},{end}")
    return "\n".join(lines) + "\n"


POLICY = """\
version: 1
roles: []
"""


def write_company(root: Path, systems: str) -> Path:
    """The configuration (store, policy, correlation, deprovisioning guards) with ``systems``
    (TOML sections); returns the configuration file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    config = root / "iam-gov.toml"
    config.write_text(
        f"""[store]
url = "sqlite:///{root / "iam-gov.db"}"

[policy]
path = "policy.yaml"

[correlation]
match = ["employee_id", "email"]

[deprovision]
max_snapshot_age_hours = 24
max_accounts = 25

[drift]
reports_folder = "reports"

{systems}""",
        encoding="utf-8",
    )
    return config
