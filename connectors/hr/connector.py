"""HR feed connector: reads an HR system's CSV or JSON export into the people who work here.

The HR export is the source of truth for who works here, so this connector is strict about
the file as a whole and forgiving about single rows:

* a file that cannot be trusted as a whole (missing, empty, header only, cut off, not valid
  JSON, in another encoding, a required column missing, most rows bad, fewer people than
  ``min_people``) raises :class:`~iam_gov.errors.SourceError` with one line naming the file
  and, where known, the line;
* a bad row (no employee id, a duplicate id, a bad date, e-mail, status or employment type,
  the wrong number of fields) is left out and reported with its physical line number, and
  the snapshot is marked incomplete so that nobody's accounts look orphaned because their
  row could not be read.

Which columns mean what is set by a preset (see :mod:`iam_gov.connectors.hr.presets` for the
``generic``, ``bamboohr`` and ``workday`` mappings) and can be overridden per field with
``columns``. Every column that is not mapped is kept in ``Person.attributes`` so that roles can
match on any HR field. Example (``iam-gov.toml``)::

    [systems.hr]
    type = "hr"
    path = "exports/bamboohr-employees.csv"
    preset = "bamboohr"
    columns = { department = "Division" }
    status_values = { "garden leave" = "leave" }
"""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from iam_gov.configtypes import RelPath
from iam_gov.connectors.hr.export import read_people
from iam_gov.connectors.hr.history import HistoryField
from iam_gov.connectors.hr.presets import MappableField, PresetName
from iam_gov.connectors.shared.export_time import export_time
from iam_gov.connectors.shared.protocol import Connector, ConnectorOptions, Permissions
from iam_gov.connectors.shared.registry import connector
from iam_gov.model import SystemSnapshot, UTCDateTime

FileFormat = Literal["csv", "json"]

_FORMAT_BY_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
}


class HROptions(ConnectorOptions):
    """Where the HR export is and how to read it."""

    type: Literal["hr"]
    path: RelPath
    format: FileFormat | None = None
    """Default: from the file extension (.csv, .tsv, .txt or .json)."""
    preset: PresetName = "generic"
    columns: dict[MappableField, str] = Field(default_factory=dict)
    """Person field -> column (CSV) or key (JSON); overrides the preset. ``""`` unmaps a field."""
    status_values: dict[str, Literal["active", "leave", "terminated"]] = Field(default_factory=dict)
    """Export value -> status, merged over the preset's; case and spacing do not matter."""
    employment_type_values: dict[str, Literal["employee", "contractor", "intern", "other"]] = Field(
        default_factory=dict
    )
    date_format: str | None = None
    """strptime format, tried after ISO 8601 instead of the preset's formats."""
    delimiter: str | None = None
    """CSV delimiter; default: whichever of , ; tab | splits the file consistently."""
    encoding: str = "utf-8-sig"
    job_history: RelPath | None = None
    """A job-history export (CSV, several rows per person: employee id, effective date and
    department, title or manager), such as BambooHR's Job Information table: each person's
    latest job change is read from it (see :mod:`iam_gov.connectors.hr.history`)."""
    job_history_columns: dict[HistoryField, str] = Field(default_factory=dict)
    """Job-history field -> column; overrides the preset's names. ``""`` unmaps a field."""
    json_records: str | None = None
    """Key of the top-level JSON object holding the records; default: the preset's."""
    exported_at: UTCDateTime | None = None
    """When the export was taken; default: the file's modification time."""
    min_people: int = Field(default=1, ge=0)
    """Fewer valid people than this is an error: it guards against a half-empty export."""
    max_drop: float = Field(default=0.2, ge=0, le=1)
    """An export with this share fewer people than the last one stored is refused unless
    confirmed (``--accept-hr-drop``): a file cut at a line boundary reads cleanly, and would
    make every leaver's finding look resolved and everyone else's accounts orphans."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in '"\r\n'):
            raise ValueError('a delimiter is one character, e.g. ";" or "\\t"')
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError('a strptime format, e.g. "%d/%m/%Y"')
        return value

    @model_validator(mode="after")
    def _format_known(self) -> HROptions:
        if self.format is None and self.path.suffix.lower() not in _FORMAT_BY_SUFFIX:
            raise ValueError(
                f"cannot tell the format of {self.path.name!r} from its extension: "
                'set format = "csv" or "json" (save spreadsheets as CSV)'
            )
        return self

    @property
    def file_format(self) -> FileFormat:
        return self.format or _FORMAT_BY_SUFFIX[self.path.suffix.lower()]


@connector
class HRConnector(Connector[HROptions]):
    """Reads the HR export; people only, and no actions: HR is read, never written."""

    options_model = HROptions
    permissions = Permissions(collect=("read access to the HR export file",))

    def collect(self) -> SystemSnapshot:
        options = self.options
        # Only the time: the problems of an HR snapshot are those of its rows, so a time taken
        # from the file is not noted as a guess.
        collected_at = export_time(options.exported_at, [options.path]).at
        found = read_people(options, as_of=collected_at.date())
        return SystemSnapshot(
            system=self.system,
            connector=self.type_name,
            source=f"export:{options.path.name}",
            collected_at=collected_at,
            complete=found.complete,
            errors=found.errors,
            people=found.people,
            settings={"mapped_fields": list(found.mapped_fields)},
        )
