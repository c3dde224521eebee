"""The OpenVPN connector's registration and options."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from iam_gov.connectors import connector_class
from iam_gov.connectors.openvpn.connector import OpenVPNConnector, OpenVPNOptions


def connect(pki_dir: Path, *, clock: dt.datetime | None = None, **extra: Any) -> OpenVPNConnector:
    options = OpenVPNOptions.model_validate({"type": "openvpn", "pki_dir": pki_dir, **extra})
    if clock is None:
        return OpenVPNConnector("vpn-prod", options)
    return OpenVPNConnector("vpn-prod", options, clock=lambda: clock)


def test_registered_under_its_type_name() -> None:
    assert connector_class("openvpn") is OpenVPNConnector


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"management_password": {"env": "X"}}, "management_password needs management"),
        (
            {"management": "127.0.0.1:7505", "exported_at": "2026-03-01T00:00:00Z"},
            "exported_at is for files copied from a server, not management",
        ),
        ({"management": "localhost"}, 'give "host:port"'),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"crl_warning_days": -1}, "greater than or equal to 0"),
    ],
)
def test_options_that_do_not_fit(tmp_path: Path, extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        OpenVPNOptions.model_validate({"type": "openvpn", "pki_dir": tmp_path, **extra})
