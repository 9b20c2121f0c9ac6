"""Streaming readers for CSV (UTF-8 with or without BOM, GB18030), XLSX and JSON Lines.

A file is first *scanned* once in binary (:func:`scan_file`): SHA-256, size, line count, NUL
bytes, and whether the whole file decodes as UTF-8 — while copying it to its kept location.
The encoding is then decided on the whole file, not a sample: a GBK export whose first
megabyte happens to be ASCII is still read as GB18030. GB18030 is a superset of GBK and GB2312,
so one codec reads all three.

Readers then stream rows; nothing holds more than one row (plus the codec's buffer) in memory.
Each yields ``(row_number, cells, extra)`` where ``cells`` are aligned to the header and
``extra`` holds keys a JSON line has beyond the header (else None). Structural problems raise
:class:`~.errors.FileRefused`, also mid-stream (an unterminated quote is only seen at the end).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.utils.translation import gettext_noop

from ..catalogue import normalize_header
from .errors import FileRefused

CHUNK = 1 << 20
csv.field_size_limit(16 * 1024 * 1024)

FORMATS_BY_EXT = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "jsonl": "jsonl"}


@dataclass
class FileScan:
    sha256: str
    size: int
    lines: int  # newline characters
    has_nul: bool
    utf8: bool
    bom: bool
    ends_with_newline: bool
    head: bytes  # the first bytes, for sniffing


def scan_file(path: Path, copy_to: BinaryIO | None = None) -> FileScan:
    """One binary pass: hash, count lines, look for NUL bytes, check UTF-8 (and copy)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    size = lines = 0
    has_nul = False
    utf8 = True
    head = b""
    last = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if not head:
                head = chunk[:4096]
            digest.update(chunk)
            if copy_to is not None:
                copy_to.write(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            if not has_nul and b"\x00" in chunk:
                has_nul = True
            if utf8:
                try:
                    decoder.decode(chunk, False)
                except UnicodeDecodeError:
                    utf8 = False
            last = chunk[-1:]
    if utf8:
        try:
            decoder.decode(b"", True)
        except UnicodeDecodeError:
            utf8 = False
    return FileScan(
        sha256=digest.hexdigest(),
        size=size,
        lines=lines,
        has_nul=has_nul,
        utf8=utf8,
        bom=head.startswith(codecs.BOM_UTF8),
        ends_with_newline=last == b"\n",
        head=head,
    )


def _decodes_as(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk, False)
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


def detect_format(name: str, head: bytes) -> str:
    """csv | xlsx | jsonl, from the extension checked against the first bytes."""
    ext = os.path.splitext(name)[1].lower()
    fmt = FORMATS_BY_EXT.get(ext)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(
            "unknown_format",
            gettext_noop(
                "Legacy Excel (.xls) files are not accepted; save the sheet as .xlsx or CSV."
            ),
        )
    if head.startswith(b"PK\x03\x04") and fmt in (None, "xlsx"):
        return "xlsx"
    if fmt is None and ext == "":
        stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
        return "jsonl" if stripped.startswith(b"{") else "csv"
    if fmt is None:
        raise FileRefused(
            "unknown_format",
            f"Files of type {ext} are not accepted; use CSV, XLSX or JSON Lines (.jsonl).",
            details={"extension": ext},
        )
    return fmt


def store_copy(path: Path, root: Path, *, when: dt.datetime, name: str) -> tuple[FileScan, str]:
    """Copy the file to ``root/<yyyy>/<mm>/<sha256>.<ext>`` while scanning it.

    Returns the scan and the stored path relative to ``root``. Content-addressed, so storing the
    same file twice keeps one copy.
    """
    tmp_dir = root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    try:
        with open(tmp, "wb") as out:
            scan = scan_file(path, copy_to=out)
        ext = os.path.splitext(name)[1].lower().lstrip(".") or "bin"
        rel = f"{when:%Y}/{when:%m}/{scan.sha256}.{ext[:10]}"
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink()
        else:
            os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return scan, rel


class Table:
    """A parsed file: its header and a stream of rows."""

    format = ""
    encoding = ""
    header: list[str]
    header_row = 1
    estimated_rows: int | None = None

    def rows(self) -> Iterator[tuple[int, list[Any], dict[str, Any] | None]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


class CsvTable(Table):
    format = "csv"

    def __init__(self, path: Path, scan: FileScan):
        if scan.has_nul:
            raise FileRefused(
                "binary_file", gettext_noop("The file contains NUL bytes: it is not a text file.")
            )
        if scan.utf8:
            self.encoding = "utf-8-sig" if scan.bom else "utf-8"
        elif _decodes_as(path, "gb18030"):
            self.encoding = "gb18030"
        else:
            raise FileRefused(
                "binary_file",
                gettext_noop("The file is neither UTF-8 nor GB18030 text."),
            )
        self._file = open(path, encoding=self.encoding, newline="")  # noqa: SIM115
        first = self._file.readline()
        self._file.seek(0)
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        self._reader = csv.reader(self._file, delimiter=delimiter, strict=True)
        self.header = []
        self.header_row = 0
        for cells in self._guarded():
            self.header_row += 1
            if any(c.strip() for c in cells):
                self.header = cells
                break
        if not self.header:
            self.close()
            raise FileRefused("empty_file", gettext_noop("The file is empty."))
        self.estimated_rows = max(
            0, scan.lines - self.header_row + (0 if scan.ends_with_newline else 1)
        )

    def _refusal(self, exc: csv.Error) -> FileRefused:
        line = self._reader.line_num
        if "unexpected end of data" in str(exc):
            return FileRefused(
                "truncated_file",
                gettext_noop(
                    "The file ends inside a quoted value: it is incomplete or a quote is not "
                    "closed."
                ),
                details={"line": line},
            )
        return FileRefused(
            "malformed_file", f"CSV error on line {line}: {exc}", details={"line": line}
        )

    def _guarded(self) -> Iterator[list[str]]:
        try:
            yield from self._reader
        except csv.Error as exc:
            raise self._refusal(exc) from exc

    def rows(self) -> Iterator[tuple[int, list[Any], dict[str, Any] | None]]:
        number = self.header_row
        try:  # one plain loop over the reader: this is the hot path of ingestion
            for cells in self._reader:
                number += 1
                if len(cells) < 2 and (not cells or not cells[0].strip()):
                    continue
                yield number, cells, None
        except csv.Error as exc:  # raised by the reader (not by whoever consumes the rows)
            raise self._refusal(exc) from exc

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------

_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError)


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


class XlsxTable(Table):
    format = "xlsx"
    encoding = ""

    def __init__(self, path: Path, scan: FileScan):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            ws = self._wb.worksheets[0]
        except (InvalidFileException, *_BROKEN) as exc:
            raise FileRefused(
                "truncated_file",
                gettext_noop("The XLSX file is damaged or incomplete and cannot be opened."),
                details={"error": str(exc)[:200]},
            ) from exc
        except IndexError as exc:
            raise FileRefused("empty_file", gettext_noop("The workbook has no sheet.")) from exc
        self._rows = self._guarded(ws.iter_rows(values_only=True))
        self.header = []
        for number, values in self._rows:
            if any(v not in (None, "") for v in values):
                self.header = [_xlsx_cell(v) or "" for v in values]
                self.header_row = number
                break
        if not self.header:
            self.close()
            raise FileRefused(
                "empty_file", gettext_noop("The first sheet of the workbook is empty.")
            )
        while self.header and not str(self.header[-1]).strip():
            self.header.pop()
        max_row = ws.max_row
        self.estimated_rows = max(0, max_row - self.header_row) if max_row else None

    def _guarded(self, it: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        while True:
            try:
                values = next(it)
            except StopIteration:
                return
            except _BROKEN as exc:
                raise FileRefused(
                    "truncated_file",
                    gettext_noop("The XLSX file is damaged or incomplete."),
                    details={"row": number + 1, "error": str(exc)[:200]},
                ) from exc
            except Exception as exc:  # an XML parse error: a cut-off sheet
                raise FileRefused(
                    "truncated_file",
                    gettext_noop("The XLSX sheet cannot be read to its end: the file is damaged."),
                    details={"row": number + 1, "error": str(exc)[:200]},
                ) from exc
            number += 1
            yield number, values

    def rows(self) -> Iterator[tuple[int, list[Any], dict[str, Any] | None]]:
        for number, values in self._rows:
            if all(v is None or v == "" for v in values):
                continue
            yield number, [_xlsx_cell(v) for v in values], None

    def close(self) -> None:
        self._wb.close()


# --------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------


def _json_cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


class MalformedLine:
    """A JSON line that is not an object: quarantined as ``malformed_row``."""

    def __init__(self, text: str, error: str):
        self.text = text
        self.error = error


class JsonLinesTable(Table):
    format = "jsonl"
    encoding = "utf-8"

    def __init__(self, path: Path, scan: FileScan):
        if scan.has_nul or not scan.utf8:
            raise FileRefused(
                "binary_file",
                gettext_noop("A JSON Lines file must be UTF-8 text without NUL bytes."),
            )
        self._scan = scan
        self._file = open(path, "rb")  # noqa: SIM115
        self._lines = self._numbered()
        self.header = []
        for number, line in self._lines:
            obj = self._parse(number, line)
            if isinstance(obj, MalformedLine):
                self.close()
                raise FileRefused(
                    "malformed_file",
                    f"Line {number} is not a JSON object: {obj.error}",
                    details={"line": number},
                )
            self.header = list(obj)
            self._first = (number, obj)
            break
        if not self.header:
            self.close()
            raise FileRefused("empty_file", gettext_noop("The file has no JSON lines."))
        self.header_row = 0
        self.estimated_rows = scan.lines + (0 if scan.ends_with_newline else 1)
        self._positions = {k: i for i, k in enumerate(self.header)}
        self._aliases: dict[str, int] = {}

    def _numbered(self) -> Iterator[tuple[int, bytes]]:
        for number, raw in enumerate(self._file, 1):
            line = raw.strip()
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[3:].strip()
            if line:
                yield number, line

    def _parse(self, number: int, line: bytes) -> dict | MalformedLine:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if not self._scan.ends_with_newline and number == self._scan.lines + 1:
                raise FileRefused(
                    "truncated_file",
                    f"The last line ({number}) is cut off: the file is incomplete.",
                    details={"line": number},
                ) from exc
            return MalformedLine(line.decode("utf-8", "replace")[:2000], str(exc))
        if not isinstance(obj, dict):
            return MalformedLine(line.decode("utf-8", "replace")[:2000], "not an object")
        return obj

    def widen(self, columns: list[str], aliases: dict[str, int]) -> None:
        """Add columns (fields the first line did not have) and keys that also name them."""
        self.header = self.header + [c for c in columns if c not in self._positions]
        self._positions = {k: i for i, k in enumerate(self.header)}
        self._aliases = aliases

    def _cells(self, obj: dict) -> tuple[list[Any], dict[str, Any] | None]:
        cells: list[Any] = [None] * len(self.header)
        extra = None
        positions = self._positions
        for k, v in obj.items():
            i = positions.get(k)
            if i is None:
                i = self._aliases.get(normalize_header(k))
            if i is None:
                extra = extra or {}
                extra[k] = _json_cell(v)
            else:
                cells[i] = _json_cell(v)
        return cells, extra

    def rows(self) -> Iterator[tuple[int, list[Any], dict[str, Any] | None]]:
        number, obj = self._first
        cells, extra = self._cells(obj)
        yield number, cells, extra
        for number, line in self._lines:
            obj = self._parse(number, line)
            if isinstance(obj, MalformedLine):
                yield number, [], {"_malformed": obj}
                continue
            cells, extra = self._cells(obj)
            yield number, cells, extra

    def close(self) -> None:
        self._file.close()


def open_table(path: Path, *, name: str, scan: FileScan) -> Table:
    """Open a scanned file with the reader its format needs, or refuse it."""
    if scan.size == 0 or not scan.head.lstrip(codecs.BOM_UTF8).strip():
        raise FileRefused("empty_file", gettext_noop("The file is empty."))
    fmt = detect_format(name, scan.head)
    if fmt == "xlsx":
        return XlsxTable(path, scan)
    if fmt == "jsonl":
        return JsonLinesTable(path, scan)
    return CsvTable(path, scan)
