"""The floor of a scale run: read and parse a company's exports with the standard library alone.

    .venv/bin/python benchmarks/scale_floor.py /tmp/co100k [--result floor.json]

Reads the same files the connectors read (every path an ``[systems.*]`` option of the
company's ``iam-gov.toml`` names: files, folders and globs, each file once) and parses each
the cheapest way that still yields its records: ``json.load``; ``csv.reader``; LDIF split into
entries of ``attribute: value`` pairs (continuation lines joined, base64 left undecoded);
``index.txt`` and status files into lines of fields; every other text file (logs,
configuration, PEM) into lines. No model, no validation, no certificate parsing. Each file's
records are counted and let go before the next file: the least memory reading them takes
(the pipeline must hold a system's records until its snapshot is built).
``benchmarks/scale.py`` runs it in a child process and measures its seconds and peak memory
like the pipeline's.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

GLOB_CHARS = frozenset("*?[")
NOT_PATHS = frozenset(
    {"type", "flavor", "mode", "preset", "timezone", "network_name", "exported_at", "url"}
)
"""Options whose value is a word, never a file (``flavor = "ad"`` would name the AD folder)."""


def files_of(company: Path) -> dict[str, list[Path]]:
    """Each system's input files, as its options in ``iam-gov.toml`` name them."""
    config = tomllib.loads((company / "iam-gov.toml").read_text())
    seen: set[Path] = set()
    found: dict[str, list[Path]] = {}
    for name, options in config.get("systems", {}).items():
        paths: list[Path] = []
        values = [v for key, v in options.items() if key not in NOT_PATHS]
        for value in _strings(values):
            for path in _expand(company, value):
                if path not in seen:
                    seen.add(path)
                    paths.append(path)
        found[name] = sorted(paths)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def _expand(company: Path, value: str) -> list[Path]:
    if GLOB_CHARS & set(value):
        matches = [Path(os.path.normpath(p)) for p in glob.glob(str(company / value))]
    else:
        matches = [Path(os.path.normpath(company / value))]
    out: list[Path] = []
    for path in matches:
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(p for p in path.rglob("*") if p.is_file())
    return out


def parsed(path: Path) -> list[Any]:
    """One file parsed: its records (a JSON document counts as one unless it is a list)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        with path.open("rb") as f:
            data = json.load(f)
        return data if isinstance(data, list) else [data]
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            return list(csv.reader(f))
    if suffix in (".ldf", ".ldif"):
        return _ldif(path.read_text(encoding="utf-8", errors="replace"))
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if path.name == "index.txt" or "status" in path.name:  # small tables: their fields too
        return [line.split("\t" if "\t" in line else ",") for line in lines]
    return lines  # logs, configuration, PEM: lines


def _ldif(text: str) -> list[Any]:
    entries: list[dict[str, list[str]]] = []
    entry: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if not line:
            if entry:
                entries.append(entry)
            entry, last = {}, None
        elif line[0] == " " and last is not None:
            last[-1] += line[1:]
        elif line[0] != "#":
            key, _, value = line.partition(":")
            last = entry.setdefault(key.lower(), [])
            last.append(value.lstrip(": "))
    if entry:
        entries.append(entry)
    return entries


def read_company(company: Path) -> dict[str, Any]:
    """Every system's files parsed, system after system: seconds, files, bytes, records."""
    systems: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for name, paths in files_of(company).items():
        clock = time.perf_counter()
        records = sum(len(parsed(p)) for p in paths)
        systems[name] = {
            "seconds": time.perf_counter() - clock,
            "files": len(paths),
            "bytes": sum(p.stat().st_size for p in paths),
            "records": records,
        }
    return {"seconds": time.perf_counter() - started, "systems": systems}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("company", type=Path)
    parser.add_argument("--result", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    result = read_company(args.company)
    if args.result is not None:
        args.result.write_text(json.dumps(result))
        return
    for name, figures in result["systems"].items():
        print(
            f"  {name:<12} {figures['seconds']:7.2f} s  {int(figures['files']):>7,} files  "
            f"{figures['bytes'] / 1e6:8.1f} MB  {int(figures['records']):>10,} records"
        )
    print(f"  {'total':<12} {result['seconds']:7.2f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
