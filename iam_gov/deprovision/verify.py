"""After a run: read the systems acted on again (a regular collect, stored as their latest
snapshot) and report any access the run meant to end that is still there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iam_gov.config import Config
from iam_gov.errors import IamGovError
from iam_gov.model import AccountStatus, ActionKind
from iam_gov.store import Store
from iam_gov.textsafe import printable

from .outcome import ConnectorFactory, StepResult
from .plan import Plan


def verify_run(
    store: Store,
    config: Config,
    plan: Plan,
    results: Sequence[StepResult],
    factory: ConnectorFactory,
) -> tuple[list[str], list[str]]:
    """(access still present, systems that could not be read again), each in sentences."""
    from iam_gov.collect import collect
    from iam_gov.store.snapshots import load_snapshot

    acted = [r for r in results if r.outcome in {"done", "noop"}]
    still: list[str] = []
    unverified: list[str] = []
    for system in sorted({r.step.action.system for r in acted}):
        try:
            stored = collect(config, store, [system], factory=factory)[0]
        except IamGovError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            unverified.append(f"{system}: could not be read again: {printable(first)}")
            continue
        with store.reading() as conn:
            snapshot = load_snapshot(conn, stored.snapshot_id, documents=False)
        if not snapshot.complete:
            unverified.append(
                f"{system}: read again, but incompletely ({len(snapshot.errors)} problem(s)): "
                "what it did not show is not known to be gone"
            )
        accounts = {a.native_id: a for a in snapshot.accounts}
        credentials = {c.credential_id: c for c in snapshot.credentials}
        direct = {(g.account_id, g.entitlement_id) for g in snapshot.grants if g.via is None}
        for result in acted:
            action = result.step.action
            if action.system != system:
                continue
            what = _still_there(action, accounts, credentials, direct)
            if what:
                still.append(f"{system}: {printable(result.step.account_login)}: {what}")
    return still, unverified


def _still_there(
    action: Any,
    accounts: dict[str, Any],
    credentials: dict[str, Any],
    direct: set[tuple[str, str]],
) -> str | None:
    kind = action.kind
    if kind in {ActionKind.DISABLE_ACCOUNT, ActionKind.SUSPEND_ACCOUNT}:
        account = accounts.get(action.account_id)
        if account is not None and account.status is AccountStatus.ACTIVE:
            return "the account is still active"
        if account is not None and account.attributes.get("connected") == "true":
            return "a session is still connected"
    elif kind is ActionKind.DEACTIVATE_CREDENTIAL:
        credential = credentials.get(action.credential_id or "")
        if credential is not None and credential.active:
            return f"credential {printable(action.credential_id)} is still active"
    elif (
        kind is ActionKind.REMOVE_GRANT
        and (action.account_id, action.entitlement_id or "") in direct
    ):
        return f"still holds {printable(action.entitlement_id)}"
    return None
