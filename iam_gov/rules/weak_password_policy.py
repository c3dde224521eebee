"""A system whose password policy is below the policy's minimums, or that has none at all."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from iam_gov.engine.state import EvaluationState
from iam_gov.model import Severity
from iam_gov.rules._common import days
from iam_gov.rules.registry import Evidence, Hit, RuleParams, rule

CHARACTER_CLASSES = ("uppercase", "lowercase", "numbers", "symbols")
_AWS_CLASSES = {
    "uppercase": "RequireUppercaseCharacters",
    "lowercase": "RequireLowercaseCharacters",
    "numbers": "RequireNumbers",
    "symbols": "RequireSymbols",
}


class Params(RuleParams):
    min_length: int = Field(14, ge=1, description="Shortest password allowed.")
    require_uppercase: bool = True
    """Passwords must contain an upper-case letter."""
    require_lowercase: bool = True
    """Passwords must contain a lower-case letter."""
    require_numbers: bool = True
    """Passwords must contain a digit."""
    require_symbols: bool = True
    """Passwords must contain a symbol."""
    max_age_days: int | None = Field(
        None,
        ge=1,
        description="Passwords expire at least this often; None: no rotation is required "
        "(NIST SP 800-63B advises against forced rotation).",
    )
    reuse_prevention: int = Field(
        12, ge=0, description="Previous passwords the system remembers and refuses."
    )
    lockout_threshold: int | None = Field(
        10,
        ge=1,
        description="Failed sign-ins after which the account locks, at most; None: not judged.",
    )


@dataclass(frozen=True)
class PasswordPolicy:
    """A system's password policy in one form, whatever the system calls things. None for a
    value means the system does not say (it is then not judged)."""

    source: str
    min_length: int | None
    history: int | None
    """Previous passwords remembered; 0: none."""
    max_age_days: int | None
    """None: passwords never expire."""
    max_age_known: bool
    lockout_threshold: int | None
    """Failed sign-ins before the account locks; 0: never locks; None: not known."""
    complexity: bool | None
    """A rule on character classes (AD: three of four kinds) without saying which ones."""
    classes: dict[str, bool] | None
    """Which character classes are required, when the system names them (AWS, Okta)."""


def normalize(raw: Mapping[str, Any]) -> PasswordPolicy | None:
    """The normalized form the LDAP and Okta connectors store (``source`` key), or AWS's own
    keys (``MinimumPasswordLength`` …); None when it is neither."""
    if "source" in raw:
        return PasswordPolicy(
            source=str(raw["source"]),
            min_length=_int(raw.get("min_length")),
            history=_int(raw.get("history")),
            max_age_days=_int(raw.get("max_age_days")),
            # A key left out is unknown; None is "never expire".
            max_age_known="max_age_days" in raw,
            lockout_threshold=_int(raw.get("lockout_threshold")),
            complexity=raw.get("complexity") if isinstance(raw.get("complexity"), bool) else None,
            classes=_classes(raw.get("classes")),
        )
    if "MinimumPasswordLength" not in raw:
        return None
    return PasswordPolicy(
        source="aws",
        min_length=_int(raw.get("MinimumPasswordLength")),
        # AWS leaves PasswordReusePrevention out when reuse is not prevented.
        history=_int(raw.get("PasswordReusePrevention")) or 0,
        # MaxPasswordAge is there only when passwords expire (ExpirePasswords: true).
        max_age_days=_int(raw.get("MaxPasswordAge")) or None,
        max_age_known=True,
        lockout_threshold=None,  # IAM has no lockout setting: not judged
        complexity=None,
        classes={name: raw.get(key) is True for name, key in _AWS_CLASSES.items()},
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _classes(value: Any) -> dict[str, bool] | None:
    if not isinstance(value, Mapping):
        return None
    return {name: value.get(name) is True for name in CHARACTER_CLASSES}


class PasswordPolicyEvidence(Evidence):
    source: str | None
    policy: str | None = None
    """The policy's name, on a system with several in force (Okta)."""
    stated: dict[str, Any] | None
    """As the snapshot states it: AWS's keys, or the LDAP or Okta connector's normalized
    form."""
    normalized: dict[str, Any] | None
    shortfalls: list[str]
    required: dict[str, Any]


@rule(
    id="weak-password-policy",
    title="Weak password policy",
    severity=Severity.MEDIUM,
    control="Strong password policies are enforced on every system people sign in to.",
    soc2=("CC6.1",),
    iso27001=("A.5.17", "A.8.5"),
    remediation=(
        "Raise the system's password policy to the minimums (AWS: IAM account settings; AD: "
        "the Default Domain Policy GPO; OpenLDAP: the default ppolicy entry), and phase "
        "passwords out in favour of SSO with MFA where the system allows it."
    ),
)
def weak_password_policy(state: EvaluationState, params: Params) -> Iterator[Hit]:
    """One finding per password policy that is known and falls short: too short a
    minimum length, character classes not required (AD's complexity setting, three of four
    kinds, counts for all four), previous passwords not remembered, passwords that expire
    too rarely (only when ``max_age_days`` is set), accounts that lock too late or never.
    High when the system has no password policy at all (AWS without one applies its
    default: 8 characters). A system with one policy gets one finding; one with several in
    force gets one for each that falls short, naming it and whom it applies to (Okta: every
    active policy applies to its groups, the Default Policy to everyone else, so fixing the
    weakest leaves the others as weak as they were; AD: each fine-grained password policy
    (PSO), with how many accounts it is in force for, beside the domain's own). Systems that
    do not report their policy are not judged, and neither are settings a system does not
    have (AWS IAM has no lockout).

    ```yaml
    rules:
      weak-password-policy:
        min_length: 12
        require_symbols: false
        max_age_days: 365
        lockout_threshold: 5
    ```
    """
    required = params.model_dump()
    for view in state.systems.values():
        several = view.settings.get("password_policies")
        if isinstance(several, list):
            for raw in several:
                if isinstance(raw, Mapping):
                    hit = _judge(view.name, raw, params, required, several=True)
                    if hit is not None:
                        yield hit
        if "password_policy" not in view.settings:
            continue
        raw = view.settings["password_policy"]
        if raw is None:
            default = (
                " (AWS then requires only 8 characters of three kinds, and never expires or "
                "remembers passwords)"
                if view.info.connector == "aws"
                else ""
            )
            yield Hit(
                subject=f"{view.name}:password-policy",
                system=view.name,
                severity=Severity.HIGH,
                message=f"{view.name} has no password policy{default}.",
                evidence=PasswordPolicyEvidence(
                    source=None,
                    stated=None,
                    normalized=None,
                    shortfalls=["no password policy"],
                    required=required,
                ),
            )
            continue
        hit = _judge(view.name, raw, params, required) if isinstance(raw, Mapping) else None
        if hit is not None:
            yield hit


def _judge(
    system: str,
    raw: Mapping[str, Any],
    params: Params,
    required: dict[str, Any],
    several: bool = False,
) -> Hit | None:
    """The finding on one policy, if it falls short. ``several``: one of the system's
    policies in force, told apart by its id and name."""
    policy = normalize(raw)
    if policy is None:
        return None
    shortfalls = _shortfalls(policy, params)
    if not shortfalls:
        return None
    subject, which, name = f"{system}:password-policy", f"of {system}", None
    if several:
        # The id keeps the finding when the policy is renamed; the sentence names it.
        name = str(raw.get("name") or raw.get("id"))
        subject += f":{raw.get('id') or name}"
        which = f'"{name}" of {system}{_whom(raw)}'
    return Hit(
        subject=subject,
        system=system,
        message=f"The password policy {which} falls short: {'; '.join(shortfalls)}.",
        evidence=PasswordPolicyEvidence(
            source=policy.source,
            policy=name,
            stated=dict(raw),
            normalized=asdict(policy),
            shortfalls=shortfalls,
            required=required,
        ),
    )


def _whom(raw: Mapping[str, Any]) -> str:
    """`` (for group Contractors)``: whom a policy applies to, as far as the system says."""
    if raw.get("default") is True:
        return " (the default, for everyone no other policy covers)"
    accounts = raw.get("accounts")
    if isinstance(accounts, int) and not isinstance(accounts, bool):
        return _covering(raw, accounts)
    groups = raw.get("groups")
    if isinstance(groups, list) and groups:
        names = [str(g) for g in groups]
        return f" (for {'group' if len(names) == 1 else 'groups'} {_and(names)})"
    return ""


def _covering(raw: Mapping[str, Any], accounts: int) -> str:
    """`` (precedence 10, in force for 3 accounts, through group Contractors and user bob)``:
    an AD fine-grained policy, with the accounts it is the effective policy of."""
    parts = []
    precedence = raw.get("precedence")
    if isinstance(precedence, int) and not isinstance(precedence, bool):
        parts.append(f"precedence {precedence}")
    parts.append(
        "in force for no account now"
        if accounts == 0
        else f"in force for {accounts} account{'s' if accounts != 1 else ''}"
    )
    through = []
    for key, word in (("groups", "group"), ("users", "user")):
        names = raw.get(key)
        if isinstance(names, list) and names:
            through.append(f"{word}{'s' if len(names) > 1 else ''} {_and([str(n) for n in names])}")
    if through:
        parts[-1] += f", through {' and '.join(through)}"
    return f" ({', '.join(parts)})"


def _shortfalls(policy: PasswordPolicy, params: Params) -> list[str]:
    out = []
    if policy.min_length is not None and policy.min_length < params.min_length:
        out.append(
            f"passwords may be {policy.min_length} characters long "
            f"(at least {params.min_length} required)"
        )
    wanted = [c for c in CHARACTER_CLASSES if getattr(params, f"require_{c}")]
    if wanted and policy.classes is not None:
        missing = [c for c in wanted if not policy.classes.get(c)]
        if missing:
            out.append(f"{_and(missing)} are not required")
    elif wanted and policy.complexity is False:
        out.append(f"no complexity rule: {_and(wanted)} are not required")
    if params.max_age_days is not None and policy.max_age_known:
        if policy.max_age_days is None:
            out.append(f"passwords never expire (at most {days(params.max_age_days)} required)")
        elif policy.max_age_days > params.max_age_days:
            out.append(
                f"passwords expire after {days(policy.max_age_days)} "
                f"(at most {days(params.max_age_days)} required)"
            )
    if policy.history is not None and policy.history < params.reuse_prevention:
        out.append(
            f"{policy.history} previous passwords are remembered "
            f"({params.reuse_prevention} required)"
        )
    limit = params.lockout_threshold
    if limit is not None and policy.lockout_threshold is not None:
        if policy.lockout_threshold == 0:
            out.append(
                f"accounts never lock after failed sign-ins (after at most {limit} required)"
            )
        elif policy.lockout_threshold > limit:
            out.append(
                f"accounts lock after {policy.lockout_threshold} failed sign-ins "
                f"(at most {limit} required)"
            )
    return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
