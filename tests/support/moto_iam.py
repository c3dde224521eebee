"""moto's IAM made faithful where the tests rely on it: its credential report leaves out the
``<root_account>`` row that real IAM always writes first, so a report from the fake would look
cut short. The patch applies to every backend in this process, which is where
``ThreadedMotoServer`` keeps them (a thread of the test process, not a subprocess)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moto.iam.models import IAMBackend

ROOT_CREATED = "2015-01-01T00:00:00+00:00"
"""When moto's account "was created": before anything a test makes in it."""


def root_row(backend: IAMBackend) -> str:
    """The root user's row as IAM writes it: ``not_supported`` password fields (the root
    user always has a password), never signed in here, MFA as the account summary says, no
    access keys or signing certificates (moto cannot give the root user any)."""
    mfa = bool(backend.get_account_summary().summary_map["AccountMFAEnabled"])
    fields = [
        "<root_account>",
        f"arn:{backend.partition}:iam::{backend.account_id}:root",
        ROOT_CREATED,
        "not_supported",  # password_enabled
        "no_information",  # password_last_used
        "not_supported",  # password_last_changed
        "not_supported",  # password_next_rotation
        "true" if mfa else "false",
        *("false", "N/A", "N/A", "N/A", "N/A"),  # access key 1
        *("false", "N/A", "N/A", "N/A", "N/A"),  # access key 2
        *("false", "N/A", "false", "N/A"),  # certificates
    ]
    return ",".join(fields)


@contextmanager
def faithful_credential_report() -> Iterator[None]:
    """While open, moto's credential report starts with the root user's row."""
    from moto.iam.models import IAMBackend

    original: Callable[[IAMBackend], str] = IAMBackend.get_credential_report

    def get_credential_report(self: IAMBackend) -> str:
        report = original(self)  # ReportNotPresentException before one is generated
        header, _, rows = report.partition("\n")
        if "\n<root_account>," in f"\n{rows}":
            return report  # a moto that learnt to write it
        return f"{header}\n{root_row(self)}\n{rows}"

    IAMBackend.get_credential_report = get_credential_report  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMBackend.get_credential_report = original  # type: ignore[method-assign,assignment]
