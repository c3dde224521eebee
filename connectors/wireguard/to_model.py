"""A WireGuard configuration, dump and identities, turned into iam-gov's model.

Each public key is an account that holds the VPN while it can connect, and its key a
credential."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iam_gov.connectors.shared.vpn import Vpn
from iam_gov.connectors.wireguard.conf import ConfProblem, Peer, WgConfig
from iam_gov.connectors.wireguard.dump import Dump, DumpPeer
from iam_gov.connectors.wireguard.identities import CommentConvention, Identity, comment_identity
from iam_gov.model import (
    Account,
    AccountKind,
    AccountStatus,
    Credential,
    CredentialKind,
    SnapshotError,
    SystemSnapshot,
)
from iam_gov.timeutil import as_utc


@dataclass(frozen=True)
class InterfaceRecords:
    """Everything collect read about one interface, before it is the model."""

    config: WgConfig
    dump: Dump | None
    """The interface's peers and handshakes, from ``wg`` or a saved dump; None when not read."""
    identities: dict[str, Identity]
    """Public key -> who the identity mapping file says it is."""
    up_since: datetime | None
    """When the interface came up, if known: handshakes are only known since then."""
    config_mode: int | None
    """The server's own configuration file's mode; None for a copy, which says nothing of it."""


class SnapshotBuilder:
    """Config blocks, dump lines and identities -> the shared model."""

    def __init__(
        self,
        vpn: Vpn,
        *,
        interface: str | None,
        from_dump: bool,
        comment_convention: CommentConvention,
        second_factor: str | None,
        relies_on: str | None,
    ) -> None:
        """``interface``: the one the options name; ``from_dump``: handshakes come from a saved
        dump rather than the running interface."""
        self.vpn = vpn
        self.system = vpn.system
        self.interface = interface
        self.from_dump = from_dump
        # Whether an interface's peers were read, so that a peer's absence from it means
        # something.
        self.watched = interface is not None or from_dump
        self.comment_convention: CommentConvention = comment_convention
        self.second_factor = second_factor
        self.relies_on = relies_on

    def snapshot(
        self,
        records: InterfaceRecords,
        *,
        source: str,
        collected_at: datetime,
        errors: list[SnapshotError],
    ) -> SystemSnapshot:
        config, dump = records.config, records.dump
        config_source = config.source
        errors = list(errors)
        complete = True
        for problem in config.problems:
            complete = complete and not problem.incomplete
            errors.append(
                SnapshotError(
                    source=config_source,
                    line=problem.line,
                    record=problem.record,
                    message=problem.message,
                )
            )
        blocks: dict[str, list[Peer]] = {}
        for peer in (*config.peers, *config.disabled):
            blocks.setdefault(peer.public_key, []).append(peer)
        live: dict[str, DumpPeer] = {}
        if dump is not None:
            errors.extend(dump.problems)
            complete = complete and not dump.problems
            live = {peer.public_key: peer for peer in dump.peers}
            if config.peers and live and not set(live) & {p.public_key for p in config.peers}:
                complete = False
                errors.append(
                    SnapshotError(
                        source=dump.source,
                        message=f"shares no peer with {config_source}: are they of the same "
                        "interface?",
                    )
                )
        accounts, credentials = [], []
        for key in sorted(set(blocks) | set(live)):
            identity, problems = self._identity(key, blocks.get(key, []), records.identities)
            errors.extend(
                SnapshotError(source=config_source, line=p.line, record=key, message=p.message)
                for p in problems
            )
            account, credential = self._peer(key, blocks.get(key, []), live.get(key), identity)
            accounts.append(account)
            credentials.append(credential)
        errors.sort(key=lambda e: (e.source, e.line or 0, e.message))
        return self.vpn.snapshot(
            source=source,
            collected_at=collected_at,
            complete=complete,
            errors=errors,
            accounts=accounts,
            credentials=credentials,
            settings=self._settings(records, collected_at),
        )

    def _settings(self, records: InterfaceRecords, collected_at: datetime) -> dict[str, Any]:
        config, dump = records.config, records.dump
        settings: dict[str, Any] = {
            "vpn": {
                "kind": self.vpn.connector,
                "authentication": {
                    "certificate": False,
                    "key": True,
                    "password": None,
                    "second_factor": self.second_factor,
                    "relies_on": self.relies_on,
                },
                "crl": None,
            },
            "wireguard": {
                "interface": self.interface or (dump.interface if dump else None),
                "listen_port": config.listen_port
                if config.listen_port is not None
                else (dump.listen_port if dump else None),
                "save_config": config.save_config,
                "handshakes": None if dump is None else ("dump" if self.from_dump else "live"),
            },
        }
        if records.config_mode is not None:
            # The file holds the interface's private key: anyone who can read it can pose as
            # the server.
            settings["wireguard"]["config_mode"] = f"{records.config_mode:04o}"
        if dump is not None:
            # Only handshakes since the interface came up are known; when that time is not
            # known, all that is certain is that nobody unseen now was seen since now. The
            # store adds up what each collection saw.
            started = records.up_since
            since = collected_at if started is None else min(started, collected_at)
            settings["observation"] = {"observed_since": as_utc(since).isoformat()}
        return settings

    def _identity(
        self, key: str, blocks: Sequence[Peer], identities: dict[str, Identity]
    ) -> tuple[Identity, list[ConfProblem]]:
        found, problems = Identity(), []
        for block in blocks:
            said, said_problems = comment_identity(
                block.comments, self.comment_convention, naming=block.naming
            )
            found = found.over(said)
            problems.extend(said_problems)
        mapped = identities.get(key)
        return (mapped.over(found) if mapped is not None else found), problems

    def _peer(
        self, key: str, blocks: Sequence[Peer], seen: DumpPeer | None, identity: Identity
    ) -> tuple[Account, Credential]:
        configured = [block for block in blocks if not block.disabled]
        # In the configuration, or in the running interface (added there by hand, or removed
        # from the file but not yet from the interface): either way it can connect.
        usable = bool(configured) or seen is not None
        attributes = {
            "config": "peer" if configured else "disabled" if blocks else "absent",
            "identity_from": identity.source,
        }
        if blocks:
            attributes["config_line"] = ",".join(str(block.line) for block in blocks)
        if self.watched:
            attributes["interface"] = "peer" if seen is not None else "absent"
        allowed = [ip for block in (configured or blocks) for ip in block.allowed_ips]
        if not allowed and seen is not None:
            allowed = list(seen.allowed_ips)
        endpoint = seen.endpoint if seen is not None and seen.endpoint else None
        endpoint = endpoint or next((b.endpoint for b in configured if b.endpoint), None)
        key_attributes = {
            "allowed_ips": ",".join(dict.fromkeys(allowed)),
            "preshared_key": "yes"
            if any(b.preshared_key for b in blocks) or (seen is not None and seen.preshared_key)
            else "no",
        }
        if endpoint:
            key_attributes["endpoint"] = endpoint
        if identity.note:
            attributes["note"] = identity.note
        handshake = seen.latest_handshake if seen is not None else None
        account = Account(
            system=self.system,
            native_id=key,
            login=identity.login or identity.email or short_key(key),
            email=identity.email,
            display_name=identity.display_name,
            employee_id=identity.employee_id,
            status=AccountStatus.ACTIVE if usable else AccountStatus.DISABLED,
            kind=AccountKind.SERVICE if identity.kind == "service" else AccountKind.HUMAN,
            last_login_at=handshake,
            mfa_factors=None,
            attributes={**attributes, **key_attributes},
        )
        credential = Credential(
            system=self.system,
            account_id=key,
            credential_id=f"{key}#key",
            kind=CredentialKind.PUBLIC_KEY,
            active=usable,
            last_used_at=handshake,
            attributes=key_attributes,
        )
        return account, credential


def short_key(public_key: str) -> str:
    """How a peer is named when nothing else names it."""
    return f"peer-{public_key[:8]}"
