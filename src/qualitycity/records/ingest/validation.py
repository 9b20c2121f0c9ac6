"""Field-level validation of one row: parse each cell by its catalogue type.

A :class:`RowValidator` is compiled once per (dataset, header): a list of (column, field,
converter) steps, so the per-row loop does no look-ups by name. Converters are small functions
that return the normalised value or raise :class:`FieldError`; the expensive ones (dates,
identifiers) are memoised, because the same values repeat throughout a departmental file.

Normalised values are what a record's ``data`` holds: strings stripped; codes as the code-list
code; dates as ISO strings; decimals as canonical decimal strings; integers as ints; subject
codes normalised (upper-case, no spaces or dashes). Empty optional cells are left out.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext_noop

from qualitycity.subjects import identifiers as ids
from qualitycity.subjects.codelists import section_for_division

from ..catalogue import Dataset, Field, normalize_header

# Reason codes of rejected rows (stable; the UI and the error report show them).
REASON_MESSAGES: dict[str, str] = {
    "missing_required": gettext_noop("A required value is missing."),
    "unknown_subject": gettext_noop("The subject code is valid but not registered."),
    "name_mismatch": gettext_noop(
        "The name does not match the registered name or any former name."
    ),
    "bad_date": gettext_noop("Not a date (expected YYYY-MM-DD)."),
    "future_date": gettext_noop("The date is in the future."),
    "not_in_codelist": gettext_noop("The value is not in the code list."),
    "not_a_number": gettext_noop("Not a number."),
    "out_of_range": gettext_noop("The number is out of the allowed range."),
    "conflict": gettext_noop(
        "A stored record has this id with different content and no newer version."
    ),
    "duplicate_in_file": gettext_noop(
        "The same record id appears earlier in the file with other content."
    ),
    "wrong_subject_kind": gettext_noop("The code is of the wrong kind for this dataset."),
    "wrong_subject_type": gettext_noop("The subject type is not one this dataset registers."),
    "bad_row_length": gettext_noop("The row has more cells than the header."),
    "unknown_field": gettext_noop("The row has a field the dataset does not define."),
    "malformed_row": gettext_noop("The line is not a JSON object."),
    **{code: msg for code, msg in ids.ERROR_CODES.items() if code != "empty"},
}
# Reasons that point at the subject rather than the record; they come first in a row.
SUBJECT_REASONS = frozenset({"unknown_subject", *ids.ERROR_CODES})


class FieldError(Exception):
    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str | None = None):
        self.code = code
        self.message = message or REASON_MESSAGES.get(code, code)


def reason(field: str, code: str, message: str | None = None) -> dict[str, str]:
    return {"field": field, "code": code, "message": message or REASON_MESSAGES.get(code, code)}


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_NAME_TABLE: dict[int, Any] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_NAME_TABLE.update(
    dict.fromkeys(map(ord, " \t\r\n\u00a0\u3000\u200b\ufeff"), None)
    | {ord("【"): "[", ord("】"): "]", ord("〔"): "(", ord("〕"): ")"}
)


def normalize_name(value: Any) -> str:
    """A subject name as compared: full/half-width folded (brackets too), spaces removed."""
    if value is None:
        return ""
    return str(value).translate(_NAME_TABLE)


# --------------------------------------------------------------------------------------------
# Converters
# --------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


@lru_cache(maxsize=1 << 14)
def parse_date(text: str) -> dt.date | None:
    """YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYYMMDD, YYYY年M月D日, optionally with a time part."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    head = text.split(" ", 1)[0].split("T", 1)[0] if ("T" in text or " " in text) else text
    if head != text and not text.endswith("日"):
        try:
            return dt.date.fromisoformat(head)
        except ValueError:
            text = head
    if len(text) == 8 and text.isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    m = _DATE_RE.match(text)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return None


@lru_cache(maxsize=1 << 12)
def _decimal(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return value


def _check_range(f: Field, value: Any) -> None:
    if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
        lo = "" if f.min is None else f.min
        hi = "" if f.max is None else f.max
        raise FieldError("out_of_range", f"The number must be between {lo} and {hi}.")


_MEMO_LIMIT = 200_000


def _memo(check):
    """Memoise a converter in a plain dict (outcome or error), cheaper than lru_cache layers.

    The same codes and dates recur throughout a departmental file.
    """
    cache: dict[str, Any] = {}

    def conv(v: str) -> Any:
        hit = cache.get(v)
        if hit is None:
            try:
                hit = (True, check(v))
            except ids.IdentifierError as exc:
                hit = (False, FieldError(exc.code, exc.message))
            except FieldError as exc:
                hit = (False, exc)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[v] = hit
        if hit[0]:
            return hit[1]
        raise hit[1]

    return conv


def make_converter(f: Field, today: dt.date):
    """The function that turns a stripped, non-empty cell into the field's normalised value."""
    t = f.type
    if t in ("string", "text", "person_name", "subject_name"):
        return None  # kept as the stripped text
    if t in ("subject_code", "uscc", "resident_id"):
        check = {
            "subject_code": lambda v: ids.classify_code(v)[1],
            "uscc": ids.validate_uscc,
            "resident_id": ids.validate_resident_id,
        }[t]
        return _memo(check)
    if t == "date":
        allow_future = f.allow_future

        def check_date(v: str) -> str:
            d = parse_date(v)
            if d is None:
                raise FieldError("bad_date")
            if d > today and not allow_future:
                raise FieldError("future_date", f"The date {d.isoformat()} is in the future.")
            return d.isoformat()

        return _memo(check_date)
    if t == "decimal":

        def check_decimal(v: str) -> str:
            d = _decimal(v)
            if d is None:
                raise FieldError("not_a_number")
            _check_range(f, d)
            return str(d)

        return _memo(check_decimal)
    if t == "integer":

        def check_integer(v: str) -> int:
            try:
                n = int(v)
            except ValueError:
                d = _decimal(v)
                if d is None or d != d.to_integral_value():
                    raise FieldError("not_a_number", "Not a whole number.") from None
                n = int(d)
            _check_range(f, n)
            return n

        return _memo(check_integer)
    codes = f.codes
    if t == "industry":

        def check_industry(v: str) -> str:
            code = codes.get(normalize_header(v))
            if code is not None:
                return code
            if section_for_division(v) is not None:
                text = v.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
                return text[:2] if len(text) >= 2 else "0" + text
            raise FieldError("not_in_codelist", f"{v!r} is not a GB/T 4754-2017 industry code.")

        return _memo(check_industry)

    def check_code(v: str) -> str:  # code lists, districts, subject types
        code = codes.get(normalize_header(v))
        if code is None:
            raise FieldError("not_in_codelist", f"{v!r} is not in the code list.")
        return code

    return _memo(check_code)


class RowValidator:
    """Validates the cells of one row against a dataset, given the file's header mapping."""

    def __init__(self, dataset: Dataset, mapping: list[str | None], today: dt.date):
        self.dataset = dataset
        self.mapping = mapping
        self.width = len(mapping)
        by_name = {f.name: f for f in dataset.fields}
        present = {name for name in mapping if name}
        self.steps: list[tuple[int, str, Any, bool]] = []
        for index, name in enumerate(mapping):
            if name is None:
                continue
            f = by_name[name]
            self.steps.append((index, name, make_converter(f, today), f.required))
        # Required fields without a column (possible for JSON lines and corrected rows).
        self.absent_required = [
            f.name for f in dataset.fields if f.required and f.name not in present
        ]
        self.extra_columns = [i for i, name in enumerate(mapping) if name is None]
        self.validate = self._compile_fast_path()

    def _compile_fast_path(self):
        """A function for the common row: as many text cells as columns, every value good.

        Compiled once per file from the steps, unrolled (no per-cell loop, look-ups or
        closure calls): each converter's good outcomes are kept in a plain dict consulted
        inline. Any other row (short or long, a non-text cell, an empty required cell, a
        value a converter refuses, extra JSON keys) goes to :meth:`validate_row`, which
        gives the same result for good rows and the reasons for bad ones.
        """
        if self.absent_required:
            return self.validate_row
        env: dict[str, Any] = {"slow": self.validate_row, "LIMIT": _MEMO_LIMIT}
        lines = [
            "def validate(cells, extra=None):",
            f"    if extra is not None or len(cells) != {self.width}:",
            "        return slow(cells, extra)",
            "    try:",
            "        data = {}",
        ]
        for k, (index, name, conv, required) in enumerate(self.steps):
            lines.append(f"        v = cells[{index}].strip()")
            lines.append("        if v:")
            if conv is None:
                lines.append(f"            data[{name!r}] = v")
            else:
                env[f"conv{k}"], env[f"memo{k}"] = conv, {}
                lines += [
                    f"            x = memo{k}.get(v)",
                    "            if x is None:",
                    f"                x = conv{k}(v)",
                    f"                if len(memo{k}) < LIMIT:",
                    f"                    memo{k}[v] = x",
                    f"            data[{name!r}] = x",
                ]
            if required:
                lines.append("        else:")
                lines.append("            return slow(cells, extra)")
        lines += [
            "    except Exception:",  # a refused value, a cell that is not text
            "        return slow(cells, extra)",
            "    return data, []",
        ]
        exec("\n".join(lines), env)  # noqa: S102 - our own code, built from the catalogue
        return env["validate"]

    def validate_row(
        self, cells: list[Any], extra: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        data: dict[str, Any] = {}
        reasons: list[dict[str, str]] = []
        n = len(cells)
        for index, name, conv, required in self.steps:
            value = cells[index] if index < n else None
            if value is None:
                value = ""
            elif value.__class__ is not str:
                value = str(value)
            value = value.strip()
            if not value:
                if required:
                    reasons.append(reason(name, "missing_required"))
                continue
            if conv is None:
                data[name] = value
                continue
            try:
                data[name] = conv(value)
            except FieldError as exc:
                reasons.append({"field": name, "code": exc.code, "message": exc.message})
        for name in self.absent_required:
            reasons.append(reason(name, "missing_required"))
        if n > self.width:
            tail = cells[self.width :]
            if any(c is not None and str(c).strip() for c in tail):
                reasons.append(reason("", "bad_row_length"))
        if extra:
            malformed = extra.get("_malformed")
            if malformed is not None:
                return {}, [reason("", "malformed_row", f"Not a JSON object: {malformed.error}")]
            for key in extra:
                reasons.append(
                    reason(str(key), "unknown_field", f"The dataset has no field {key!r}.")
                )
        return data, reasons
