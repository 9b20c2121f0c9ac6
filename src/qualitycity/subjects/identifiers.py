"""Chinese subject identifiers: USCC (GB 32100-2015) and resident ID numbers (GB 11643-1999).

Pure Python, no Django: the import pipeline calls these once per row on files of a million
rows, so the hot paths are table look-ups and the public validators are memoised (the same
codes repeat across a file). Every failed check raises :class:`IdentifierError` carrying one
stable ``code`` from :data:`ERROR_CODES`; callers branch on the code, never on the message.

USCC layout (1-based positions)::

    1      registration authority      1-9, A, N, Y
    2      organisation type           any character of the USCC alphabet
    3-8    administrative division     digits (GB/T 2260)
    9-17   organisation code           GB 11714; position 17 is its check digit
    18     check character             mod 31 over positions 1-17

python-stdnum's ``stdnum.cn.uscc`` implements the mod-31 check but refuses letters in
position 1 (A, N and Y are legal authorities) and does not check the GB 11714 digit, so both
are done here. The mod-31 sum is re-implemented as one translate-and-int() (about nine times
faster than ``stdnum.cn.uscc.calc_check_digit``, which re-cleans its input); the test suite
checks the two agree on random input. Resident IDs use ``stdnum.cn.ric.calc_check_digit`` (ISO 7064
MOD 11-2) and a string-based birth date check that the tests hold equal to
``stdnum.cn.ric.get_birth_date`` (which costs ~5 us a call). ``stdnum.cn.ric.validate`` is not
used: it also looks the birth place up in stdnum's historical division database, which is
slow and rejects synthetic data with made-up divisions.
"""

from __future__ import annotations

import datetime
import re
import time
from functools import lru_cache
from operator import mul

from django.utils.translation import gettext_noop
from stdnum.cn import ric as _ric

__all__ = [
    "ERROR_CODES",
    "RESIDENT_ID",
    "USCC",
    "USCC_ALPHABET",
    "IdentifierError",
    "classify_code",
    "clear_caches",
    "mask_person_name",
    "mask_resident_id",
    "normalize_code",
    "org_code_check_digit",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_resident_id",
    "validate_uscc",
]

USCC = "uscc"
RESIDENT_ID = "resident_id"

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

ERROR_CODES: dict[str, str] = {
    "empty": gettext_noop("The code is empty."),
    "bad_length": gettext_noop("The code must be 18 characters long."),
    "bad_characters": gettext_noop("The code contains characters that are not allowed."),
    "bad_authority": gettext_noop("Position 1 (registration authority) must be 1-9, A, N or Y."),
    "bad_division": gettext_noop("Positions 3-8 (administrative division code) must be digits."),
    "bad_org_check": gettext_noop(
        "Position 17 does not match the GB 11714 organisation code check digit."
    ),
    "bad_check": gettext_noop("The check character does not match."),
    "bad_birth_date": gettext_noop(
        "The birth date is not a real date, is in the future or is before 1900."
    ),
    "bad_format": gettext_noop("The code is not in the expected format."),
}
"""Every error code with a generic English message. Codes are stable: never rename one."""

_MESSAGES: dict[tuple[str, str], str] = {
    (USCC, "bad_length"): gettext_noop("A unified social credit code must be 18 characters long."),
    (USCC, "bad_characters"): gettext_noop(
        "A unified social credit code may only contain digits and the capital letters "
        "A-Z except I, O, S, V and Z."
    ),
    (USCC, "bad_check"): gettext_noop(
        "Position 18 does not match the unified social credit code check."
    ),
    (RESIDENT_ID, "bad_length"): gettext_noop("A resident ID number must be 18 characters long."),
    (RESIDENT_ID, "bad_characters"): gettext_noop(
        "A resident ID number may only contain digits and a final X."
    ),
    (RESIDENT_ID, "bad_format"): gettext_noop(
        "Only the final character of a resident ID number may be X."
    ),
    (RESIDENT_ID, "bad_check"): gettext_noop(
        "The final character does not match the resident ID check (ISO 7064 MOD 11-2)."
    ),
    (RESIDENT_ID, "bad_birth_date"): gettext_noop(
        "Positions 7-14 of a resident ID number are not a birth date between 1900 and today."
    ),
}


class IdentifierError(ValueError):
    """A code failed validation. ``code`` is one of :data:`ERROR_CODES`."""

    def __init__(self, code: str, message: str | None = None):
        self.code = code
        self.message = message or ERROR_CODES.get(code, code)
        super().__init__(self.message)

    def __reduce__(self):  # keep code and message across pickling (multiprocessing)
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"IdentifierError({self.code!r}, {self.message!r})"


def _error(kind: str, code: str) -> IdentifierError:
    return IdentifierError(code, _MESSAGES.get((kind, code)))


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Full-width ASCII (U+FF01-U+FF5E) to half-width, then delete spaces and dashes of all widths.
_NORMALIZE_TABLE: dict[int, int | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_DELETED = (
    # spaces: ASCII whitespace, NBSP, ideographic (full-width) space, typographic spaces,
    # zero-width characters and the byte-order mark that leaks out of CSV exports
    " \t\n\r\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u200b\u200c\u200d\u202f\u205f\u2060\u3000\ufeff"
    # dashes: hyphen-minus, Unicode hyphens, en/em dash, minus, small/full-width hyphen-minus,
    # and the half-width katakana prolonged sound mark that IMEs emit for a dash
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\uff70"
)
_NORMALIZE_TABLE.update(dict.fromkeys(map(ord, _DELETED)))


def normalize_code(value: object) -> str:
    """Return ``value`` without spaces or dashes, full-width ASCII folded, upper-cased.

    ``None`` becomes ``""``; other non-strings go through ``str()`` first.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if value.isascii() and value.isalnum():  # the common, already clean case
        return value.upper()
    return value.translate(_NORMALIZE_TABLE).upper()


def _as_key(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------------------------
# USCC
# --------------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100 (no I, O, S, V, Z); a character's value is its index."""

_USCC_CHARSET = frozenset(USCC_ALPHABET)
_USCC_AUTHORITIES = frozenset("123456789ANY")
# The mod-31 sum over positions 1-17 with weights 3**i mod 31 (1, 3, 9, 27, 19, 26, ...), fast:
# re-spell each character as the base-36 digit of its value, reverse, and read the string in
# base 34. Since 34 = 3 (mod 31), the i-th character (0-based) then weighs 3**i (mod 31).
_USCC_AS_DIGITS = bytes.maketrans(USCC_ALPHABET.encode(), b"0123456789ABCDEFGHIJKLMNOPQRSTU")

# GB 11714: digits are their value, letters A-Z are 10-35 (their base-36 digit values), and
# the weights 3, 7, 9, 10, 5, 8, 4, 2 are 2**8 ... 2**1 (mod 11). So the weighted sum is
# 2 * int(code, 35) (mod 11), as 35 = 2 (mod 11); base 35 only lacks Z, handled separately.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_CACHE_SIZE = 1 << 15  # per validator; ~10 MB when full


def _mod31(first17: str) -> str:
    """Check character for 17 characters of the USCC alphabet (not checked here)."""
    total = int(first17.encode("ascii").translate(_USCC_AS_DIGITS)[::-1], 34)
    return USCC_ALPHABET[-total % 31]


def _org_check(first8: str) -> str:
    """GB 11714 check digit for 8 characters from 0-9 and A-Z (not checked here)."""
    if "Z" in first8:
        total = sum(map(mul, (int(c, 36) for c in first8), _ORG_WEIGHTS))
    else:
        total = 2 * int(first8, 35)
    remainder = 11 - total % 11
    if remainder == 10:
        return "X"
    if remainder == 11:
        return "0"
    return str(remainder)


def _uscc_error(code: str) -> str | None:
    """The first failed check of a normalised USCC, most specific first, or None."""
    if not code:
        return "empty"
    if len(code) != 18:
        return "bad_length"
    if not _USCC_CHARSET.issuperset(code):
        return "bad_characters"
    if code[0] not in _USCC_AUTHORITIES:
        return "bad_authority"
    if not code[2:8].isdigit():
        return "bad_division"
    if code[16] != _org_check(code[8:16]):
        return "bad_org_check"
    if code[17] != _mod31(code[:17]):
        return "bad_check"
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def _uscc_result(raw: str) -> tuple[str, str | None]:
    code = normalize_code(raw)
    return code, _uscc_error(code)


def validate_uscc(value: object) -> str:
    """Return the normalised unified social credit code or raise :class:`IdentifierError`.

    Checks, in this order: empty, bad_length, bad_characters, bad_authority, bad_division,
    bad_org_check, bad_check.
    """
    code, error = _uscc_result(_as_key(value))
    if error:
        raise _error(USCC, error)
    return code


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (position 18) for the first 17 characters."""
    code = normalize_code(first17)
    if len(code) != 17:
        raise IdentifierError("bad_length", "Expected the first 17 characters of a USCC.")
    if not _USCC_CHARSET.issuperset(code):
        raise _error(USCC, "bad_characters")
    return _mod31(code)


def org_code_check_digit(first8: str) -> str:
    """The GB 11714 organisation code check digit ('0'-'9' or 'X') for its first 8 chars."""
    code = normalize_code(first8)
    if len(code) != 8:
        raise IdentifierError("bad_length", "Expected the first 8 characters of an org code.")
    if not code.isascii() or not code.isalnum():
        raise IdentifierError(
            "bad_characters", "An organisation code may only contain digits and letters A-Z."
        )
    return _org_check(code)


# --------------------------------------------------------------------------------------------
# Resident ID numbers
# --------------------------------------------------------------------------------------------

_RIC_CHARSET = frozenset("0123456789X")
_MONTH_DAYS = frozenset(
    f"{month:02d}{day:02d}"
    for month, days in enumerate((31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), start=1)
    for day in range(1, days + 1)
)
_today_cache: list = [0.0, ""]  # [valid until (epoch seconds), "YYYYMMDD"]


def _today() -> str:
    """Today's date as YYYYMMDD; date.today() costs about a microsecond, so memoise it."""
    now = time.time()
    if now >= _today_cache[0]:
        today = datetime.date.today()
        midnight = datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time())
        _today_cache[:] = [midnight.timestamp(), f"{today:%Y%m%d}"]
    return _today_cache[1]


def _birth_date_ok(yyyymmdd: str) -> bool:
    """A real date from 1900-01-01 to today (8 ASCII digits assumed).

    Same verdict as ``datetime.date`` via ``stdnum.cn.ric.get_birth_date`` plus the range
    check (the tests hold the two together), in a third of the time.
    """
    if not ("19000101" <= yyyymmdd <= _today()) or yyyymmdd[4:] not in _MONTH_DAYS:
        return False
    if yyyymmdd[4:] == "0229":
        year = int(yyyymmdd[:4])
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def _ric_error(number: str) -> str | None:
    """The first failed check of a normalised resident ID number, or None."""
    if not number:
        return "empty"
    if len(number) != 18:
        return "bad_length"
    if not _RIC_CHARSET.issuperset(number):
        return "bad_characters"
    if "X" in number[:17]:
        return "bad_format"
    if not _birth_date_ok(number[6:14]):
        return "bad_birth_date"
    if number[17] != _ric.calc_check_digit(number):
        return "bad_check"
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def _ric_result(raw: str) -> tuple[str, str | None]:
    number = normalize_code(raw)
    return number, _ric_error(number)


def validate_resident_id(value: object) -> str:
    """Return the normalised 18-character resident ID number or raise IdentifierError.

    Checks, in this order: empty, bad_length, bad_characters (only digits and X),
    bad_format (X anywhere but last), bad_birth_date (not a date, before 1900 or in the
    future), bad_check (ISO 7064 MOD 11-2). The 15-digit first-generation numbers are
    rejected as bad_length.
    """
    number, error = _ric_result(_as_key(value))
    if error:
        raise _error(RESIDENT_ID, error)
    return number


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for the first 17 digits."""
    digits = normalize_code(first17)
    if len(digits) != 17:
        raise IdentifierError("bad_length", "Expected the first 17 digits of a resident ID.")
    if not (digits.isascii() and digits.isdigit()):
        raise _error(RESIDENT_ID, "bad_characters")
    # stdnum's calc_check_digit takes the full number and ignores its last character.
    return _ric.calc_check_digit(digits + "0")


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


def _looks_like_resident_id(number: str) -> bool:
    return len(number) == 18 and number[:17].isdigit() and number[17] in _RIC_CHARSET


@lru_cache(maxsize=_CACHE_SIZE)
def _classify_result(raw: str) -> tuple[str, str, str | None]:
    code = normalize_code(raw)
    if code.isascii() and _looks_like_resident_id(code):
        ric_error = _ric_error(code)
        if ric_error is None:
            return RESIDENT_ID, code, None
        uscc_error = _uscc_error(code)
        if uscc_error is None:
            return USCC, code, None
        # Neither: blame the reading the value most resembles. A 19xx/20xx year in
        # positions 7-10 (or a real birth date there) says "person".
        if ric_error == "bad_check" or code[6:8] in ("19", "20"):
            return RESIDENT_ID, code, ric_error
        return USCC, code, uscc_error
    return USCC, code, _uscc_error(code)


def classify_code(value: object) -> tuple[str, str]:
    """Return ``("uscc" | "resident_id", normalised)`` or raise IdentifierError.

    An 18-character value of 17 digits plus a digit or X that passes the resident ID checks
    is a resident ID; otherwise it must be a valid USCC. When neither reading is valid the
    error comes from the one the value most resembles (all digits with a 19xx/20xx year in
    positions 7-10 reads as a resident ID).
    """
    kind, code, error = _classify_result(_as_key(value))
    if error:
        raise _error(kind, error)
    return kind, code


def clear_caches() -> None:
    """Drop the memoised validation results (e.g. after midnight, for the future-date rule)."""
    _uscc_result.cache_clear()
    _ric_result.cache_clear()
    _classify_result.cache_clear()


# --------------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------------


def mask_resident_id(value: object) -> str:
    """Keep the first 6 and last 4 characters, mask the rest: ``370202********123X``.

    Works on invalid input too (it is used to display rejected rows). Values of 10
    characters or fewer are masked entirely, so nothing but the length is revealed.
    """
    number = normalize_code(value)
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_NAME_SEPARATORS = frozenset("·・•‧.")  # the middle dots in transliterated minority names
_WORD_TAIL = re.compile(r"(?<=\w)\w")


def _is_cjk(char: str) -> bool:
    cp = ord(char)
    return any(low <= cp <= high for low, high in _CJK_RANGES)


def mask_person_name(name: object) -> str:
    """Mask a person's name for display.

    Chinese names keep the first character: 张三 → 张*, 欧阳娜娜 → 欧***, with spaces
    dropped and middle dots kept (买买提·艾力 → 买**·**). Other names keep the first letter
    of each word: John Smith → J*** S****.
    """
    if name is None:
        return ""
    text = str(name).strip()
    if not text:
        return ""
    if _is_cjk(text[0]):
        rest = (c if c in _NAME_SEPARATORS else "*" for c in text[1:] if not c.isspace())
        return text[0] + "".join(rest)
    return _WORD_TAIL.sub("*", text)


def mask_personal_text(text: object, *, person_names: tuple[str, ...] = ()) -> str:
    """Free text (a reason, a remark) as the public may read it: every resident ID number
    masked, and each given natural person's name replaced by its masked form."""
    from qualitycity.core.logging import redact

    value = redact("" if text is None else str(text))
    for name in person_names:
        name = (name or "").strip()
        if len(name) >= 2:
            value = value.replace(name, mask_person_name(name))
    return value
