"""Reading a CSV export for any connector: its encoding and delimiter, its rows with the line
each starts on, and its problems named at ``file:line``.

A file is read from disk as it streams (``CsvFile.open``); CSV already in memory, such as a
report decoded from an API's JSON, is read the same way (``CsvFile.from_text``)::

    with CsvFile.open(path, encoding="utf-8-sig") as export:
        columns = find_columns(export.header)          # the caller's own checks of the header
        for fields in export.rows(bad_row=leave_out):  # exactly len(header) fields each
            take(export.line, fields)

What makes the whole input unusable raises :class:`BadCsv`, one line naming the file and,
where known, the line: no such file, over the size limit of export files (see
:mod:`iam_gov.connectors.shared.files`; checked before reading), not in the encoding (with a
hint when the file is UTF-16, as Excel's "Unicode text" is), empty, a header that is not CSV,
the end of the file inside a quoted field, a field over :func:`csv.field_size_limit` (an
unclosed quote), or a last row short of fields with no line end (cut off). A single row that
cannot be one, with the wrong number of fields or not valid CSV, is the caller's to judge
through ``bad_row``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import NoReturn, TextIO

from iam_gov.connectors.shared.files import MAX_EXPORT_ENV, export_limit
from iam_gov.errors import SourceError, location
from iam_gov.yamlfile import TooLarge, read_limited

DELIMITERS = (",", ";", "\t", "|")
"""The delimiters tried when none is given: the ones spreadsheets and HR systems write."""
_SAMPLE_CHARS = 64 * 1024
"""How much of the input the delimiter is sniffed from."""

Where = Callable[[int | None], str]
"""Names a line of the input in a message (None: the input as a whole), e.g. ``file:12``."""
BadRow = Callable[[int, list[str] | None, str], None]
"""``bad_row(line, fields, problem)``: a row that cannot be one, with its fields (None when it is
not valid CSV) and a problem such as ``has 5 fields, the header has 6``."""


class BadCsv(SourceError):
    """CSV that cannot be read on, as the one line ``where: message``."""

    def __init__(self, where: str, message: str, line: int | None = None) -> None:
        super().__init__(f"{where}: {message}")
        self.message, self.line = message, line


class CsvFile:
    """One CSV input, read row by row; a context manager that closes the file.

    Opening reads the header: the first row with a non-empty field, each name stripped.
    ``rows()`` then yields the data rows; blank rows are skipped and empty fields after the
    last column (a trailing delimiter) dropped, so every row has ``len(header)`` fields.
    ``line`` is where the header, then the row last yielded, starts: a quoted field may run
    over several lines.
    """

    header: list[str]
    delimiter: str
    line: int

    def __init__(
        self,
        stream: TextIO,
        where: Where,
        delimiter: str | None,
        *,
        path: Path | None = None,
        encoding: str = "",
    ) -> None:
        """Use :meth:`open` or :meth:`from_text`; ``path`` is given when ``stream`` is its
        file opened with ``encoding``, so that problems of the bytes can be found there."""
        self._stream = stream
        self._where = where
        self._path = path
        self._encoding = encoding
        try:
            sample = stream.read(_SAMPLE_CHARS)
            if not sample.strip():
                self.fail("the file is empty")
            self.delimiter = delimiter or _sniff_delimiter(
                sample, whole=len(sample) < _SAMPLE_CHARS
            )
            stream.seek(0)
            self._reader = csv.reader(stream, delimiter=self.delimiter, strict=True)
            self.header = self._read_header()
        except UnicodeDecodeError:
            self._undecodable()
        except OSError as exc:
            self._unreadable(exc)

    @classmethod
    def open(
        cls, path: Path, *, encoding: str = "utf-8-sig", delimiter: str | None = None
    ) -> CsvFile:
        """The file at ``path`` in ``encoding`` (``utf-8-sig`` reads UTF-8 with or without a
        BOM); ``delimiter`` None sniffs which of :data:`DELIMITERS` the file uses."""
        try:
            stream = path.open(encoding=encoding, newline="")
        except OSError as exc:
            raise unreadable(path, exc) from None
        # The size is checked on the file opened, so that it cannot be swapped in between.
        size, limit = os.fstat(stream.fileno()).st_size, export_limit()
        if size > limit:
            stream.close()
            raise BadCsv(location(path), str(TooLarge(size, limit, MAX_EXPORT_ENV)))
        try:
            return cls(stream, partial(location, path), delimiter, path=path, encoding=encoding)
        except BaseException:
            stream.close()
            raise

    @classmethod
    def from_text(cls, text: str, where: Where, *, delimiter: str | None = None) -> CsvFile:
        """CSV already decoded; ``where(line)`` names its lines (a leading BOM is dropped)."""
        return cls(io.StringIO(text.removeprefix("\ufeff"), newline=""), where, delimiter)

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    def rows(self, bad_row: BadRow | None = None) -> Iterator[list[str]]:
        """The data rows after the header (read once), each a list of ``len(header)`` fields
        that the caller may keep or change. A row that cannot be one goes to ``bad_row``, or
        is fatal without one. The last row is checked for a cut-off file once it is read."""
        report = bad_row or self._bad_row
        reader = self._reader
        width = len(self.header)
        last_start = last_fields = 0
        try:
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    self._stop_at(exc, start)
                    report(start, None, f"not valid CSV ({exc})")
                    last_start, last_fields = start, width
                    continue
                if not any(row):
                    continue
                last_start, last_fields = start, len(row)
                if len(row) != width:
                    # Extra fields that are all empty are a trailing delimiter, not a shifted
                    # row.
                    if len(row) < width or any(row[width:]):
                        report(start, row, f"has {len(row)} fields, the header has {width}")
                        continue
                    del row[width:]
                self.line = start
                yield row
            if last_start and last_fields < width and not self._ends_with_line_end():
                self.fail(
                    f"the last row has {last_fields} of {width} fields and no line end: "
                    "the file looks cut off",
                    last_start,
                )
        except UnicodeDecodeError:
            self._undecodable()
        except OSError as exc:
            self._unreadable(exc)

    def fail(self, message: str, line: int | None = None) -> NoReturn:
        """Raise :class:`BadCsv` at ``line`` (None: the input as a whole); also for a caller's
        own checks, such as of the header at ``line`` just after opening."""
        raise BadCsv(self._where(line), message, line)

    # --- reading ----------------------------------------------------------------------------

    def _read_header(self) -> list[str]:
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                self.fail("the file is empty")
            except csv.Error as exc:
                self._stop_at(exc, start)
                self.fail(f"the header is not valid CSV ({exc})", start)
            if any(row):
                self.line = start
                return [name.strip() for name in row]

    def _stop_at(self, exc: csv.Error, start: int) -> None:
        """Raise for the CSV errors after which nothing more can be read."""
        if "unexpected end of data" in str(exc):
            self.fail("the file ends inside a quoted field: it looks cut off", start)
        if "field larger than field limit" in str(exc):
            # Reading on would start in the middle of that field.
            self.fail(
                f"a field longer than {csv.field_size_limit()} characters starts on this "
                "line: a quote is probably not closed",
                start,
            )

    def _bad_row(self, line: int, fields: list[str] | None, problem: str) -> None:
        self.fail(problem, line)

    def _ends_with_line_end(self) -> bool:
        stream = self._stream
        if isinstance(stream, io.StringIO):
            return stream.getvalue().endswith(("\n", "\r"))
        assert self._path is not None
        return _ends_with_line_end(self._path, self._encoding)

    def _undecodable(self) -> NoReturn:
        assert self._path is not None  # text in memory is decoded already
        line, head = _first_undecodable_line(self._path, self._encoding)
        raise not_in_encoding(self._path, self._encoding, head, line)

    def _unreadable(self, exc: OSError) -> NoReturn:
        assert self._path is not None  # text in memory is read already
        raise unreadable(self._path, exc) from None


def read_text(path: Path, encoding: str = "utf-8-sig") -> str:
    """A whole export file as text (JSON, say), with the same messages as :meth:`CsvFile.open`:
    no such file, too large (before it is read), empty, or not in ``encoding`` at the line of
    the first bad byte."""
    try:
        data = read_limited(path, export_limit(), MAX_EXPORT_ENV)
    except TooLarge as exc:
        raise BadCsv(location(path), str(exc)) from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    if not data.strip():
        raise BadCsv(location(path), "the file is empty")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise not_in_encoding(path, encoding, data, data.count(b"\n", 0, exc.start) + 1) from None


def unreadable(path: Path, exc: OSError) -> BadCsv:
    """The problem of an export file that cannot be opened or read."""
    if isinstance(exc, FileNotFoundError):
        message = "no such file"
    elif isinstance(exc, IsADirectoryError):
        message = "is a folder, not an export file"
    else:
        message = f"cannot be read ({exc.strerror or type(exc).__name__})"
    return BadCsv(location(path), message)


def not_in_encoding(path: Path, encoding: str, head: bytes, line: int) -> BadCsv:
    """The problem of a file that is not ``encoding`` text from ``line`` on; ``head`` is how
    the file starts, which tells a UTF-16 file (Excel's "Unicode text") by its BOM."""
    hint = 'set encoding (e.g. "cp1252") to the one the export uses'
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and "16" not in encoding:
        hint = 'it looks like UTF-16 (Excel "Unicode text"): set encoding = "utf-16"'
    return BadCsv(location(path, line), f"not {encoding} text; {hint}", line)


def _sniff_delimiter(sample: str, *, whole: bool) -> str:
    """The candidate that splits the header widest and the most rows into as many fields;
    ``whole`` says that the sample is the whole input, so its last line is not cut."""
    lines = sample.splitlines(keepends=True)
    if not whole and len(lines) > 1:
        lines.pop()  # cut off mid-line
    best, best_score = ",", (-1, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=delimiter) if any(row)]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for row in rows[1:] if len(row) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, bytes]:
    """The line of the first byte that is not ``encoding``, and the file's first line."""
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 0
    head = b""
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if number == 1:
                head = raw
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number, head
    return number, head


def _ends_with_line_end(path: Path, encoding: str) -> bool:
    """Whether the file's last character is a line end, in whatever encoding it is written."""
    bom = "".encode(encoding)  # codecs such as utf-8-sig put a BOM before anything
    endings = tuple(end.encode(encoding)[len(bom) :] for end in ("\n", "\r"))
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - 8))
        return file.read().endswith(endings)
