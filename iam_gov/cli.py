"""The ``iam-gov`` command."""

from __future__ import annotations

import atexit
import enum
import functools
import gc
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from iam_gov.cli_campaign import campaign_app
from iam_gov.cli_common import (
    config_from_options,
    err,
    open_store,
    options,
    out,
    policy_of,
    reads_records,
    store_exists,
    store_failure,
)
from iam_gov.cli_config import config_check_command
from iam_gov.cli_deprovision import deprovision_command
from iam_gov.cli_drift import baseline_app, drift_command
from iam_gov.cli_export import export_command
from iam_gov.cli_leavers import leavers_app
from iam_gov.cli_problems import problems_command
from iam_gov.cli_webhook import hr_webhook_command
from iam_gov.errors import IamGovError
from iam_gov.exitcodes import EXIT_STALE, data_code, worst

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection

    from iam_gov.collect import CollectResult
    from iam_gov.config import Config
    from iam_gov.evaluation import EvaluationReport
    from iam_gov.model import Finding
    from iam_gov.policy import Policy
    from iam_gov.policy_lint import LintProblem
    from iam_gov.store.findings import FindingFilter
    from iam_gov.store.snapshots import StaleInfo

app = typer.Typer(
    help="Identity and access governance: who has what access, should they, and who said so?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
samples_app = typer.Typer(help="Demo and test companies.", no_args_is_help=True)
policy_app = typer.Typer(help="The policy: roles, privileges, exceptions.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")
app.add_typer(samples_app, name="samples")
app.add_typer(policy_app, name="policy")


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file [env IAM_GOV_CONFIG; default ./iam-gov.toml].",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Store URL, overriding the configuration [env IAM_GOV_DATABASE_URL].",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    options.config = config
    options.database_url = database_url
    options.debug = debug


app.add_typer(campaign_app, name="campaign")
app.command("deprovision")(deprovision_command)
app.command("hr-webhook")(hr_webhook_command)
app.add_typer(leavers_app, name="leavers")
app.command("drift")(reads_records(drift_command))
app.add_typer(baseline_app, name="baseline")
app.command("problems")(reads_records(problems_command))
app.command("export")(export_command)


# --- collect / evaluate / run -------------------------------------------------------------

SystemOption = Annotated[
    list[str] | None,
    typer.Option("--system", "-s", help="Only this system (repeatable). Default: all configured."),
]
AcceptHrDrop = Annotated[
    bool,
    typer.Option(
        "--accept-hr-drop",
        help="Store an HR export with far fewer people than the last (max_drop): the drop "
        "is real, not a file cut short.",
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress on standard error (a live display on a terminal, otherwise a "
        "timestamped line per system and phase): only the results.",
    ),
]


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    """Progress on standard error while the work runs, never on standard output: Rich's
    display when standard error is a terminal, the plain line log otherwise (cron)."""
    if quiet:
        yield
        return
    from iam_gov import progress

    shown: progress.Reporter = (
        progress.RichDisplay(err)
        if err.is_terminal and not err.is_dumb_terminal
        else progress.LineLog()
    )
    with progress.use(shown):
        yield


@app.command()
def collect(
    system: SystemOption = None, accept_hr_drop: AcceptHrDrop = False, quiet: QuietOption = False
) -> None:
    """Collect every configured system (or those named) into the store.

    Each system is stored as it is read. One that cannot be read keeps its previous snapshot
    as the latest (marked stale); the others are stored all the same. Exit codes: 0 every
    system complete; 4 a system's snapshot is incomplete (each unknown part is listed with
    its consequence); 5 a system could not be collected; 2 the command itself failed.
    """
    from iam_gov.collect import collect_each
    from iam_gov.reports.summary import incomplete_text, problems_text, snapshots_table
    from iam_gov.store.snapshots import snapshots_by_id, stale_systems

    config = config_from_options()  # collecting needs neither the policy nor HR (`run` does)
    with _progress(quiet), open_store(config) as store:
        result = collect_each(config, store, system, accept_hr_drop=accept_hr_drop)
        with store.reading() as conn:
            by_id = {
                i.id: i for i in snapshots_by_id(conn, [c.snapshot_id for c in result.collected])
            }
            stale = stale_systems(conn) if result.failed else {}
    _report_collect_failures(result, stale, config)
    infos = [by_id[c.snapshot_id] for c in result.collected]
    if infos:
        out.print(snapshots_table(infos))
    problems = problems_text(infos)
    if problems is not None:
        out.print(problems)
    partial = incomplete_text(infos, hr_system=config.hr_system_or_none)
    if partial is not None:
        out.print(partial, soft_wrap=True)
    code = data_code(incomplete=result.incomplete(), failed=result.failed)
    if code:
        sys.exit(code)


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="As the store knew it at TIME: a date (2026-11-30, the end of that day, UTC) or "
        "a date and time (2026-11-30T17:00, UTC unless a zone is given). Nothing is recorded.",
        show_default=False,
    ),
]


def _as_of(value: str | None) -> datetime | None:
    """The moment ``--as-of`` names; a bad or future value is a usage error naming it."""
    from iam_gov.timeutil import parse_as_of

    if value is None:
        return None
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise IamGovError(f"--as-of: {exc}") from None


def _print_as_of(report: EvaluationReport) -> None:
    """What an evaluation as of a moment says before its summary: that nothing was recorded,
    which data it used, and each system it could not evaluate for want of data by then."""
    from iam_gov.textsafe import printable
    from iam_gov.timeutil import as_of_words

    assert report.as_of is not None
    when = as_of_words(report.as_of)
    out.print(
        Text.assemble(
            (f"as of {when}: not recorded", "bold"),
            " (the finding history and the audit log are unchanged). Each system's data is "
            "its newest snapshot collected at or before then; the policy and the correlation "
            "overrides are today's files.",
        ),
        soft_wrap=True,
    )
    for name, why in report.not_evaluated.items():
        out.print(
            Text.assemble(("NOT EVALUATED: ", "bold red"), printable(f"{name}: {why}")),
            soft_wrap=True,
        )


def _print_as_of_footer(report: EvaluationReport) -> None:
    from iam_gov.timeutil import as_of_words

    assert report.as_of is not None
    out.print(
        Text(
            f"New and resolved compare with the findings the recorded history had open "
            f"as of {as_of_words(report.as_of)} (`iam-gov findings --as-of`).",
            style="dim",
        ),
        soft_wrap=True,
    )


@app.command()
def evaluate(as_of: AsOfOption = None, quiet: QuietOption = False) -> None:
    """Correlate accounts to people and evaluate the policy on the latest snapshots.

    With --as-of TIME: on each system's newest snapshot collected at or before TIME, with the
    HR moves and the closed reviews' decisions of then; printed, not recorded.
    """
    from iam_gov.evaluation import evaluate as do_evaluate
    from iam_gov.reports.summary import run_summary

    moment = _as_of(as_of)
    config = config_from_options()
    policy = policy_of(config)
    with _progress(quiet), open_store(config) as store:
        report = do_evaluate(store, config, policy, as_of=moment)
    if report.as_of is not None:
        _print_as_of(report)
    out.print(run_summary(report))
    if report.as_of is not None:
        _print_as_of_footer(report)


@app.command()
def run(
    system: SystemOption = None,
    accept_hr_drop: AcceptHrDrop = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report/--no-report",
            help="Write the drift report (and send it, prune by retention) after evaluating.",
        ),
    ] = True,
    as_of: AsOfOption = None,
    quiet: QuietOption = False,
) -> None:
    """Collect, evaluate, then write the drift report and prune: the one command a scheduler
    calls.

    A system that cannot be read does not stop the run: the others are stored, the evaluation
    uses its previous snapshot (and says so), the report leads with the failure and the exit
    code is 5. Exit codes: 0 nothing new at or above [drift] fail_on; 1 new findings at or
    above it; 2 the command itself failed (configuration, policy, input, store); 3 a delivery
    failed; 4 a system's snapshot is incomplete; 5 a system could not be collected or is
    stale. When several apply, the largest wins.

    With --as-of TIME: nothing is collected (a live system cannot be read as it was), no
    drift report is written, and the evaluation as of TIME is printed, not recorded.
    """
    if as_of is not None:
        _run_as_of(as_of, system=system, accept_hr_drop=accept_hr_drop, quiet=quiet)
        return
    from iam_gov import audit
    from iam_gov.cli_drift import print_published
    from iam_gov.collect import collect_each
    from iam_gov.correlate import load_overrides
    from iam_gov.drift.compute import compute_drift
    from iam_gov.drift.publish import Published, publish
    from iam_gov.evaluation import evaluate as do_evaluate
    from iam_gov.policy_lint import lint_policy
    from iam_gov.reports.summary import run_summary
    from iam_gov.store.snapshots import stale_systems

    config = config_from_options()
    config.hr_system  # noqa: B018 -- evaluating needs HR: refused before anything is collected
    policy = policy_of(config)
    overrides = load_overrides(config.correlation.overrides)
    evaluated: EvaluationReport | None = None
    published: Published | None = None
    with _progress(quiet), open_store(config) as store:
        result = collect_each(config, store, system, accept_hr_drop=accept_hr_drop)
        with store.reading() as conn:
            stale = stale_systems(conn)
        hr = stale.get(config.hr_system)
        if config.hr_system not in result.failed or hr is None or hr.snapshot is not None:
            evaluated = do_evaluate(store, config, policy, overrides=overrides)
        lint = lint_policy(store, config, policy) if evaluated is not None else []
        if evaluated is not None and report:
            drift = compute_drift(
                store,
                config,
                policy,
                failures=[f"{name}: {f.reason}" for name, f in result.failed.items()],
                evaluated=evaluated.state,
            )
            published = publish(store, config, drift, actor=audit.current_actor())
        where = store.display_url
        with store.reading() as conn:
            anchor = audit.anchor(conn)
    _report_collect_failures(result, stale, config)
    if evaluated is not None:
        out.print(run_summary(evaluated, stale=[name for name in stale if name in config.systems]))
        _print_lint(lint)
    else:
        out.print(Text("Not evaluated: the store has no HR data yet.", style="bold red"))
    if published is not None:
        print_published(published)
    out.print(Text(f"Store: {where}", style="dim"))
    out.print(
        f"audit anchor: {anchor} — keep it outside this machine to prove the log later",
        soft_wrap=True,
        highlight=False,
    )
    code = worst(
        [
            data_code(incomplete=result.incomplete(), failed=result.failed),
            published.exit_code if published is not None else 0,
            EXIT_STALE if evaluated is None else 0,
        ]
    )
    if code:
        sys.exit(code)


def _run_as_of(value: str, *, system: list[str] | None, accept_hr_drop: bool, quiet: bool) -> None:
    """``run --as-of``: the evaluation as of then, without collecting or reporting drift."""
    from iam_gov.evaluation import evaluate as do_evaluate
    from iam_gov.reports.summary import run_summary

    if system:
        raise IamGovError("--system: nothing is collected with --as-of; leave it out")
    if accept_hr_drop:
        raise IamGovError("--accept-hr-drop: nothing is collected with --as-of; leave it out")
    moment = _as_of(value)
    config = config_from_options()
    policy = policy_of(config)
    with _progress(quiet), open_store(config) as store:
        report = do_evaluate(store, config, policy, as_of=moment)
        where = store.display_url
    out.print(
        Text(
            "run --as-of: nothing collected (a live system cannot be read as it was) and no "
            "drift report written, sent or pruned.",
            style="bold",
        ),
        soft_wrap=True,
    )
    _print_as_of(report)
    out.print(run_summary(report))
    _print_as_of_footer(report)
    out.print(Text(f"Store: {where}", style="dim"))


def _report_collect_failures(
    result: CollectResult, stale: dict[str, StaleInfo], config: Config
) -> None:
    """The systems a collect could not read: first on standard output, loudly, with the data
    used instead; one error line each on standard error (tracebacks with ``--debug``)."""
    from iam_gov.reports.summary import collect_failures_text
    from iam_gov.textsafe import printable

    if not result.failed:
        return
    reasons = {name: failed.reason for name, failed in result.failed.items()}
    tried = len(result.collected) + len(result.failed)
    out.print(
        collect_failures_text(reasons, stale, tried=tried, hr_system=config.hr_system_or_none),
        soft_wrap=True,  # one line per reason, whatever its length: a log is grepped
    )
    for name, failed in result.failed.items():
        if options.debug:
            traceback.print_exception(failed.error)
        err.print(
            Text.assemble(
                ("error: ", "bold red"), printable(f"{name}: not collected: {failed.reason}")
            ),
            soft_wrap=True,
        )


# --- findings -----------------------------------------------------------------------------


@app.command()
@reads_records
def findings(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="Output format: table, json, csv, markdown (a report), ocsf (JSON Lines), "
            "or one an installed package adds.",
        ),
    ] = "table",
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Only this rule (repeatable).")
    ] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="This severity and worse (info … critical).")
    ] = None,
    system: SystemOption = None,
    person: Annotated[
        str | None,
        typer.Option("--person", help="Only findings about this person (id, e-mail or name)."),
    ] = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Include resolved findings.")
    ] = False,
    as_of: AsOfOption = None,
) -> None:
    """The open findings of the latest evaluation.

    With --as-of TIME: those open at TIME by the recorded history (first seen by then and not
    resolved by then; with --all, also those resolved by then), as last recorded.
    """
    from iam_gov.model import Severity
    from iam_gov.reports.formats import FORMATS, FindingsReport
    from iam_gov.store.affected import findings_of_person
    from iam_gov.store.findings import FindingFilter, last_evaluation
    from iam_gov.timeutil import utcnow

    try:
        output = FORMATS.get(fmt)
    except KeyError as exc:
        raise IamGovError(f"--format: {exc.args[0]}") from None
    min_severity = None
    if severity is not None:
        try:
            min_severity = Severity(severity.lower())
        except ValueError:
            raise IamGovError(
                f"--severity: {severity!r} is not one of {', '.join(s.value for s in Severity)}"
            ) from None
    if rule:
        from iam_gov.rules import all_rules

        known = all_rules()
        for rule_id in rule:
            if rule_id not in known:
                raise IamGovError(f"--rule: {_unknown_rule(rule_id, known)}")
    moment = _as_of(as_of)
    config = config_from_options()
    with open_store(config) as store, store.reading() as conn:
        if last_evaluation(conn) is None:
            raise IamGovError("the store has no evaluation yet: run `iam-gov run` first")
        if person is not None:
            person = _employee_id(conn, person)
        where = FindingFilter(
            rules=tuple(rule or ()),
            min_severity=min_severity,
            systems=tuple(system or ()),
            person=person,
            include_resolved=include_resolved,
        )
        if moment is None:
            found = findings_of_person(conn, where)
        else:
            found = _findings_as_of(conn, moment, where)
    scope = "findings, resolved included" if include_resolved else "open findings"
    if moment is not None:
        from iam_gov.timeutil import as_of_words

        scope += f" as of {as_of_words(moment)}, by the recorded history"
    rendered = output.render(FindingsReport(found, generated_at=utcnow(), scope=scope))
    if isinstance(rendered, str):
        sys.stdout.write(rendered)
    else:
        out.print(rendered)


def _findings_as_of(conn: Connection, moment: datetime, where: FindingFilter) -> list[Finding]:
    """The findings open at ``moment`` by the recorded history, filtered as ``where`` says; a
    person's include those about a shared cause that list one of their accounts."""
    from dataclasses import replace

    from iam_gov.store.affected import affects_person
    from iam_gov.store.findings import findings_as_of
    from iam_gov.timeutil import as_of_words

    found = findings_as_of(conn, moment, replace(where, person=None))
    if found is None:
        raise IamGovError(
            f"--as-of: no evaluation had been recorded by {as_of_words(moment)}, so no finding "
            "was open then; `iam-gov evaluate --as-of` works it out from the snapshots of then"
        )
    person = where.person
    return found if person is None else [f for f in found if affects_person(f, person)]


def _employee_id(conn: Connection, query: str) -> str:
    """The employee id of the person a --person value names (id, e-mail or unique name), as
    the newest HR data knows them; an id nobody has any more is taken as given."""
    from iam_gov.explain import find_person
    from iam_gov.store.snapshots import latest_snapshots, load_snapshot

    people = {}
    for info in latest_snapshots(conn).values():
        if info.connector == "hr":
            snapshot = load_snapshot(conn, info.id, documents=False, with_grants=False)
            people.update({p.employee_id: p for p in snapshot.people})
    if query.strip() in people or not people:
        return query.strip()
    try:
        return find_person(people, query).employee_id
    except IamGovError as exc:
        from iam_gov.store.affected import findings_of_person
        from iam_gov.store.findings import FindingFilter

        gone = FindingFilter(person=query.strip(), include_resolved=True)
        if findings_of_person(conn, gone):  # someone HR no longer lists at all
            return query.strip()
        raise IamGovError(f"--person: {exc}") from None


# --- explain ------------------------------------------------------------------------------


@app.command()
@reads_records
def explain(
    person: Annotated[
        str | None,
        typer.Argument(help="Employee id, e-mail, or a name only one person has."),
    ] = None,
    as_of: AsOfOption = None,
    expected: Annotated[
        bool,
        typer.Option(
            "--expected",
            help="List what the policy expects and is therefore no finding (a declared "
            "break-glass account that is admin by design), as of the latest evaluation.",
        ),
    ] = False,
) -> None:
    """Why a person holds each grant, in every system, and what the rules say about it.

    With --as-of TIME: the person's access and findings worked out on the data as of TIME
    (each system's newest snapshot collected by then), not recorded. With --expected (and no
    person): everything the policy expects, which the rules do not report as findings.
    """
    if expected or person is None:
        if person is not None or as_of is not None:
            raise IamGovError("explain: give a person, or --expected alone")
        if not expected:
            raise IamGovError("explain: give a person (employee id, e-mail, name) or --expected")
        _explain_expected()
        return
    moment = _as_of(as_of)
    if moment is not None:
        _explain_as_of(person, moment)
        return
    from iam_gov.engine import load_state
    from iam_gov.explain import explain_person, find_person
    from iam_gov.reports.explain import expected_view, explanation_view
    from iam_gov.store.affected import findings_of_person
    from iam_gov.store.findings import FindingFilter, expected_by_policy

    config = config_from_options()
    policy = policy_of(config)
    with open_store(config) as store:
        loaded = load_state(store, config, policy)
        who = find_person(loaded.state.people, person)
        with store.reading() as conn:
            found = findings_of_person(conn, FindingFilter(person=who.employee_id))
            expected_items = expected_by_policy(conn)
    explained = explain_person(loaded.state, who, found)
    out.print(explanation_view(explained))
    theirs = {(line.system, line.account.login) for line in explained.accounts}
    mine = [
        item
        for item in expected_items
        if item.get("person_id") == who.employee_id
        or any((item.get("system"), login) in theirs for login in item.get("logins") or ())
    ]
    if mine:
        out.print(expected_view(mine, "Expected by policy"))


def _explain_expected() -> None:
    """``explain --expected``: what the latest evaluation found expected by policy."""
    from iam_gov.reports.explain import expected_view
    from iam_gov.store.findings import expected_by_policy

    config = config_from_options()
    with open_store(config) as store, store.reading() as conn:  # never creates one
        items = expected_by_policy(conn)
    out.print(expected_view(items, "Expected by policy"))


def _explain_as_of(person: str, moment: datetime) -> None:
    """``explain --as-of``: the rules run on the data as of then; nothing recorded."""
    from iam_gov.evaluation import evaluate as do_evaluate
    from iam_gov.explain import explain_person, find_person
    from iam_gov.reports.explain import explanation_view
    from iam_gov.timeutil import as_of_words

    config = config_from_options()
    policy = policy_of(config)
    with open_store(config) as store:
        report = do_evaluate(store, config, policy, as_of=moment)
    assert report.state is not None
    try:
        who = find_person(report.state.people, person)
    except IamGovError as exc:
        raise IamGovError(f"{exc} as of {as_of_words(moment)}") from None
    _print_as_of(report)
    out.print(explanation_view(explain_person(report.state, who, report.findings)))


# --- rules --------------------------------------------------------------------------------


class CatalogueFormat(enum.StrEnum):
    table = "table"
    markdown = "markdown"


@app.command()
def rules(
    rule_id: Annotated[
        str | None, typer.Argument(metavar="RULE", help="Show everything about one rule.")
    ] = None,
    fmt: Annotated[
        CatalogueFormat, typer.Option("--format", "-f", help="table or markdown.")
    ] = CatalogueFormat.table,
) -> None:
    """The rule catalogue: what each rule finds, the promise it enforces, its controls."""
    from iam_gov.reports.catalogue import catalogue_markdown, catalogue_table, rule_details
    from iam_gov.rules import all_rules

    catalogue = all_rules()
    if rule_id is not None:
        if rule_id not in catalogue:
            raise IamGovError(_unknown_rule(rule_id, catalogue))
        out.print(Text(rule_details(catalogue[rule_id])))
    elif fmt is CatalogueFormat.markdown:
        sys.stdout.write(catalogue_markdown(catalogue.values()))
    else:
        out.print(catalogue_table(catalogue.values()))


def _unknown_rule(rule_id: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(rule_id, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `iam-gov rules` lists them"
    return f"no rule {rule_id!r}{hint}"


# --- policy -------------------------------------------------------------------------------


@policy_app.command("check")
def policy_check(
    path: Annotated[
        Path | None, typer.Argument(help="Policy file or folder. Default: the configuration's.")
    ] = None,
) -> None:
    """Validate the policy; report every mistake as file:line, and what it contains."""
    from iam_gov.cli_common import refuse_unconfigured_systems
    from iam_gov.policy import exception_valid, load_policy
    from iam_gov.rules import all_rules
    from iam_gov.timeutil import utcnow

    config = config_from_options() if path is None else _config_or_none_quiet()
    if path is None:
        assert config is not None
        path = config.policy.path
    policy = load_policy(path, rules=all_rules())
    if config is not None:
        refuse_unconfigured_systems(policy, config)
    lint = _lint(config, policy) if config is not None else []
    today = utcnow().date()
    expired = [e for e in policy.exceptions if not exception_valid(e.item, today)]
    soon = [
        e
        for e in policy.exceptions
        if exception_valid(e.item, today) and (e.item.expires - today).days <= 30
    ]
    out.print(
        Text.assemble(("policy OK", "bold green"), f": {', '.join(map(str, policy.sources))}")
    )
    out.print(f"  roles:       {len(policy.roles)}")
    out.print(
        f"  privileged:  {sum(len(v) for v in policy.privileged.values())} entitlement patterns"
    )
    out.print(
        f"  exceptions:  {len(policy.exceptions)} "
        f"({len(expired)} expired, {len(soon)} expiring within 30 days)"
    )
    out.print(f"  accounts:    {len(policy.accounts)} declared service or break-glass")
    out.print(f"  separation:  {len(policy.separation_of_duties)} separation-of-duties rules")
    out.print(f"  rules set:   {', '.join(sorted(policy.rules)) or 'none (all defaults)'}")
    for located in expired:
        exc = located.item
        out.print(
            Text(
                f"  warning: exception at {located.where} expired on {exc.expires}", style="yellow"
            )
        )
    _print_lint(lint)


def _lint(config: Config, policy: Policy) -> list[LintProblem]:
    """What the policy names that the latest snapshots do not have: an unconfigured system
    is an error; a pattern that matches nothing, a warning (none before anything is stored)."""
    from iam_gov.errors import PolicyError
    from iam_gov.policy_lint import lint_policy

    if not store_exists(config):
        return []
    with open_store(config) as store:
        lint = lint_policy(store, config, policy)
    errors = [str(p) for p in lint if p.severity == "error"]
    if errors:
        raise PolicyError(errors)
    return lint


def _print_lint(lint: list[LintProblem]) -> None:
    from iam_gov.textsafe import printable

    for problem in lint:
        out.print(Text(f"  warning: {printable(problem)}", style="yellow"), soft_wrap=True)


def _config_or_none_quiet() -> Config | None:
    """The configuration if one can be found, for cross-checks; a policy alone is fine too."""
    from iam_gov.config import find_config

    path = find_config(options.config)
    return config_from_options() if path.exists() else None


# --- audit --------------------------------------------------------------------------------


@audit_app.command("verify")
@reads_records
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            help=(
                "An anchor kept elsewhere, SEQ:HASH (as `run` and `audit verify` print it): "
                "record SEQ must still have HASH, proving the log up to it unchanged even "
                "after newer records. A bare HASH must be the newest record's."
            )
        ),
    ] = None,
) -> None:
    """Walk the hash chain from the first record; name the first one that was tampered with."""
    from iam_gov import audit

    anchor = None if expect_head is None else audit.Anchor.parse(expect_head)
    config = _config_or_none()
    with open_store(config) as store, store.reading() as conn:
        result = audit.verify(conn, expect_head=anchor)
    if not result.ok:
        raise AuditBroken(f"audit log BROKEN: {result.problem}")
    if result.records == 0:  # a mistyped store must not pass as an intact, empty log
        raise IamGovError(f"the audit log of {store.display_url} is empty: nothing to verify")
    out.print(
        Text.assemble(
            ("audit log OK", "bold green"),
            f": {result.records} records, chain intact; newest record's hash {result.head_hash}",
            f" (anchor {result.anchor})" if anchor is None else f"; matches anchor {anchor}",
        ),
        soft_wrap=True,
    )


class AuditBroken(IamGovError):
    exit_code = 3


@audit_app.command("log")
@reads_records
def audit_log(
    limit: Annotated[int, typer.Option(help="How many of the newest records.")] = 20,
) -> None:
    """The newest audit records."""
    from rich.table import Table

    from iam_gov import audit
    from iam_gov.textsafe import printable

    config = _config_or_none()
    with open_store(config) as store, store.reading() as conn:
        records = audit.records(conn, limit=limit)
    table = Table(title="Audit log (newest first)", title_justify="left")
    for column in ("#", "when (UTC)", "actor", "action", "target", "details"):
        table.add_column(column)
    for r in records:
        details = Text(printable(", ".join(f"{k}={v}" for k, v in sorted(r.details.items()))))
        if r.unreadable is not None:
            details = Text.assemble(
                ("UNREADABLE DETAILS", "bold red"),
                f" (stored: {printable(r.unreadable)}; `iam-gov audit verify` names the record)",
            )
        table.add_row(
            str(r.seq),
            r.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(printable(r.actor)),
            r.action,
            Text(printable(r.target)),
            details,
        )
    out.print(table)


def _config_or_none() -> Config | None:
    """The audit log can be read with only a database URL (an auditor's machine)."""
    from iam_gov.config import DATABASE_URL_ENV

    if options.database_url or os.environ.get(DATABASE_URL_ENV):
        return None
    return config_from_options()


# --- config -------------------------------------------------------------------------------


config_app.command("check")(config_check_command)


# --- samples ------------------------------------------------------------------------------


@samples_app.command("generate")
def samples_generate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the company into.")],
    people: Annotated[int, typer.Option(help="How many people.", min=5)] = 50,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same company.")
    ] = 7,
    access_density: Annotated[
        int,
        typer.Option(
            help="Tool groups (each with an app) per department in Okta, AD and Entra: "
            "about 4 more grants a person for each (benchmarks use 4: 30 a person).",
            min=0,
        ),
    ] = 0,
    store: Annotated[
        str,
        typer.Option(help="The SQLite file the company's configuration names, relative to it."),
    ] = "iam-gov.db",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the sample's files in a folder that is not empty (a symbolic link "
            "there is still refused).",
        ),
    ] = False,
) -> None:
    """Write a fictional company (HR export, AWS export, policy, config) with planted problems.

    The folder must be new or empty (or --force); a symbolic link is never followed."""
    from iam_gov.samplegen import generate

    written = generate(
        out_dir, people=people, seed=seed, access_density=access_density, store=store, force=force
    )
    out.print(
        f"wrote {len(written)} files to {out_dir}; "
        f"try: iam-gov --config {out_dir / 'iam-gov.toml'} run"
    )


# --- entry point --------------------------------------------------------------------------


def add_plugin_commands() -> None:
    """The commands other packages add (``iam_gov.commands`` entry points: `iam-gov review`)."""
    from iam_gov.cli_common import COMMANDS

    known = {command.name for command in app.registered_commands}
    for name, function in COMMANDS.all().items():
        if name not in known:
            app.command(name=name)(function)


def _exit_for_click(exc: Exception) -> None:
    """Click's abort and usage errors, raised by a plugin command that uses click itself,
    shown as click shows them. Click is looked for, never imported: Typer has its own copy,
    so only a plugin that raised click's exception has loaded it."""
    click = sys.modules.get("click")
    if click is None:
        return
    if isinstance(exc, click.exceptions.Abort):
        err.print("aborted")
        sys.exit(130)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code)


GC_THRESHOLDS = (200_000, 20, 10)
"""The cyclic garbage collector's thresholds while a command runs. A command builds a hundred
thousand long-lived objects (modules, classes, validators, the snapshot) and little cyclic
garbage: at Python's default (700, 10, 10) the collector walks them about 250 times, a tenth
of a short command's time. Unreachable cycles are still collected, every 200,000 new
objects instead of every 700 (a large run's memory is the same)."""


def main() -> None:
    """The ``iam-gov`` command (``python -m iam_gov``)."""
    with _collector_for_a_command():
        _main()


@contextmanager
def _collector_for_a_command() -> Iterator[None]:
    """The command runs with ``GC_THRESHOLDS``; the caller's come back after it without a
    collection on the way out (what is tracked moves to the oldest generation, collected
    with it as usual); and at exit, Python's last full collection is skipped."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    _freeze_at_exit()
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*previous)
        gc.unfreeze()


@functools.cache
def _freeze_at_exit() -> None:
    """At exit, Python walks every object still there (the snapshot, the evaluated state:
    about a tenth of a short command) for cycles to free, when the process is ending anyway:
    the store and every file are closed by then. Frozen first, they are left alone."""
    atexit.register(gc.freeze)


def _main() -> None:
    try:
        add_plugin_commands()
        code = app(standalone_mode=False)
    except IamGovError as exc:
        _print_error(exc)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:
        # Typer's own copy of click's usage errors (a bad value for an option with choices):
        # a user's mistake, shown as click shows it, not an internal error
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(Text(f"error: {exc}"))
        code = getattr(exc, "exit_code", 2)
        sys.exit(code if isinstance(code, int) else 2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, not a user mistake: say so in one line
        _exit_for_click(exc)  # a plugin command's own click error (Typer has its own copy)
        failure = store_failure(exc)  # the disk full, the server gone: one line, exit 2
        if failure is not None:
            _print_error(failure)
            sys.exit(failure.exit_code)
        if options.debug:
            traceback.print_exc()
        else:
            err.print(
                Text(
                    f"internal error: {type(exc).__name__}: {exc} "
                    "(run with --debug for the traceback)"
                )
            )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


def _print_error(exc: IamGovError) -> None:
    from iam_gov.textsafe import printable

    if options.debug:
        traceback.print_exc()
    lines = str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        err.print(Text.assemble(("error: ", "bold red"), printable(line)), soft_wrap=True)
