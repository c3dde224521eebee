"""Reading an OpenVPN server.conf: how clients authenticate and which CRL the server checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_gov.connectors.shared.files import read_source
from iam_gov.errors import SourceError

_MAX_INCLUDE_DEPTH = 5
_INLINE_BLOCK = re.compile(r"^<([A-Za-z0-9_-]+)>$")


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class ServerConf:
    path: Path
    directives: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    def last(self, name: str) -> Directive | None:
        # OpenVPN lets a later occurrence of a single-valued option override an earlier one.
        found = self.all(name)
        return found[-1] if found else None

    def has(self, name: str) -> bool:
        return any(d.name == name for d in self.directives)

    @property
    def working_dir(self) -> Path:
        """Where the server resolves relative paths: its ``cd``, else the config's folder
        (systemd's openvpn-server@ unit starts it there)."""
        cd = self.last("cd")
        if cd is not None and cd.args:
            return self.path.parent / cd.args[0]
        return self.path.parent

    def resolve(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.working_dir / path

    def crl(self) -> tuple[Path, bool] | None:
        """The ``crl-verify`` path and whether it is a directory of serials, if any."""
        directive = self.last("crl-verify")
        if directive is None or not directive.args:
            return None
        is_dir = len(directive.args) > 1 and directive.args[1] == "dir"
        return self.resolve(directive.args[0]), is_dir

    def requires_client_eku(self) -> bool:
        """``remote-cert-tls client``: certificates made for servers cannot connect."""
        tls = self.last("remote-cert-tls")
        if tls is not None and tls.args[:1] == ("client",):
            return True
        eku = self.last("remote-cert-eku")
        return eku is not None and bool(eku.args) and "client" in eku.args[0].lower()


# Inline blocks whose content is public (certificates, Diffie-Hellman parameters,
# fingerprints) or a connection profile. Every other one (<key>, <tls-auth>, <tls-crypt>,
# <secret>, <pkcs12>, <auth-gen-token-secret> …) holds a secret, which an export leaves out.
_PUBLIC_BLOCKS = frozenset({"ca", "cert", "extra-certs", "dh", "peer-fingerprint", "connection"})


def read_server_conf(path: Path) -> ServerConf:
    conf = ServerConf(path)
    _read_into(conf, path, depth=0, copy=None)
    if not conf.directives:
        raise SourceError(f"{path}: holds no OpenVPN directive: not a server configuration")
    return conf


def server_conf_for_export(path: Path) -> tuple[ServerConf, str]:
    """server.conf read as ``read_server_conf`` reads it, and the text ``iam-gov export``
    writes: each ``config`` include put in its place (the export has the server's folders no
    more), the content of inline blocks that hold a secret left out. Read back, the text
    gives the same directives."""
    conf = ServerConf(path)
    copy: list[str] = [f"# server.conf of {path}, as iam-gov export wrote it"]
    _read_into(conf, path, depth=0, copy=copy)
    if not conf.directives:
        raise SourceError(f"{path}: holds no OpenVPN directive: not a server configuration")
    return conf, "\n".join(copy) + "\n"


def _read_into(conf: ServerConf, path: Path, depth: int, copy: list[str] | None) -> None:
    """Read ``path``'s directives into ``conf``; with ``copy``, also the export's lines."""
    text = read_source(path, "the OpenVPN server configuration").decode("utf-8", "replace")
    if "\0" in text:
        raise SourceError(f"{path}: a binary file, not an OpenVPN configuration")
    inline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if inline is not None:
            # Inline files (<ca>…</ca>, <tls-crypt>…) hold keys and certificates: skipped.
            if stripped == f"</{inline}>":
                inline = None
            if copy is not None and (inline is None or inline in _PUBLIC_BLOCKS):
                copy.append(line)
            continue
        block = _INLINE_BLOCK.match(stripped)
        if block:
            inline = block.group(1)
            if copy is not None:
                copy.append(line)
                if inline not in _PUBLIC_BLOCKS:
                    copy.append(
                        f"# iam-gov export: the content of <{inline}>, a secret, is left out"
                    )
            continue
        try:
            tokens = split_line(line)
        except ValueError as exc:
            raise SourceError(f"{path}:{number}: {exc}") from None
        if not tokens:
            if copy is not None:
                copy.append(line)
            continue
        name = tokens[0].removeprefix("--").lower()
        directive = Directive(name, tuple(tokens[1:]), path, number)
        if name == "config" and directive.args:
            if depth < _MAX_INCLUDE_DEPTH:
                included = conf.resolve(directive.args[0])
                if copy is not None:
                    copy.append(f"# iam-gov export: {line.strip()} ({included}) put in its place")
                _read_into(conf, included, depth + 1, copy)
                if copy is not None:
                    copy.append(f"# iam-gov export: end of {included}")
                continue
            if copy is not None:
                # Not followed here; read back from the export at the top level, it would be.
                copy.append(f"# iam-gov export: too deep to follow: {line.strip()}")
                conf.directives.append(directive)
                continue
        if copy is not None:
            copy.append(line)
        conf.directives.append(directive)


def split_line(line: str) -> list[str]:
    """One line as OpenVPN parses it: blanks separate, double quotes group (with backslash
    escapes), single quotes group literally, ``#`` or ``;`` starting a token ends the line."""
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    quote: str | None = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote is not None:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < len(line):
                i += 1
                current.append(line[i])
            else:
                current.append(c)
        elif c in " \t\r\n":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        elif c in "#;" and not in_token:
            break
        elif c in "\"'":
            quote, in_token = c, True
        elif c == "\\" and i + 1 < len(line):
            i += 1
            current.append(line[i])
            in_token = True
        else:
            current.append(c)
            in_token = True
        i += 1
    if quote is not None:
        raise ValueError("unbalanced quotes")
    if in_token:
        tokens.append("".join(current))
    return tokens


# --- authentication ---------------------------------------------------------------------------

# Plugins that check a user name and password, by a word in their file name.
_PASSWORD_PLUGINS = (
    ("auth-pam", "PAM"),
    ("radius", "RADIUS"),
    ("auth-ldap", "LDAP"),
    ("ldap", "LDAP"),
    ("okta", "Okta"),
    ("privacyidea", "privacyIDEA"),
    ("duo", "Duo"),
    ("google-authenticator", "google-authenticator"),
    ("linotp", "LinOTP"),
    ("multiotp", "multiOTP"),
    ("auth-script", "auth script"),
    ("auth-user-pass", "auth script"),
    ("defer", "deferred auth script"),
)
# Names that say a second factor is asked for. Okta, RADIUS and LDAP are not here: whether
# they ask for one depends on a policy iam-gov cannot see (declare it, or name the identity
# provider in relies_on so that its own MFA enrolment is checked).
_SECOND_FACTORS = (
    (re.compile(r"google[-_]?authenticator", re.I), "google-authenticator"),
    (re.compile(r"duo", re.I), "Duo"),
    (re.compile(r"privacyidea", re.I), "privacyIDEA"),
    (re.compile(r"linotp", re.I), "LinOTP"),
    (re.compile(r"multiotp", re.I), "multiOTP"),
    (re.compile(r"yubi|u2f|fido", re.I), "YubiKey/FIDO"),
    (re.compile(r"(^|[^a-z])(t|h)?otp([^a-z]|$)|oath", re.I), "OTP"),
)
_NOT_AUTH_PLUGINS = re.compile(r"down-root|openvpn-plugin-down", re.I)
# How a password is checked, by the plugin's kind: RADIUS and LDAP hand it to a directory or
# an identity provider (the radiusplugin, openvpn-auth-ldap, Okta's RADIUS agent, Entra's
# NPS extension), whose own enrolment decides whether a second factor is asked.
_METHODS = {"PAM": "pam", "RADIUS": "radius", "LDAP": "ldap"}
DIRECTORY_METHODS = frozenset({"radius", "ldap"})
"""Password checks whose second factor is whatever the directory behind them enrols."""


def authentication(
    conf: ServerConf | None,
    *,
    second_factor: str | None,
    relies_on: str | None,
    mfa_from: str | None = None,
) -> dict[str, Any]:
    """``settings["vpn"]["authentication"]``: what a client needs to connect. ``method`` is
    how the password is checked (``radius``, ``ldap``, ``pam``, ``script``, ``plugin``,
    ``management``; ``certificate`` or ``key`` when none is asked), ``plugin`` the plugin or
    script that does it, as server.conf names it; ``methods`` every check, when several."""
    declared = f"declared: {second_factor}" if second_factor else None
    if conf is None:
        # Without server.conf, OpenVPN's default stands: a client certificate, nothing else.
        return {
            "certificate": True,
            "key": False,
            "password": None,
            "method": "certificate",
            "plugin": None,
            "second_factor": declared,
            "relies_on": relies_on,
            "mfa_from": mfa_from,
            "verify_client_cert": "require (OpenVPN's default; server.conf not read)",
        }
    verify = _verify_client_cert(conf)
    checks: list[tuple[str, str | None]] = []  # (method, plugin or script), in file order
    passwords: list[str] = []
    factors: list[str] = []
    other_plugins: list[str] = []
    for plugin in conf.all("plugin"):
        if not plugin.args:
            continue
        module = Path(plugin.args[0]).name
        if _NOT_AUTH_PLUGINS.search(module):
            continue
        named = _factors_named(module)
        kind = next((label for word, label in _PASSWORD_PLUGINS if word in module.lower()), None)
        if kind is not None or named:
            checks.append((_METHODS.get(kind or "", "plugin"), plugin.args[0]))
        if kind == "PAM":
            words = " ".join(plugin.args[1:]).split()
            service = words[0] if words else "openvpn"
            passwords.append(f"PAM plugin (service {service})")
            named = _factors_named(service)
            # auth-pam hands the static-challenge answer to PAM where its arguments say "OTP".
            if "OTP" in words[1:]:
                named.append("static-challenge OTP via PAM")
        elif kind is not None or named:
            passwords.append(f"{kind or 'auth'} plugin ({module})")
        else:
            other_plugins.append(module)
        factors.extend(named)
    script = conf.last("auth-user-pass-verify")
    if script is not None and script.args:
        command = " ".join(Path(word).name for word in script.args[0].split())
        passwords.append(f"auth-user-pass-verify script ({command})")
        factors.extend(_factors_named(command))
        checks.append(("script", script.args[0]))
    if conf.has("management-client-auth"):
        checks.append(("management", None))
        passwords.append("management-client-auth (an external program on the management port)")
    if conf.has("static-challenge") and not any("static-challenge" in f for f in factors):
        factors.append("static-challenge OTP")
    detected = "; ".join(dict.fromkeys(factors)) or None
    password = "; ".join(dict.fromkeys(passwords)) or None
    if password and conf.has("auth-user-pass-optional"):
        password += " (optional: auth-user-pass-optional)"
    token = conf.last("auth-gen-token")
    if checks:
        method, checked_by = checks[0]
    elif conf.has("secret"):
        method, checked_by = "key", None
    else:
        method, checked_by = ("certificate" if verify != "none" else "none"), None
    result: dict[str, Any] = {
        "certificate": verify == "require",
        # Static-key mode: one shared key and no TLS, so no per-user certificate either.
        "key": conf.has("secret"),
        "password": password,
        "method": method,
        "plugin": checked_by,
        # The operator knows what the PAM stack or RADIUS server enforces; iam-gov only sees
        # file names, so a declared second factor wins over what the names suggest.
        "second_factor": declared or detected,
        "relies_on": relies_on,
        "mfa_from": mfa_from,
        "verify_client_cert": verify,
        "username_as_common_name": conf.has("username-as-common-name"),
        "auth_gen_token": _token_lifetime(token.args) if token is not None else None,
    }
    if declared and detected:
        result["second_factor_detected"] = detected
    if len({m for m, _ in checks}) > 1:
        result["methods"] = list(dict.fromkeys(m for m, _ in checks))
    if other_plugins:
        result["other_plugins"] = sorted(set(other_plugins))
    if conf.has("secret"):
        result["certificate"] = False
    return result


def _verify_client_cert(conf: ServerConf) -> str:
    directive = conf.last("verify-client-cert")
    if directive is not None and directive.args:
        return directive.args[0].lower()
    if conf.has("client-cert-not-required"):  # the pre-2.5 spelling of "none"
        return "none"
    return "require"


def _factors_named(text: str) -> list[str]:
    return [label for pattern, label in _SECOND_FACTORS if pattern.search(text)]


def _token_lifetime(args: tuple[str, ...]) -> str:
    if args and args[0].isdigit() and int(args[0]) > 0:
        return f"{int(args[0])} s"
    return "until the session ends"
