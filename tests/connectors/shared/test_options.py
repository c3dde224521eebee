"""Live or export options: an option of the other mode is a mistake, named."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import ValidationError, model_validator

from iam_gov.connectors.shared.options import LiveOrExportOptions


class Options(LiveOrExportOptions):
    type: Literal["test"]
    url: str | None = None
    timeout: float = 30.0
    path: str | None = None

    live_only = ("url", "timeout")
    export_only = ("path",)

    @model_validator(mode="after")
    def _fits_mode(self) -> Options:
        self.check_mode()
        return self


def test_each_mode_takes_its_own_options() -> None:
    Options(type="test", mode="live", url="https://x", timeout=5)
    Options(type="test", mode="export", path="folder")


def test_a_live_option_in_export_mode_is_named_even_at_its_default() -> None:
    with pytest.raises(ValidationError, match='url, timeout only apply to mode = "live"'):
        Options(type="test", mode="export", path="folder", url="https://x", timeout=30.0)


def test_an_export_option_in_live_mode_is_named() -> None:
    with pytest.raises(ValidationError, match='path only apply to mode = "export"'):
        Options(type="test", mode="live", url="https://x", path="folder")
