"""The demo company's findings, pinned: every planted problem is found (tests/test_demo.py) and
nothing else is. A rule that starts reporting more, or less, changes this list on purpose."""

from __future__ import annotations

from pathlib import Path

from iam_gov.collect import collect
from iam_gov.config import load_config
from iam_gov.evaluation import evaluate
from iam_gov.policy import load_policy
from iam_gov.rules import all_rules
from iam_gov.store import Store

DEMO = Path(__file__).resolve().parent.parent / "samples" / "demo"

# (rule_id, subject) of every finding of samples/demo, as `make demo` evaluates it.
PINNED = {
    ("aws-admin-equivalent", "aws:arn:aws:iam::210987654321:group/Admins"),
    ("aws-admin-equivalent", "aws:arn:aws:iam::210987654321:root"),
    ("aws-admin-equivalent", "aws:arn:aws:iam::aws:policy/AdministratorAccess"),
    # the admin role AWS Organizations creates trusts the management account: outside the
    # (single) account the demo collects
    (
        "aws-external-access",
        "aws:arn:aws:iam::210987654321:role/OrganizationAccountAccessRole:external-access",
    ),
    (
        "aws-privilege-escalation",
        "aws:arn:aws:iam::210987654321:user/liam.varga#inline/self-service-credentials:iam-create-access-key:arn:aws:iam::210987654321:user/breakglass-admin",
    ),
    (
        "aws-grant-to-others",
        "aws:arn:aws:iam::210987654321:user/liam.varga#inline/self-service-credentials:grant-to-others",
    ),
    ("crl-expiring", "openvpn:crl-expiry"),
    ("dormant-account", "ad:f08582a8-5af1-5131-b983-a902c018ca60"),
    ("dormant-account", "aws:arn:aws:iam::210987654321:role/legacy-batch-role"),
    ("dormant-account", "aws:arn:aws:iam::210987654321:user/jakub.novotna"),
    ("dormant-account", "okta:00u362e094be29c549eb"),
    ("dormant-account", "openvpn:arjun.laine"),
    ("duplicate-accounts", "ad:E1033:accounts"),
    (
        "excess-access",
        "ad:f6804be3-8a8a-5299-86cc-40a5c43b5706:027497d8-693f-59d8-af4f-62d46af73529",
    ),
    (
        "excess-access",
        "aws:arn:aws:iam::210987654321:user/chloe.eriksen:arn:aws:iam::aws:policy/AdministratorAccess",
    ),
    (
        "excess-access",
        "aws:arn:aws:iam::210987654321:user/hana.sato:arn:aws:iam::210987654321:group/Finance-Billing",
    ),
    (
        "excess-access",
        "aws:arn:aws:iam::210987654321:user/liam.varga:arn:aws:iam::210987654321:user/liam.varga#inline/self-service-credentials",
    ),
    (
        "excess-access",
        "aws:arn:aws:iam::210987654321:user/lucas.dubois:arn:aws:iam::210987654321:group/Data-Analysts",
    ),
    ("excess-access", "okta:00u700b6446408e5dbca:0oacb3b0fe7cf855ab6a"),
    ("excess-access", "okta:00uc63130bd7210554bb:role:ORG_ADMIN"),
    ("excess-access", "okta:00ucd43fe93aff35216a:0oacb3b0fe7cf855ab6a"),
    ("excess-access", "openvpn:mira.bauer:vpn:corp-vpn"),
    (
        "expired-exception",
        "aws:arn:aws:iam::210987654321:user/lucas.dubois:exception:group:Data-Analysts:2026-11-17",
    ),
    ("expiring-certificate", "openvpn:malik.romero#cert-10D6"),
    ("leaver-active-access", "aws:arn:aws:iam::210987654321:user/erik.reyes"),
    ("leaver-active-access", "entra:f25c2b8c-455d-5bf9-aef7-0d60358e5b72"),
    ("leaver-active-access", "okta:00u4281f8ca861857eeb"),
    ("leaver-active-access", "openvpn:soren.adeyemi"),
    ("leaver-active-access", "wireguard:NGJbJZADIu/8fHAhMymmeSbJRUpVGAuWu55YGQwrkUs="),
    ("mfa-missing", "aws:arn:aws:iam::210987654321:user/liam.adeyemi"),
    ("mfa-missing", "entra:ecc023a6-1b39-5936-829a-ada453a2488a"),
    ("mfa-missing", "okta:00u1817886620395e449"),
    ("missing-birthright", "ad:E1027:missing"),
    ("multiple-valid-certificates", "openvpn:E1017:certificates"),
    ("orphan-account", "ad:fde62af8-4fa7-5a74-8183-db7647be93fc"),
    ("orphan-account", "aws:arn:aws:iam::210987654321:user/temp-contractor-2024"),
    ("orphan-account", "entra:7df29405-6f15-563b-b541-05e3d783bc9c"),
    ("orphan-account", "wireguard:59FoRd020XtjoI0oRbtlL7Yy5Zsw/k8sUkXzZ7y+nAk="),
    (
        "privileged-access",
        "ad:bcee8fe2-43b3-59bf-8d91-0248a4cfeaf7:027497d8-693f-59d8-af4f-62d46af73529:privileged",
    ),
    ("revocation-not-enforced", "openvpn:crl"),
    ("shared-account", "aws:arn:aws:iam::210987654321:user/temp-contractor-2024"),
    ("sod-conflict", "sod:pay-and-change-code:E1004"),
    ("stale-access-key", "aws:arn:aws:iam::210987654321:user/erik.reyes#access_key_1"),
    ("stale-access-key", "aws:arn:aws:iam::210987654321:user/iris.rossi#access_key_1"),
    ("stale-access-key", "aws:arn:aws:iam::210987654321:user/lea.petrov#access_key_1"),
    ("unused-privilege", "aws:arn:aws:iam::210987654321:role/legacy-batch-role:unused-services"),
    ("unused-privilege", "aws:arn:aws:iam::210987654321:user/erik.lopez:unused-services"),
    ("vpn-without-mfa", "openvpn:vpn-authentication"),
    ("vpn-without-mfa", "wireguard:vpn-authentication"),
    ("weak-password-policy", "ad:password-policy"),
    ("weak-password-policy", "okta:password-policy:00pb992e346209e5b50b"),
}


def test_the_demo_finds_exactly_the_pinned_findings(tmp_path: Path) -> None:
    config = load_config(DEMO / "iam-gov.toml")
    with Store.open(f"sqlite:///{tmp_path}/iam-gov.db") as store:
        collect(config, store)
        report = evaluate(store, config, load_policy(config.policy.path, rules=all_rules()))

    found = [(f.rule_id, f.subject) for f in report.findings]
    assert len(found) == len(set(found)), "two findings share a rule and subject"
    unexpected = sorted(set(found) - PINNED)
    missing = sorted(PINNED - set(found))
    assert not unexpected and not missing, (
        "the demo's findings changed (update PINNED if that is intended):\n"
        + "".join(f"  + {rule_id} {subject}\n" for rule_id, subject in unexpected)
        + "".join(f"  - {rule_id} {subject}\n" for rule_id, subject in missing)
    )
