"""Writing what was read live as the Entra export: every Graph answer as Graph sent it, one
file per page, under the names the export reader reads (``iam-gov export``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iam_gov.connectors.entra.records import is_object_id
from iam_gov.files import make_private_folders, write_atomically


def page_file(name: str, number: int) -> str:
    """``users.json``, then ``users-2.json``, ``users-3.json`` …: what a script saving page
    after page writes, and what the reader puts back in order."""
    return f"{name}.json" if number == 1 else f"{name}-{number}.json"


def write_bodies(out: Path, bodies: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Path]:
    """Every saved page of every list in ``out``; the files written, relative to ``out``. A
    list Graph refused from its first page has no page, hence no file: the reader then says
    what is unknown, as the live collect did."""
    written: list[Path] = []
    for name, pages in sorted(bodies.items()):
        folder, _, key = name.rpartition("/")
        # Directory strings are data: only object ids ever become file names.
        if folder and not is_object_id(key):
            continue
        for number, body in enumerate(pages, start=1):
            relative = Path(page_file(name, number))
            make_private_folders((out / relative).parent)
            text = json.dumps(body, indent=1, ensure_ascii=False) + "\n"
            write_atomically(out / relative, text, "Graph answer")
            written.append(relative)
    return written
