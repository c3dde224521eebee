"""Options shared by connectors that read either the live system or an export of it."""

from __future__ import annotations

from typing import ClassVar, Literal

from iam_gov.connectors.shared.protocol import ConnectorOptions


class LiveOrExportOptions(ConnectorOptions):
    """``mode = "live"`` reads the system through its API; ``mode = "export"`` reads files its
    own tools wrote. An option of the other mode is a mistake, reported by ``check_mode``."""

    mode: Literal["live", "export"]

    live_only: ClassVar[tuple[str, ...]] = ()
    """Options that only apply to the live mode (they may have defaults)."""
    export_only: ClassVar[tuple[str, ...]] = ()
    """Options that only apply to the export mode (they default to None)."""

    def check_mode(self) -> None:
        """Raise ``ValueError`` naming the options set for the other mode; called at the end
        of a connector's own ``model_validator`` once its required options are checked."""
        if self.mode == "export":
            misplaced = [n for n in self.live_only if n in self.model_fields_set]
            wanted = "live"
        else:
            misplaced = [n for n in self.export_only if getattr(self, n) is not None]
            wanted = "export"
        if misplaced:
            raise ValueError(f'{", ".join(misplaced)} only apply to mode = "{wanted}"')

    def why_read_only(self) -> str | None:
        if self.mode != "live":
            return 'an export cannot be changed: actions need mode = "live"'
        return None
