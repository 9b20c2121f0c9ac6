"""Reads of the subject registry: look-up by code, the public view of a subject, and search.

Search
------
A query matches a subject by its code (exact, or a code prefix of 4+ characters), by its
current name or by a former name. Results are ranked::

    exact code  >  code prefix  >  name prefix  >  former-name prefix
                >  name substring  >  former-name substring

and within a rank shorter names first, then registration order (subject id). The name index
(:class:`~qualitycity.subjects.models.SubjectNameGram`) holds every distinct bigram of every
name with the name's length, so each rank is one ordered index range that stops at the limit:

- a 2-character query is its own bigram: the range is the answer, nothing to verify;
- a longer query drives from its rarest bigram (counted, capped, in the index itself; a
  bigram missing from the index means no match) and verifies candidates with ``LIKE``;
- a name prefix of up to 4 characters is its own prefix row (``^`` + the first 2, 3 or 4
  characters of every name are indexed too); a longer one is a range of the ``name`` index
  when that is selective (SQLite), else the 4-character prefix rows verified with ``LIKE``.

When even the rarest bigram is in more than ``MAX_SCAN`` names, only its ``MAX_SCAN``
shortest candidates are verified (a query such as 有限公司 matches most of the city anyway)
and the result is flagged ``capped``. The same SQL runs on SQLite and PostgreSQL. The total is
exact up to ``TOTAL_CAP`` matches; when ``capped`` is true ``total`` is a lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q

from qualitycity.core import context
from qualitycity.core.errors import NotFound, ValidationFailed
from qualitycity.core.models import ApiClient, PersonalDataAccess

from .codelists import DISTRICTS, INDUSTRY_DIVISIONS, SUBJECT_STATUSES, SUBJECT_TYPES
from .identifiers import IdentifierError, classify_code, mask_person_name, mask_resident_id
from .identifiers import normalize_code as _normalize_code
from .models import FormerName, Subject, SubjectNameGram

MIN_QUERY_LENGTH = 2
MAX_LIMIT = 100
MAX_OFFSET = 1000
TOTAL_CAP = 500  # matches counted exactly; beyond, the total is reported as "at least"
COUNT_CAP = 5000  # bigram frequencies are counted up to this when choosing the driver,
BIG_COUNT_CAP = 100_000  # and up to this when every bigram of the query is that common
MAX_SCAN = 20000  # candidates verified at most, shortest names first, from a larger bigram
PREFIX_RANGE_CAP = 2000  # a name-prefix range larger than this is ranked from the index
PREFIX_ROWS = 4  # the index has a prefix row for the first 2..PREFIX_ROWS characters

_GRAM_TABLE = SubjectNameGram._meta.db_table
_SUBJECT_TABLE = Subject._meta.db_table
_FORMER_TABLE = FormerName._meta.db_table
_MAX_CHAR = "\U0010ffff"

MATCH_KINDS = ("code", "code_prefix", "prefix", "former_prefix", "substring", "former_substring")


def fold_name(text: str | None) -> str:
    """A name as the index stores it: stripped and lower-cased (Chinese is unchanged)."""
    return (text or "").strip().lower()


# --------------------------------------------------------------------------------------------
# Look-up and presentation
# --------------------------------------------------------------------------------------------


def subject_get(*, code: str) -> Subject:
    """The registered subject for a code (normalised first).

    Raises ``ValidationFailed`` whose code is the failed identifier check (``bad_check``,
    ``bad_length``, …) for a malformed code, ``NotFound`` (``subject_not_registered``) for a
    valid code that is not registered.
    """
    try:
        _kind, normalised = classify_code(code)
    except IdentifierError as exc:
        raise ValidationFailed(
            exc.message, code=exc.code, details={"field": "code", "check": exc.code}
        ) from exc
    subject = Subject.objects.filter(code=normalised).select_related("registered_by").first()
    if subject is None:
        raise NotFound(
            "No subject is registered under this code.",
            code="subject_not_registered",
            details={"field": "code"},
        )
    return subject


def _label(table: dict[str, tuple[str, ...]], key: str) -> dict[str, str] | None:
    entry = table.get(key) if key else None
    if not entry:
        return None
    return {"zh": entry[0], "en": entry[1]}


def subject_public_dict(
    subject: Subject, *, unmasked: bool, former_names: list[str] | None = None
) -> dict[str, Any]:
    """A subject as plain data for the API and the CLI.

    Unless ``unmasked``, a natural person's name and resident ID number are masked
    (``张*``, ``370202********123X``), as is every legal representative's name (a natural
    person's). ``former_names`` are included when given (masked like the name).
    """
    is_person = subject.kind == Subject.Kind.PERSON
    mask = not unmasked
    name = mask_person_name(subject.name) if (mask and is_person) else subject.name
    data: dict[str, Any] = {
        "code": mask_resident_id(subject.code) if (mask and is_person) else subject.code,
        "kind": subject.kind,
        "name": name,
        "subject_type": subject.subject_type,
        "subject_type_label": _label(SUBJECT_TYPES, subject.subject_type),
        "district": subject.district,
        "district_label": _label(DISTRICTS, subject.district),
        "industry": subject.industry,
        "industry_label": _label(INDUSTRY_DIVISIONS, subject.industry),
        "legal_representative": (
            mask_person_name(subject.legal_representative) if mask else subject.legal_representative
        ),
        "registered_on": subject.registered_on,
        "status": subject.status,
        "status_label": _label(SUBJECT_STATUSES, subject.status),
        "masked": bool(mask and is_person),
    }
    if former_names is not None:
        data["former_names"] = [
            mask_person_name(n) if (mask and is_person) else n for n in former_names
        ]
    return data


def sees_personal_data(actor: Any) -> bool:
    """Staff (signed-in officials or API clients) with ``subjects.read`` see persons unmasked.

    The public and enterprise users (who act for one subject) see masked values.
    """
    from qualitycity.core.models import Role
    from qualitycity.core.permissions import has_scope

    if getattr(actor, "role", None) == Role.ENTERPRISE and not isinstance(actor, ApiClient):
        return False
    return has_scope(actor, "subjects.read")


def personal_data_access_record(*, actor: Any, subjects: list[Subject], purpose: str) -> int:
    """Audit a staff actor seeing the unmasked data of natural persons; one row per person."""
    persons = [s for s in subjects if s.kind == Subject.Kind.PERSON]
    if not persons:
        return 0
    ctx = context.current()
    client = actor if isinstance(actor, ApiClient) else None
    user = actor if client is None and getattr(actor, "pk", None) else None
    content_type = ContentType.objects.get_for_model(Subject)
    PersonalDataAccess.objects.bulk_create(
        [
            PersonalDataAccess(
                request_id=ctx.request_id,
                user=user,
                api_client=client,
                content_type=content_type,
                object_id=str(s.pk),
                purpose=purpose[:100],
            )
            for s in persons
        ]
    )
    return len(persons)


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


@dataclass
class SearchHit:
    subject: Subject
    match: str  # one of MATCH_KINDS
    matched_name: str | None = None  # the former name that matched, for former-name matches


@dataclass
class SearchResult:
    items: list[SearchHit]
    total: int  # exact unless ``capped``; then a lower bound
    capped: bool = False
    query: str = ""
    limit: int = 20
    offset: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        return self.capped or self.offset + len(self.items) < self.total


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _prefix_q(field_name: str, value: str) -> Q:
    """``field`` starts with ``value``, as an index range where the database allows it.

    SQLite compares text by code point, so ``[v, v + U+10FFFF)`` is exactly the prefix and
    uses the column's B-tree; elsewhere collations differ, so ``LIKE 'v%'`` it is.
    """
    if _is_sqlite():
        return Q(**{f"{field_name}__gte": value, f"{field_name}__lt": value + _MAX_CHAR})
    return Q(**{f"{field_name}__startswith": value})


def _fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _gram_counts(grams: list[str], is_former: bool, cap: int) -> dict[str, int]:
    """How often each bigram occurs in the index, counted up to ``cap``."""
    parts = []
    params: list[Any] = []
    for i, g in enumerate(grams):
        parts.append(
            f"SELECT {i:d}, (SELECT COUNT(*) FROM (SELECT 1 FROM {_GRAM_TABLE} "  # noqa: S608
            "WHERE gram = %s AND is_former = %s LIMIT %s) c)"
        )
        params += [g, is_former, cap]
    return {grams[i]: n for i, n in _fetch(" UNION ALL ".join(parts), params)}


def _gram_scan(
    *, gram: str, is_former: bool, pattern: str | None, limit: int, bounded: bool
) -> tuple[list[int], bool]:
    """Subject ids from one bigram's index range, shortest names first.

    ``pattern`` (a LIKE pattern, lower-case) verifies the current name, or a former name when
    ``is_former``. ``bounded`` looks at most ``MAX_SCAN`` candidates. Returns the ids and
    whether the answer may be incomplete (the limit or the scan bound was reached).
    """
    if pattern is None:
        sql = (
            f"SELECT subject_id FROM {_GRAM_TABLE} WHERE gram = %s AND is_former = %s "  # noqa: S608
            "ORDER BY name_len, subject_id LIMIT %s"
        )
        rows = _fetch(sql, [gram, is_former, limit])
        return [r[0] for r in rows], len(rows) >= limit
    name_expr = "{}.name" if _is_sqlite() else "LOWER({}.name)"  # SQLite LIKE ignores ASCII case
    if is_former:
        verify = (
            f"EXISTS (SELECT 1 FROM {_FORMER_TABLE} f WHERE f.subject_id = g.subject_id "
            f"AND {name_expr.format('f')} LIKE %s ESCAPE '\\')"
        )
        join = ""
    else:
        verify = f"{name_expr.format('s')} LIKE %s ESCAPE '\\'"
        join = f"JOIN {_SUBJECT_TABLE} s ON s.id = g.subject_id"
    if bounded:
        # The first candidates in index order, verified; no outer ORDER BY (sorting the
        # verified rows costs more than the scan): the page is sorted here instead. A small
        # window first: a common query is dense, and a window is materialised whole.
        sql = (
            f"SELECT g.subject_id, g.name_len FROM (SELECT subject_id, name_len "  # noqa: S608
            f"FROM {_GRAM_TABLE} WHERE gram = %s AND is_former = %s "
            f"ORDER BY name_len, subject_id LIMIT %s) g {join} WHERE {verify} LIMIT %s"
        )
        for window in (MAX_SCAN // 10, MAX_SCAN):
            rows = _fetch(sql, [gram, is_former, window, pattern, limit])
            if len(rows) >= limit:
                break
        rows.sort(key=lambda r: (r[1], r[0]))
    else:
        sql = (
            f"SELECT g.subject_id FROM {_GRAM_TABLE} g {join} "  # noqa: S608
            f"WHERE g.gram = %s AND g.is_former = %s AND {verify} "
            "ORDER BY g.name_len, g.subject_id LIMIT %s"
        )
        rows = _fetch(sql, [gram, is_former, pattern, limit])
    return [r[0] for r in rows], len(rows) >= limit


def _bigrams(folded: str) -> list[str]:
    return list(dict.fromkeys(folded[i : i + 2] for i in range(len(folded) - 1)))


def _substring_ids(folded: str, *, is_former: bool, limit: int) -> tuple[list[int], bool]:
    if len(folded) == 2:
        return _gram_scan(
            gram=folded, is_former=is_former, pattern=None, limit=limit, bounded=False
        )
    grams = _bigrams(folded)
    counts = _gram_counts(grams, is_former, COUNT_CAP)
    if min(counts.values()) >= COUNT_CAP:  # all common: tell 有限 (60%) from 限责 (6%)
        counts = _gram_counts(grams, is_former, BIG_COUNT_CAP)
    driver, count = min(counts.items(), key=lambda item: item[1])
    if count == 0:
        return [], False  # a bigram of the query occurs in no name
    pattern = f"%{_like_escape(folded)}%"
    bounded = count > MAX_SCAN
    ids, more = _gram_scan(
        gram=driver, is_former=is_former, pattern=pattern, limit=limit, bounded=bounded
    )
    # A bounded scan saw only the shortest MAX_SCAN candidates: there may be more matches.
    return ids, more or bounded


def _prefix_ids(text: str, folded: str, *, is_former: bool, limit: int) -> tuple[list[int], bool]:
    if len(folded) <= PREFIX_ROWS:  # the prefix rows of exactly this query: nothing to verify
        return _gram_scan(
            gram="^" + folded, is_former=is_former, pattern=None, limit=limit, bounded=False
        )
    if _is_sqlite() and text == folded:
        model, id_field = (FormerName, "subject_id") if is_former else (Subject, "pk")
        rows = list(
            model.objects.filter(_prefix_q("name", text))
            .order_by("name")
            .values_list(id_field, "name")[:PREFIX_RANGE_CAP]
        )
        if len(rows) < PREFIX_RANGE_CAP:
            rows.sort(key=lambda r: (len(fold_name(r[1])), r[0]))
            ids = list(dict.fromkeys(r[0] for r in rows))
            return ids[:limit], len(ids) > limit
    # Longer and dense (or not SQLite): the rows of its first PREFIX_ROWS characters list the
    # candidates shortest first; when the range showed many matches they come soon.
    gram = "^" + folded[:PREFIX_ROWS]
    dense = _is_sqlite() and text == folded
    bounded = not dense and _gram_counts([gram], is_former, MAX_SCAN + 1)[gram] > MAX_SCAN
    pattern = f"{_like_escape(folded)}%"
    ids, more = _gram_scan(
        gram=gram, is_former=is_former, pattern=pattern, limit=limit, bounded=bounded
    )
    return ids, more or bounded


def _code_ids(code: str, *, limit: int) -> tuple[list[tuple[int, str]], bool]:
    found: list[tuple[int, str]] = []
    exact = Subject.objects.filter(code=code).values_list("pk", flat=True).first()
    if exact is not None:
        found.append((exact, "code"))
    more = False
    if 4 <= len(code) < 18:
        ids = list(
            Subject.objects.filter(_prefix_q("code", code))
            .order_by("code")
            .values_list("pk", flat=True)[:limit]
        )
        found += [(i, "code_prefix") for i in ids]
        more = len(ids) >= limit
    return found, more


def _is_valid_code(code: str) -> bool:
    """A whole, valid USCC or resident ID number: no name contains one, skip name search."""
    if len(code) != 18:
        return False
    try:
        classify_code(code)
    except IdentifierError:
        return False
    return True


def _check_query(q: str | None) -> str:
    text = (q or "").strip()
    if len(text) < MIN_QUERY_LENGTH:
        raise ValidationFailed(
            "Type at least 2 characters: a code, or 2 or more characters of a name.",
            code="query_too_short",
            details={"field": "q", "min_length": MIN_QUERY_LENGTH},
        )
    return text


def subject_search(*, q: str, limit: int = 20, offset: int = 0) -> SearchResult:
    """Find subjects by code, name fragment (2+ characters) or former name; see module doc.

    Raises ``ValidationFailed`` (``query_too_short``) for a query under 2 characters. Items
    are :class:`SearchHit` with unmasked subjects: mask them for the public with
    :func:`subject_public_dict`.
    """
    text = _check_query(q)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    want = max(offset + limit, TOTAL_CAP)

    order: dict[int, str] = {}  # subject id → match kind, in rank order
    capped = False

    def take(ids: list[int], match: str) -> None:
        for sid in ids:
            if sid not in order:
                order[sid] = match

    code = _normalize_code(text)
    if code.isascii() and code.isalnum():
        found, more = _code_ids(code, limit=want)
        for sid, match in found:
            order.setdefault(sid, match)
        capped |= more

    folded = fold_name(text)
    if len(folded) >= MIN_QUERY_LENGTH and not _is_valid_code(code):
        for match, is_former, finder in (
            ("prefix", False, "prefix"),
            ("former_prefix", True, "prefix"),
            ("substring", False, "substring"),
            ("former_substring", True, "substring"),
        ):
            if len(order) >= want:
                capped = True
                break
            room = want + len(order)  # earlier ranks reappear in later ones
            if finder == "prefix":
                ids, more = _prefix_ids(text, folded, is_former=is_former, limit=room)
            else:
                ids, more = _substring_ids(folded, is_former=is_former, limit=room)
            take(ids, match)
            capped |= more

    ranked = list(order.items())
    total = len(ranked)
    if total > TOTAL_CAP:
        capped = True
    page = ranked[offset : offset + limit]
    subjects = Subject.objects.in_bulk([sid for sid, _m in page])
    former_hits: dict[int, str] = {}
    former_ids = [sid for sid, m in page if m.startswith("former")]
    if former_ids:
        for sid, name in FormerName.objects.filter(subject_id__in=former_ids).values_list(
            "subject_id", "name"
        ):
            if folded in fold_name(name) and sid not in former_hits:
                former_hits[sid] = name
    items = [
        SearchHit(subject=subjects[sid], match=m, matched_name=former_hits.get(sid))
        for sid, m in page
        if sid in subjects
    ]
    kinds: dict[str, int] = {}
    for _sid, m in ranked:
        kinds[m] = kinds.get(m, 0) + 1
    return SearchResult(
        items=items,
        total=total,
        capped=capped,
        query=text,
        limit=limit,
        offset=offset,
        kinds=kinds,
    )
