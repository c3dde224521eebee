"""A distinct canary in every credential setting iam-gov knows (found from the settings
models, so a new secret is covered or this fails) never shows: not in logs at any level,
standard output or error, tracebacks, files written (reports, exports, plans, evidence,
reminders), the store's tables, or a review screen; neither as written nor URL- or
base64-encoded. The commands run against the local servers answering with errors (a wrong
token, a secret quoted back, 500s) and against closed ports."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import socket
import sqlite3
import threading
import typing
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from iam_gov.config import _ConfigFile
from iam_gov.configtypes import SecretRef, looks_like_secret_key
from iam_gov.connectors import connector_types, options_model
from iam_gov.samplegen import generate
from tests.hardening.test_file_modes import Ran, iam_gov
from tests.support.graph_server import CLIENT_ID, GraphServer
from tests.support.graph_server import running_server as graph_server
from tests.support.hr_server import HRServer
from tests.support.hr_server import running_server as hr_server
from tests.support.okta_server import OktaServer, example_org
from tests.support.world import AS_OF

# --- every secret setting, from the models ---------------------------------------------------

_SECRET_LOOKING = re.compile(r"(^|_)(key|credentials?|passphrase|pin|cookie|signing_key)$")
"""Besides ``looks_like_secret_key`` (``*_password``, ``*_token``, ``*_secret`` …)."""
NOT_SECRETS = {"systems.<hr>.token_url"}
"""Settings whose name mentions a secret but that only say where one is asked for."""


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _fields(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, bool]]:
    """Every setting under ``model`` as (dotted path, whether it holds a ``SecretRef``)."""
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        models = list(_models_in(info.annotation))
        yield path, SecretRef in models
        for sub in models:
            if sub is not SecretRef:
                yield from _fields(sub, path)


def all_settings() -> dict[str, bool]:
    found = dict(_fields(_ConfigFile, ""))
    for kind in connector_types():
        found.update(_fields(options_model(kind), f"systems.<{kind}>"))
    return found


def secret_settings() -> set[str]:
    return {path for path, secret in all_settings().items() if secret}


def test_every_setting_named_like_a_secret_is_a_secret_reference() -> None:
    """A new ``api_key: str`` would sit in the file in clear text and be shown by `config
    check`: every setting whose name says secret takes a reference (env or keyring)."""
    settings = all_settings()
    assert len(secret_settings()) >= 15, "the models were not walked"
    plain = sorted(
        path
        for path, secret in settings.items()
        if not secret
        and path not in NOT_SECRETS
        and (looks_like_secret_key(name := path.rsplit(".", 1)[-1]) or _SECRET_LOOKING.search(name))
    )
    assert plain == []


# --- canaries and where to look for them -----------------------------------------------------


def _encodings(value: str) -> set[str]:
    """``value`` and how a leak may carry it: URL-encoded, base64 (at each of the three
    alignments it can have inside a longer encoded text, e.g. ``user:password``)."""
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    raw = value.encode()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw).decode().rstrip("=")
            start = (pad * 4 + 2) // 3 + (1 if pad else 0)
            forms.add(text[start:-2])
    return {form for form in forms if len(form) >= 12}


@dataclass
class Canaries:
    """One value per secret setting, each in its own environment variable."""

    values: dict[str, str] = field(default_factory=dict)
    """setting path -> the canary."""

    def env(self, path: str, patch: pytest.MonkeyPatch, value: str | None = None) -> str:
        """``{ env = "VAR" }`` for ``path``; VAR holds ``value`` or a fresh canary."""
        label = re.sub(r"[^A-Za-z0-9]", "", path)[-16:]
        canary = f"Cnry{label}x{secrets.token_hex(6)}"
        self.values[path] = canary
        variable = "IAM_GOV_CANARY_" + re.sub(r"[^A-Za-z0-9]", "_", path).upper()
        patch.setenv(variable, value.format(canary=canary) if value else canary)
        return f'{{ env = "{variable}" }}'

    def leaks(self, text: str, where: str) -> list[str]:
        return [
            f"{path} in {where}"
            for path, value in self.values.items()
            if any(form in text for form in _encodings(value))
        ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Careless(BaseHTTPRequestHandler):
    """Answers everything 500, quoting the request's headers and line back (a careless
    webhook receiver or proxy)."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        # the credentials first, as an endpoint saying which token it refused would
        headers = sorted(self.headers.items(), key=lambda kv: "token" not in kv[0].lower())
        body = f"refused: {headers!r} {self.requestline}".encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def careless() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Careless)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def okta() -> Iterator[OktaServer]:
    with OktaServer(example_org()) as server:
        yield server


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    yield from graph_server(tmp_path_factory)


@pytest.fixture(scope="module")
def hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HRServer]:
    yield from hr_server(tmp_path_factory)


@dataclass
class Evidence:
    """What the commands left: their outputs, and the folder they wrote into."""

    canaries: Canaries
    root: Path
    outputs: list[tuple[str, Ran]] = field(default_factory=list)
    screens: str = ""

    def leaks(self, caplog: pytest.LogCaptureFixture) -> list[str]:
        found: list[str] = []
        for command, ran in self.outputs:
            found += self.canaries.leaks(ran.out + ran.err, f"output of {command}")
        for record in logged(caplog):
            text = f"{logging.Formatter().format(record)} {record.args!r}"
            found += self.canaries.leaks(text, f"the log ({record.name})")
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes().decode("utf-8", "replace")
                found += self.canaries.leaks(data, str(path.relative_to(self.root)))
                if path.suffix == ".db":
                    found += self.canaries.leaks(dump(path), f"the tables of {path.name}")
        return found


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every record, the fixture's (where the commands ran) and the test's."""
    return [*caplog.get_records("setup"), *caplog.get_records("call")]


def dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


def system_tables(
    canaries: Canaries,
    patch: pytest.MonkeyPatch,
    company: Path,
    *,
    okta: OktaServer,
    graph: GraphServer,
    careless: str,
) -> str:
    """Live systems, each failing, carrying every non-HR system secret."""
    dead = f"127.0.0.1:{closed_port()}"
    patch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    aws_secret = canaries.env("env.AWS_SECRET_ACCESS_KEY", patch)
    aws_token = canaries.env("env.AWS_SESSION_TOKEN", patch)
    patch.setenv("AWS_SECRET_ACCESS_KEY", canaries.values["env.AWS_SECRET_ACCESS_KEY"])
    patch.setenv("AWS_SESSION_TOKEN", canaries.values["env.AWS_SESSION_TOKEN"])
    del aws_secret, aws_token
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_CONFIG_FILE", str(company / "no-aws-config"))
    patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(company / "no-aws-credentials"))
    return f"""
[systems.okta-ssws]
type = "okta"
mode = "live"
org_url = "{okta.url}"
allow_http = true
api_token = {canaries.env("systems.<okta>.api_token", patch)}
deadline_seconds = 20

[systems.okta-jwt]
type = "okta"
mode = "live"
org_url = "{okta.url}"
allow_http = true
client_id = "0oacanaryclient"
private_key = {canaries.env("systems.<okta>.private_key", patch)}
deadline_seconds = 20

[systems.entra-secret]
type = "entra"
mode = "live"
tenant_id = "{graph.tenant_id}"
client_id = "{CLIENT_ID}"
client_secret = {canaries.env("systems.<entra>.client_secret", patch)}
authority_host = "{graph.url}"
graph_url = "{graph.url}"
max_retries = 0

[systems.entra-cert]
type = "entra"
mode = "live"
tenant_id = "{graph.tenant_id}"
client_id = "{CLIENT_ID}"
certificate_private_key = {canaries.env("systems.<entra>.certificate_private_key", patch)}
certificate_thumbprint = "{"ab" * 20}"
authority_host = "{graph.url}"
graph_url = "{graph.url}"
max_retries = 0

[systems.ldap-live]
type = "ldap"
flavor = "openldap"
mode = "live"
url = "ldap://{dead}"
bind_dn = "cn=iam-gov,dc=example,dc=com"
bind_password = {canaries.env("systems.<ldap>.bind_password", patch)}
base_dn = "dc=example,dc=com"
timeout = 2

[systems.openvpn-live]
type = "openvpn"
pki_dir = "openvpn/pki"
management = "{dead}"
management_password = {canaries.env("systems.<openvpn>.management_password", patch)}
ca_passphrase = {canaries.env("systems.<openvpn>.ca_passphrase", patch)}

[systems.aws-live]
type = "aws"
mode = "live"
endpoint_url = "{careless}"
max_attempts = 1
deadline_seconds = 20
"""


HR_VARIANTS = {
    "basic": ("auth = \"basic\"\nusername = \"ISU_IAM@acme\"\npassword = {password}\n"
              'url = "{url}/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json"\n'
              'preset = "workday"\n'),
    "bearer": ('auth = "bearer"\ntoken = {token}\n'
               'url = "{url}/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json"\n'
               'preset = "workday"\n'),
    "oauth": ('auth = "oauth"\ntoken_url = "{url}/ccx/oauth2/acme/token"\n'
              'client_id = "NjA5ZTc2YjQtiamgov"\nclient_secret = {client_secret}\n'
              "refresh_token = {refresh_token}\n"
              'url = "{url}/ccx/service/customreport2/acme/ISU_IAM/IAM_Workers?format=json"\n'
              'preset = "workday"\n'),
    "bamboohr": 'bamboohr_subdomain = "acme"\nbamboohr_api_key = {bamboohr_api_key}\n'
                'bamboohr_api_url = "{url}"\n',
}  # fmt: skip


@pytest.fixture
def everything(
    tmp_path: Path,
    okta: OktaServer,
    graph: GraphServer,
    hr: HRServer,
    careless: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Evidence]:
    """Every command worth running, with a canary in every secret setting."""
    caplog.set_level(logging.DEBUG)
    canaries = Canaries()
    evidence = Evidence(canaries, tmp_path)
    company = tmp_path / "company"
    generate(company, people=20, seed=5, as_of=AS_OF)
    graph.echo_secret = True  # quotes a wrong client secret back in its error
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("IAM_GOV_CONFIG", raising=False)
        patch.delenv("IAM_GOV_DATABASE_URL", raising=False)
        patch.setenv("IAM_GOV_REVIEWER", "auditor@example.com")
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        # the e-mail's one retry waits 5 s: twice here, for no more proof
        patch.setattr("iam_gov.drift.deliver.EMAIL_RETRY_SECONDS", 0.0)
        smtp = closed_port()
        config = company / "iam-gov.toml"
        text = config.read_text(encoding="utf-8")
        extra = f"""
[review.smtp]
host = "127.0.0.1"
port = {smtp}
security = "none"
sender = "iam-gov@example.com"
username = "iam-gov"
password = {canaries.env("review.smtp.password", patch)}
timeout_seconds = 2

[hr_webhook]
secret = {canaries.env("hr_webhook.secret", patch)}
mode = "hold"
held_folder = "held"

[drift.webhook]
url = {canaries.env("drift.webhook.url", patch, careless + "/hooks/{canary}?token={canary}")}
format = "slack"
retries = 0
timeout_seconds = 2

[drift.email]
to = ["security@example.com"]
"""
        # TOML: a table may be given once; the sample's [review] and [drift] stay as they are
        config.write_text(
            text + extra + system_tables(
                canaries, patch, company, okta=okta, graph=graph, careless=careless
            ),
            encoding="utf-8",
        )  # fmt: skip
        url = f"sqlite:///{tmp_path / 'state' / 'iam-gov.db'}"

        def run(*args: str, config: Path = config, url: str | None = url) -> Ran:
            given = ("--database-url", url) if url else ()
            ran = iam_gov(capsys, "--config", str(config), *given, *args)
            evidence.outputs.append((" ".join(args), ran))
            return ran

        run("config", "check")
        run("config", "check", "--connect")
        assert run("run").code in (1, 3, 5)
        from iam_gov.reports.formats import FORMATS

        for name in FORMATS.all():
            run("findings", "--format", name)
        run("drift", "--out", str(tmp_path / "drift.md"))
        run("drift", "--deliver")
        run("deprovision", "--from-hr", str(company / "hr" / "workers.csv"),
            "--plan-out", str(tmp_path / "plan.json"))  # fmt: skip
        run("audit", "log")
        run("problems")
        run("campaign", "create", "--name", "canary", "--system", "okta", "--system", "ad",
            "--launch")  # fmt: skip
        run("campaign", "remind")
        # one reviewer's screens while the campaign is open
        evidence.screens = asyncio.run(review_screens(tmp_path / "state" / "iam-gov.db"))
        run("campaign", "close", "1", "--force-before-due", "--out", str(tmp_path / "bundle"))
        for system in ("okta-ssws", "okta-jwt", "entra-secret", "aws-live", "ldap-live"):
            run("export", system, "--out", str(tmp_path / "exports" / system))
        run("--debug", "collect", "-s", "okta-ssws", "-s", "entra-secret", "-s", "aws-live")

        (tmp_path / "policy-min.yaml").write_text("{}\n")
        # The store: a PostgreSQL server that is not there, its password from the settings,
        # then in the URL's user info and query.
        store_config = tmp_path / "store-variant.toml"
        store_config.write_text(
            '[policy]\npath = "policy-min.yaml"\n\n[store]\n'
            f'url = "postgresql://iam@127.0.0.1:{closed_port()}/iamgov?connect_timeout=2"\n'
            f"password = {canaries.env('store.password', patch)}\n\n"
            '[systems.hr]\ntype = "hr"\npath = "company/hr/workers.csv"\npreset = "workday"\n'
        )
        run("config", "check", config=store_config, url=None)
        run("findings", config=store_config, url=None)
        in_url = canaries.env("url.userinfo", patch)
        in_query = canaries.env("url.query", patch)
        del in_url, in_query
        pg = (
            f"postgresql://iam:{canaries.values['url.userinfo']}@127.0.0.1:{closed_port()}/db"
            f"?connect_timeout=2&password={canaries.values['url.query']}"
        )
        run("config", "check", config=store_config, url=pg)
        run("--debug", "findings", config=store_config, url=pg)

        # HR read live, once per way of signing in (one HR system per configuration)
        for variant, table in HR_VARIANTS.items():
            refs = {
                key: canaries.env(f"systems.<hr>.{key}", patch)
                for key in (
                    "password",
                    "token",
                    "client_secret",
                    "refresh_token",
                    "bamboohr_api_key",
                )  # fmt: skip
                if "{" + key + "}" in table
            }
            hr_config = tmp_path / f"hr-{variant}.toml"
            hr_config.write_text(
                '[policy]\npath = "policy-min.yaml"\n\n[systems.hr]\ntype = "hr"\n'
                'mode = "live"\n' + table.format(url=hr.url, **refs)
                + f'ca_file = "{hr.ca_file}"\nmax_retries = 0\n'
            )  # fmt: skip
            hr_url = f"sqlite:///{tmp_path / 'state' / f'hr-{variant}.db'}"
            run("config", "check", "--connect", config=hr_config, url=hr_url)
            run("collect", config=hr_config, url=hr_url)
        try:
            yield evidence
        finally:
            graph.echo_secret = False


def test_no_canary_shows_anywhere(
    everything: Evidence,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    okta: OktaServer,
    hr: HRServer,
) -> None:
    """Every secret setting carries a canary (a new one fails here until it has its own), and
    none shows in what the commands printed, logged or wrote, nor on a review screen."""
    assert secret_settings() <= set(everything.canaries.values)
    outputs = dict(everything.outputs)
    # The commands ran for real: errors were met and things were written.
    assert len(logged(caplog)) > 100, "nothing was logged: the test proves nothing"
    assert any("401" in r.out + r.err for r in outputs.values())
    assert any("invalid_client" in r.out + r.err for r in outputs.values())  # secret echoed
    assert okta.requests and hr.requests, "the secrets never went to a server"
    assert any("Traceback" in r.err for r in outputs.values())
    assert (tmp_path / "plan.json").is_file() and (tmp_path / "drift.md").is_file()
    assert (tmp_path / "bundle").is_dir(), "\n".join(
        f"{c}: {r.code} {r.err[-400:]}" for c, r in outputs.items()
    )
    assert list((tmp_path / "state").glob("*.db"))
    leaks = everything.leaks(caplog)
    leaks += everything.canaries.leaks(everything.screens, "the review screens")
    assert leaks == [], "\n".join(sorted(set(leaks)))


async def review_screens(db: Path) -> str:
    """The campaign list and the review of the campaign the commands launched, as shown."""
    from iam_gov.campaigns.reviewer import Reviewer
    from iam_gov.store import Store
    from iam_gov.tui.app import ReviewApp
    from tests.tui.conftest import screen_text

    with sqlite3.connect(db) as conn:  # a reviewer with items in the campaign
        [(email,)] = conn.execute("SELECT reviewer FROM campaign_items LIMIT 1").fetchall()
    who = Reviewer(email=email, actor=email, os_user="reviewer", admin=False)
    shown: list[str] = []
    with Store.open(f"sqlite:///{db}") as store:
        app = ReviewApp(store, who)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            shown.append(screen_text(app))
            await pilot.press("enter")
            await pilot.pause()
            shown.append(screen_text(app))
    assert "canary" in shown[0], shown[0]  # the campaign's name: the list was shown
    return "\n".join(shown)
