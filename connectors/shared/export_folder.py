"""The folder ``iam-gov export`` writes into: new or empty, never through a symbolic link, and
the ``iam-gov-export.toml`` that reads it back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from iam_gov.errors import ConfigError
from iam_gov.files import make_private_folders, write_atomically

OPTIONS_FILE = "iam-gov-export.toml"


def prepare_out(out: Path) -> Path:
    """``out`` created if needed; refused when it is a link, a file or a non-empty folder."""
    if out.is_symlink():
        raise ConfigError(f"{out}: is a symbolic link; give the folder itself")
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder")
        if any(out.iterdir()):
            raise ConfigError(f"{out}: is not empty; export into a new or empty folder")
    else:
        make_private_folders(out)
    return out


def write_options(folder: Path, system: str, options: Mapping[str, Any]) -> Path:
    """``iam-gov-export.toml``: the ``[systems.NAME]`` table that reads ``folder`` back, paths
    relative to the folder."""
    text = f"# iam-gov export of system {system!r}: paste into iam-gov.toml\n" + tomli_w.dumps(
        {"systems": {system: dict(options)}}
    )
    path = folder / OPTIONS_FILE
    write_atomically(path, text, "export's options")
    return path
