"""Writing what a live collection read as an Okta export folder (``iam-gov export``): each
call's bodies, verbatim and page after page, in the file the layout gives it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from iam_gov.files import create_private, make_private_folders


class ExportWriter:
    """Each file is written beside its final name and moved there once its call has ended
    well: a call that failed half-way leaves no file, so reading the export back says that
    part is unknown, as the live collection did."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[str] = []
        self._open: dict[str, IO[str]] = {}

    def _part(self, name: str) -> Path:
        return self.folder / f"{name}.part"

    def page(self, name: str, body: Any) -> None:
        handle = self._open.get(name)
        if handle is None:
            path = self._part(name)
            make_private_folders(path.parent)
            handle = os.fdopen(create_private(path), "w", encoding="utf-8")
            self._open[name] = handle
        handle.write(json.dumps(body) + "\n")

    def done(self, name: str) -> None:
        handle = self._open.pop(name, None)
        if handle is None:  # a call that returned no page at all
            self.page(name, [])
            handle = self._open.pop(name)
        handle.close()
        os.replace(self._part(name), self.folder / name)
        self.written.append(name)

    def close(self) -> None:
        """Remove what calls that did not end well left behind."""
        for name, handle in self._open.items():
            handle.close()
            self._part(name).unlink(missing_ok=True)
        self._open.clear()
