"""The SQL of a launch: staging each system's items, numbering them in review order.

Written for SQLite and PostgreSQL alike; where they differ (aggregating strings, booleans) the
dialect picks the spelling. Every value from the data is a bound parameter or a column, never
text pasted into the statement."""

from __future__ import annotations

from iam_gov.campaigns.definition import CampaignDefinition, Precertify, ReviewerRule
from iam_gov.campaigns.population_tables import HIGH, SEVERITY_BY_RANK

NOT_SELF = "({who} IS NOT NULL AND {who} <> COALESCE(i.person_email, ''))"
FALLBACK = "CAST(:fallback AS VARCHAR(320))"
REVIEWER = f"""CASE
        WHEN {NOT_SELF.format(who="i.reviewer")} THEN i.reviewer
        WHEN i.reviewer IS NOT NULL AND {NOT_SELF.format(who="i.manager_email")}
            THEN i.manager_email
        WHEN {NOT_SELF.format(who=FALLBACK)} THEN {FALLBACK}
    END"""
"""Who reviews an item: the rule's reviewer; for the reviewer's own access their manager;
the fallback reviewer when neither; never the person themself."""
REVIEWER_RULE = f"""CASE
        WHEN {NOT_SELF.format(who="i.reviewer")} THEN i.reviewer_rule
        WHEN i.reviewer IS NOT NULL AND {NOT_SELF.format(who="i.manager_email")}
            THEN 'self-review: manager'
        WHEN i.reviewer IS NOT NULL THEN 'self-review: fallback'
        ELSE 'fallback'
    END"""
"""Which rule chose the reviewer, as ``REVIEWER`` decides."""

LEAVER = (
    "(tp.status = 'terminated' AND (tp.end_date IS NULL OR tp.end_date < :on))"
    " OR (tp.end_date IS NOT NULL AND tp.end_date < :on)"
)


def accounts_sql(dialect: str, definition: CampaignDefinition) -> str:
    """One system's accounts with what every item of theirs shares: the person (their HR
    fields, roles, manager, whether they left by this system's day) and what the policy and
    the findings say of the whole account. Looked up once per account here, not once per
    grant in ``staging_sql``. A scope of people or departments keeps only their accounts."""
    false, true = ("FALSE", "TRUE") if dialect == "postgresql" else ("0", "1")
    people_only = (
        f" AND tp.in_scope = {true}"
        if definition.scope.people or definition.scope.departments
        else ""
    )
    return f"""
INSERT INTO tmp_review_accounts (
system, account_id, login, status, last_login_at, kind, person_id, person_rank, name, email,
department, title, roles_key, mover, manager_email, in_scope, leaver, a_explanation, a_owner,
a_rules, a_rank)
SELECT
:system, a.native_id, a.login, a.status, a.last_login_at, COALESCE(l.kind, 'human'),
tp.person_id, tp.person_rank, tp.name, tp.email, tp.department, tp.title, tp.roles_key,
COALESCE(tp.mover, {false}), tp.manager_email, COALESCE(tp.in_scope, {false}),
CASE WHEN tp.person_id IS NULL THEN {false} ELSE ({LEAVER}) END,
xa.explanation, xa.owner, xa.rules, COALESCE(xa.severity_rank, 0)
FROM accounts a
LEFT JOIN account_links l
ON l.evaluation_id = :evaluation AND l.system = :system AND l.account_id = a.native_id
LEFT JOIN tmp_review_people tp ON tp.person_id = l.person_id
LEFT JOIN tmp_review_facts xa
ON xa.system = :system AND xa.account_id = a.native_id AND xa.entitlement_id = ''
WHERE a.snapshot_id = :sid{people_only}
"""


def grouped_sql(dialect: str) -> str:
    """One system's grants grouped by (account, entitlement): the groups it comes through
    (names and ids), whether it is also held directly, when it was last used. Needs nothing
    from Python, so the database does it while Python works out the policy's share."""
    order = "COALESCE(ve.name, g.via), g.via"
    groups, group_ids = (
        (
            f"string_agg(CASE WHEN g.via <> '' THEN COALESCE(ve.name, g.via) END, ', ' "
            f"ORDER BY {order})",
            f"string_agg(CASE WHEN g.via <> '' THEN g.via END, chr(10) ORDER BY {order})",
        )
        if dialect == "postgresql"
        else (
            "group_concat(CASE WHEN g.via <> '' THEN COALESCE(ve.name, g.via) END, ', ')",
            "group_concat(CASE WHEN g.via <> '' THEN g.via END, char(10))",
        )
    )
    direct = "bool_or(g.via = '')" if dialect == "postgresql" else "max(g.via = '')"
    return f"""
INSERT INTO tmp_review_grouped (account_id, entitlement_id, groups, group_ids, direct, used)
SELECT g.account_id, g.entitlement_id, {groups}, {group_ids}, {direct}, max(g.last_used_at)
FROM grants g
LEFT JOIN entitlements ve ON ve.snapshot_id = g.snapshot_id AND ve.entitlement_id = g.via
WHERE g.snapshot_id = :sid
GROUP BY g.account_id, g.entitlement_id
"""


def staging_sql(dialect: str, definition: CampaignDefinition) -> str:
    """One system's items into the staging table: every fact the review needs, per
    (account, entitlement), from the snapshot, the evaluation and the temporary tables."""
    # held through exactly one group (its id has no line break): a role that brings the group
    # explains the grant
    one_group = (
        "strpos(gg.group_ids, chr(10)) = 0"
        if dialect == "postgresql"
        else "instr(gg.group_ids, char(10)) = 0"
    )
    true, false = ("TRUE", "FALSE") if dialect == "postgresql" else ("1", "0")
    scope = definition.scope
    where = [f"te.in_scope = {true}"]
    if scope.people or scope.departments:
        where.append(f"ta.in_scope = {true}")
    if scope.account_kinds:
        kinds = ", ".join(f"'{k.value}'" for k in scope.account_kinds)
        where.append(f"ta.kind IN ({kinds})")
    if scope.privileged_only:
        where.append(f"te.privileged = {true}")
    if scope.findings_only:
        where.append("(xg.rules IS NOT NULL OR ta.a_rules IS NOT NULL)")
    if scope.leavers_only:
        where.append(f"ta.leaver = {true}")
    if scope.movers_only:
        where.append(f"ta.mover = {true}")
    if scope.grants:
        where.append(
            "EXISTS (SELECT 1 FROM tmp_review_grants tg WHERE tg.system = :system "
            "AND tg.account_id = gg.account_id AND tg.entitlement_id = gg.entitlement_id)"
        )
    owner_rule = definition.reviewers.rule
    if owner_rule is ReviewerRule.NAMED:
        reviewer = ":named"
        rule = "'named'"
    elif owner_rule is ReviewerRule.OWNER:
        reviewer = "te.owner"
        rule = "'owner'"
    else:
        reviewer = "COALESCE(ta.manager_email, ta.a_owner)"
        rule = "CASE WHEN ta.manager_email IS NOT NULL THEN 'manager' ELSE 'owner' END"
    in_role = (
        f"(rg.role IS NOT NULL OR gg.direct = {false} OR xg.explanation IS NOT NULL "
        "OR ta.a_explanation IS NOT NULL)"
    )
    unused = (
        "(COALESCE(gg.used, ta.last_login_at) IS NOT NULL "
        "AND COALESCE(gg.used, ta.last_login_at) < :unused_before)"
    )
    rank = (
        "CASE WHEN COALESCE(xg.severity_rank, 0) > ta.a_rank "
        "THEN xg.severity_rank ELSE ta.a_rank END"
    )
    columns = (
        "sid, system, account_id, acct, person_rank, entitlement_id, ent_key, via, via_ids, "
        "direct, privileged, leaver, mover, in_role, role_only, explanation, last_used_at, "
        "unused, roles_key, finding_rules, finding_rank"
    )
    # the inner SELECT finds the rule's reviewer; the outer one never lets it be the person
    return f"""
INSERT INTO tmp_review_items ({columns}, reviewer, reviewer_rule)
SELECT {", ".join(f"i.{c.strip()}" for c in columns.split(","))}, {REVIEWER}, {REVIEWER_RULE}
FROM (
SELECT
:sid AS sid, :system AS system, gg.account_id AS account_id, ta.acct AS acct,
ta.person_rank AS person_rank, gg.entitlement_id AS entitlement_id, te.ent_key AS ent_key,
COALESCE(gg.groups, '') AS via,
COALESCE(gg.group_ids, '') AS via_ids,
gg.direct AS direct,
te.privileged AS privileged,
ta.leaver AS leaver,
ta.mover AS mover,
{in_role} AS in_role,
(rg.role IS NOT NULL OR rv.role IS NOT NULL) AS role_only,
CASE
    WHEN rg.role IS NOT NULL THEN rg.role
    WHEN gg.direct = {false} THEN 'through ' || gg.groups
        || COALESCE(', which ' || rv.role || ' brings', '')
    WHEN xg.explanation IS NOT NULL THEN xg.explanation
    WHEN ta.a_explanation IS NOT NULL THEN ta.a_explanation
    ELSE 'no role, exception or declaration explains it'
END AS explanation,
COALESCE(gg.used, ta.last_login_at) AS last_used_at,
{unused} AS unused,
ta.roles_key AS roles_key,
COALESCE(xg.rules || ',' || ta.a_rules, xg.rules, ta.a_rules, '') AS finding_rules,
{rank} AS finding_rank,
{reviewer} AS reviewer,
{rule} AS reviewer_rule,
ta.email AS person_email,
ta.manager_email AS manager_email
FROM tmp_review_grouped gg
JOIN tmp_review_accounts ta ON ta.system = :system AND ta.account_id = gg.account_id
JOIN tmp_review_entitlements te ON te.system = :system AND te.entitlement_id = gg.entitlement_id
LEFT JOIN tmp_review_role_grants rg
ON rg.roles_key = ta.roles_key AND rg.system = :system
AND rg.entitlement_id = gg.entitlement_id
LEFT JOIN tmp_review_role_grants rv
ON gg.direct = {false} AND {one_group}
AND rv.roles_key = ta.roles_key AND rv.system = :system AND rv.entitlement_id = gg.group_ids
LEFT JOIN tmp_review_facts xg
ON xg.system = :system AND xg.account_id = gg.account_id
AND xg.entitlement_id = gg.entitlement_id
WHERE gg.row_id BETWEEN :first_row AND :last_row AND {" AND ".join(where)}
) i
"""


def order_sql(dialect: str, precertify: Precertify) -> str:
    """The staged items numbered in review order (leavers, then risk, then by person), with
    what each needs worked out once: its risk, whether to recommend revoking it, whether it
    launches pre-certified."""
    revoke = f"(i.leaver OR NOT i.in_role OR i.unused OR i.finding_rank >= {HIGH})"
    precertified = "FALSE" if dialect == "postgresql" else "0"
    if precertify is Precertify.ROLE_EXPLAINED:
        precertified = (
            f"(i.role_only AND NOT i.privileged AND NOT i.leaver AND NOT i.mover "
            f"AND i.finding_rank = 0 AND NOT {revoke})"
        )
    rows = f"""
FROM (
    SELECT i.row_id, i.system, i.account_id, i.entitlement_id, i.leaver,
           {risk_sql(dialect)} AS risk,
           COALESCE(i.person_rank, 2147483647) AS person_rank,
           {revoke} AS revoke, {precertified} AS pre
    FROM tmp_review_items i
) x"""
    # Ties go by the staging row: SQLite stages each system's grants in key order, so the row
    # id is that order; PostgreSQL's join may stage them in any order, so the keys decide.
    tie = "x.row_id" if dialect == "sqlite" else "x.system, x.account_id, x.entitlement_id"
    order = f"x.leaver DESC, x.risk DESC, x.person_rank, {tie}"
    if dialect == "sqlite":
        # ``n`` is the table's rowid: SQLite numbers rows 1, 2, 3 … in the order they are
        # inserted, which is the ORDER BY's (cheaper than a window function over them all).
        return f"""
INSERT INTO tmp_review_order (row_id, risk, revoke, pre)
SELECT x.row_id, x.risk, x.revoke, x.pre {rows}
ORDER BY {order}
"""
    return f"""
INSERT INTO tmp_review_order (n, row_id, risk, revoke, pre)
SELECT ROW_NUMBER() OVER (ORDER BY {order}), x.row_id, x.risk, x.revoke, x.pre {rows}
"""


def items_sql() -> str:
    """The staged items into ``campaign_items`` in review order, with their recommendation,
    reviewer and pre-certification."""
    severity = " ".join(f"WHEN {rank} THEN '{name}'" for rank, name in SEVERITY_BY_RANK.items())
    return f"""
INSERT INTO campaign_items (
campaign_id, item_id, system, account_id, account_login, account_kind, account_status,
person_id, person_name, person_email, department, title, entitlement_id, entitlement_name,
entitlement_kind, via, via_ids, direct, privileged, leaver, mover, in_role, explanation,
last_used_at, peers_holding, peers_total, finding_rules, finding_severity, risk,
recommendation, reviewer, reviewer_rule, decision, decided_by, decided_at, precertified,
version)
SELECT
:campaign_id, o.n,
i.system, i.account_id, ta.login, ta.kind, ta.status, ta.person_id,
ta.name, ta.email, ta.department, ta.title, i.entitlement_id,
te.name, te.kind, i.via, i.via_ids, i.direct, i.privileged, i.leaver, i.mover,
i.in_role, i.explanation, i.last_used_at,
COALESCE(pc.holding, 0),
COALESCE(rs.people, 0),
i.finding_rules,
CASE i.finding_rank {severity} ELSE NULL END,
o.risk,
CASE WHEN o.revoke THEN 'revoke' ELSE 'approve' END,
i.reviewer,
i.reviewer_rule,
CASE WHEN o.pre THEN 'approve' END,
CASE WHEN o.pre THEN :by END,
CASE WHEN o.pre THEN :at END,
CASE WHEN o.pre THEN :rule END,
0
FROM tmp_review_order o
JOIN tmp_review_items i ON i.row_id = o.row_id
JOIN tmp_review_accounts ta ON ta.acct = i.acct
JOIN tmp_review_entitlements te ON te.ent_key = i.ent_key
LEFT JOIN tmp_review_role_sizes rs ON rs.roles_key = i.roles_key
LEFT JOIN tmp_review_peers pc ON pc.roles_key = i.roles_key AND pc.ent_key = i.ent_key
ORDER BY o.n
"""


def risk_sql(dialect: str) -> str:
    """An item's risk from its staged flags: leavers first, then privileged, unexplained,
    unused, movers, and the worst open finding."""

    def number(flag: str) -> str:
        return f"CAST(i.{flag} AS INTEGER)" if dialect == "postgresql" else f"i.{flag}"

    return (
        f"({number('leaver')} * 100 + {number('privileged')} * 30"
        f" + (1 - {number('in_role')}) * 20 + {number('unused')} * 15"
        f" + {number('mover')} * 10 + i.finding_rank * 10)"
    )
