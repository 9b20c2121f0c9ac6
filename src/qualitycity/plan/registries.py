"""The standards and brand registries: their file columns, row validation, standard-number
validation per kind, and the metrics that compute targets from them as of a date.

A registry file has one row per item with the columns of its kind (``KINDS``; English names,
Chinese labels also accepted). Organisations are registered subjects, named by USCC (several
separated by ``;``). Each kind has a natural key (the standard number, the registration
number, …): a row whose key exists with the same values is a duplicate, with other values an
update.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q

from qualitycity.records.catalogue import normalize_header

from .models import (
    BrandTitle,
    MadridRegistration,
    PilotProject,
    QualityAward,
    Standard,
    StandardBody,
    Trademark,
)

# --------------------------------------------------------------------------------------------
# Standard numbers
# --------------------------------------------------------------------------------------------

INDUSTRY_CODES = frozenset(
    {
        "AQ",
        "BB",
        "CB",
        "CH",
        "CJ",
        "CY",
        "DA",
        "DL",
        "DY",
        "DZ",
        "EJ",
        "FZ",
        "GA",
        "GH",
        "GM",
        "GY",
        "HB",
        "HG",
        "HJ",
        "HS",
        "HY",
        "JB",
        "JC",
        "JG",
        "JR",
        "JT",
        "JY",
        "LB",
        "LD",
        "LS",
        "LY",
        "MH",
        "MT",
        "MZ",
        "NB",
        "NY",
        "QB",
        "QC",
        "QJ",
        "QX",
        "SB",
        "SC",
        "SH",
        "SJ",
        "SL",
        "SN",
        "SY",
        "TB",
        "TD",
        "TY",
        "WB",
        "WH",
        "WJ",
        "WM",
        "WS",
        "WW",
        "XB",
        "YB",
        "YC",
        "YD",
        "YS",
        "YY",
        "YZ",
        "ZY",
    }
)
_YEAR = r"(?P<year>\d{4})"
_NUM = r"\d{1,5}(?:\.\d{1,3})?"
STANDARD_PATTERNS: list[tuple[str, str, re.Pattern[str]]] = [
    # kind, level, pattern
    (
        "iso_iec",
        "international",
        re.compile(
            r"^(?:ISO|IEC|ISO/IEC)(?:/(?:TS|TR|PAS))? \d{1,5}(?:-\d{1,3}){0,3}:" + _YEAR + "$"
        ),
    ),
    (
        "itu",
        "international",
        re.compile(r"^ITU-[TR] [A-Z]{1,2}\.\d{1,4}(?:\.\d{1,3})? \(" + _YEAR + r"\)$"),
    ),
    ("gb", "national", re.compile(r"^GB(?:/[TZ])? " + _NUM + "-" + _YEAR + "$")),
    (
        "industry",
        "industry",
        re.compile(r"^(?P<code>[A-Z]{2})(?:/[TZ])? " + _NUM + "-" + _YEAR + "$"),
    ),
    ("local", "local", re.compile(r"^DB\d{2}(?:\d{2})?(?:/T)? " + _NUM + "-" + _YEAR + "$")),
    ("group", "group", re.compile(r"^T/[A-Z][A-Z0-9]{1,11} " + _NUM + "-" + _YEAR + "$")),
]
_FULLWIDTH = str.maketrans({"／": "/", "－": "-", "—": "-", "–": "-", "：": ":", "　": " "})


class StandardNumberError(ValueError):
    pass


def normalize_standard_number(raw: str) -> str:
    text = re.sub(r"\s+", " ", str(raw).translate(_FULLWIDTH).strip().upper())
    # "GB/T19001-2016" → "GB/T 19001-2016": one space between the prefix and the number.
    return re.sub(
        r"^(DB\d{2}(?:\d{2})?(?!\d)(?:/T)?|T/[A-Z]+|(?!DB\d)[A-Z][A-Z/\-]*[A-Z])(?=\d)",
        r"\1 ",
        text,
    )


def classify_standard_number(raw: str) -> tuple[str, str, str]:
    """``(normalised number, kind, level)`` or :class:`StandardNumberError` saying why not.

    Kinds: ``iso_iec`` (ISO, IEC, ISO/IEC ``nnnnn[-p]:yyyy``), ``itu``, ``gb`` (GB, GB/T, GB/Z
    ``nnnnn-yyyy``), ``industry`` (two-letter industry codes such as JB/T), ``local`` (DB37/T,
    DB3702/T), ``group`` (T/xxx).
    """
    number = normalize_standard_number(raw)
    if not number:
        raise StandardNumberError("empty standard number")
    for kind, level, pattern in STANDARD_PATTERNS:
        m = pattern.match(number)
        if not m:
            continue
        if kind == "industry" and m.group("code") not in INDUSTRY_CODES:
            if m.group("code") == "DB" or m.group("code") == "GB":
                continue
            raise StandardNumberError(f"unknown industry standard code {m.group('code')}")
        year = int(m.group("year"))
        if not 1946 <= year <= dt.date.today().year + 1:
            raise StandardNumberError(f"implausible year {year} in {number}")
        return number, kind, level
    raise StandardNumberError(
        f"{number!r} is not a standard number (ISO/IEC nnnnn[-p]:yyyy, GB/T nnnnn-yyyy, "
        "JB/T nnnn-yyyy, DB37/T nnnn-yyyy, T/XXX nnn-yyyy)"
    )


# --------------------------------------------------------------------------------------------
# Columns and row validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    label_zh: str
    type: str = "text"  # text, date, int, choice, subjects, standard_number, list
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    label_zh: str
    model: type[models.Model]
    key: str
    columns: tuple[Column, ...]
    group: str  # standards | brands

    def header_index(self) -> dict[str, str]:
        out = {}
        for c in self.columns:
            out[normalize_header(c.name)] = c.name
            out[normalize_header(c.label_zh)] = c.name
        return out


_ORGS = Column("organisations", "单位统一社会信用代码", "subjects")
_ORG = Column("owner_uscc", "权利人统一社会信用代码", "subjects")

KINDS: dict[str, Kind] = {
    k.code: k
    for k in [
        Kind(
            "standards",
            "Standards",
            "标准",
            Standard,
            "number",
            (
                Column("number", "标准号", "standard_number"),
                Column("title", "标准名称"),
                Column("level", "标准层级", "choice", choices=tuple(Standard.Level.values)),
                Column("role", "角色", "choice", choices=tuple(Standard.Role.values)),
                Column("domain", "领域", required=False),
                _ORGS,
                Column("published_on", "发布日期", "date"),
                Column("effective_on", "实施日期", "date", required=False),
                Column("withdrawn_on", "废止日期", "date", required=False),
            ),
            "standards",
        ),
        Kind(
            "standard_bodies",
            "Technical bodies and innovation bases",
            "标准化技术组织与创新基地",
            StandardBody,
            "code",
            (
                Column("code", "编号"),
                Column("kind", "类别", "choice", choices=tuple(StandardBody.Kind.values)),
                Column("name", "名称"),
                _ORGS,
                Column("established_on", "承担日期", "date"),
                Column("ended_on", "终止日期", "date", required=False),
            ),
            "standards",
        ),
        Kind(
            "pilot_projects",
            "Standardisation pilot and demonstration projects",
            "标准化试点示范项目",
            PilotProject,
            "code",
            (
                Column("code", "项目编号"),
                Column("name", "项目名称"),
                Column("level", "级别", "choice", choices=tuple(PilotProject.Level.values)),
                Column("field", "领域", required=False),
                _ORGS,
                Column("approved_on", "下达日期", "date"),
                Column("completed_on", "验收日期", "date", required=False),
            ),
            "standards",
        ),
        Kind(
            "trademarks",
            "Registered trademarks",
            "注册商标",
            Trademark,
            "registration_number",
            (
                Column("registration_number", "注册号"),
                Column("mark", "商标"),
                Column("nice_class", "国际分类", "int"),
                Column("owner_name", "注册人"),
                _ORG,
                Column("status", "状态", "choice", choices=tuple(Trademark.Status.values)),
                Column("registered_on", "注册日期", "date"),
                Column("valid_until", "专用权期限至", "date"),
                Column("ended_on", "注销/无效日期", "date", required=False),
            ),
            "brands",
        ),
        Kind(
            "madrid",
            "Madrid international registrations",
            "马德里国际注册商标",
            MadridRegistration,
            "international_number",
            (
                Column("international_number", "国际注册号"),
                Column("mark", "商标"),
                Column("basic_registration", "基础注册号", required=False),
                Column("owner_name", "注册人"),
                _ORG,
                Column("designated", "指定国家", "list", required=False),
                Column("registered_on", "国际注册日期", "date"),
                Column("valid_until", "有效期至", "date"),
                Column("ended_on", "失效日期", "date", required=False),
            ),
            "brands",
        ),
        Kind(
            "brand_titles",
            "Brand titles",
            "品牌称号",
            BrandTitle,
            "certificate",
            (
                Column("certificate", "证书/文号"),
                Column("kind", "类别", "choice", choices=tuple(BrandTitle.Kind.values)),
                Column("name", "品牌/产品"),
                Column("owner_name", "所属单位"),
                _ORG,
                Column("awarding_body", "认定机构"),
                Column("awarded_on", "认定日期", "date"),
                Column("valid_until", "有效期至", "date", required=False),
                Column("withdrawn_on", "撤销日期", "date", required=False),
            ),
            "brands",
        ),
        Kind(
            "quality_awards",
            "Quality awards",
            "质量奖",
            QualityAward,
            "reference",
            (
                Column("reference", "文号"),
                Column("kind", "奖项", "choice", choices=tuple(QualityAward.Kind.values)),
                Column("winner_name", "获奖单位"),
                _ORG,
                Column("awarding_body", "颁奖机构"),
                Column("year", "年度", "int"),
                Column("awarded_on", "颁奖日期", "date"),
            ),
            "brands",
        ),
    ]
}


def get_kind(code: str) -> Kind:
    from qualitycity.core.errors import NotFound

    try:
        return KINDS[code]
    except KeyError:
        raise NotFound(
            f"Unknown registry {code!r}; one of {', '.join(KINDS)}.",
            code="unknown_registry",
            details={"registries": list(KINDS)},
        ) from None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    m = re.match(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$", text)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    return dt.date.fromisoformat(text)


def validate_row(
    kind: Kind, raw: dict[str, Any], subjects: Callable[[list[str]], dict[str, int]]
) -> tuple[dict[str, Any], list[int], dict[str, str]]:
    """``(fields, subject ids, reasons)``; a non-empty ``reasons`` quarantines the row.

    ``subjects(codes)`` maps registered USCCs to subject ids (unknown ones are absent).
    """
    from qualitycity.subjects.identifiers import IdentifierError, validate_uscc

    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    subject_ids: list[int] = []
    for col in kind.columns:
        value = raw.get(col.name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if col.required:
                reasons[col.name] = "required"
            elif col.type == "list":
                out[col.name] = []
            elif col.type not in ("subjects",):
                out[col.name] = None if col.type in ("date", "int") else ""
            continue
        try:
            if col.type == "date":
                out[col.name] = _date(value)
            elif col.type == "int":
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                out[col.name] = int(str(value))
            elif col.type == "choice":
                if str(value) not in col.choices:
                    raise ValueError(f"not one of {', '.join(col.choices)}: {value}")
                out[col.name] = str(value)
            elif col.type == "list":
                out[col.name] = [x.strip() for x in re.split(r"[;；,，]", str(value)) if x.strip()]
            elif col.type == "standard_number":
                number, std_kind, std_level = classify_standard_number(str(value))
                out[col.name] = number
                out["kind"] = std_kind
                out["_number_level"] = std_level
            elif col.type == "subjects":
                codes = []
                for part in re.split(r"[;；,，\s]+", str(value)):
                    if part:
                        codes.append(validate_uscc(part))
                known = subjects(codes)
                unknown = [c for c in codes if c not in known]
                if unknown:
                    raise ValueError(f"not in the subject registry: {', '.join(unknown)}")
                subject_ids = [known[c] for c in codes]
            else:
                out[col.name] = str(value)[:300]
        except IdentifierError as exc:
            reasons[col.name] = f"invalid USCC: {exc}"
        except StandardNumberError as exc:
            reasons[col.name] = str(exc)
        except (ValueError, TypeError) as exc:
            reasons[col.name] = str(exc) or "invalid"
    nice = out.get("nice_class") if kind.code == "trademarks" else None
    if nice is not None and not 1 <= nice <= 45:
        reasons["nice_class"] = f"Nice class must be 1–45, not {out['nice_class']}"
    number_level = out.pop("_number_level", None)
    if kind.code == "standards" and number_level and out.get("level") not in (None, number_level):
        reasons["level"] = (
            f"the number {out.get('number')} is a {number_level} standard, not {out['level']}"
        )
    for start, end in (
        ("registered_on", "valid_until"),
        ("published_on", "withdrawn_on"),
        ("established_on", "ended_on"),
        ("approved_on", "completed_on"),
        ("awarded_on", "withdrawn_on"),
    ):
        if out.get(start) and out.get(end) and out[end] < out[start]:
            reasons[end] = f"{end} is before {start}"
    award_year, awarded_on = out.get("year"), out.get("awarded_on")
    mismatch = award_year and awarded_on and abs(awarded_on.year - award_year) > 1
    if kind.code == "quality_awards" and mismatch:
        reasons["year"] = f"the award year {award_year} does not match awarded_on"
    return out, subject_ids, reasons


# --------------------------------------------------------------------------------------------
# Metrics: computed targets as of a date, with the items behind the number
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    code: str
    description: str
    kind: str  # the registry
    items: Callable[[dt.date, dt.date], models.QuerySet]  # (as_of, plan start) → items


def _in_force(field_from: str, ended: tuple[str, ...], as_of: dt.date) -> Q:
    q = Q(**{f"{field_from}__lte": as_of})
    for f in ended:
        q &= Q(**{f"{f}__isnull": True}) | Q(**{f"{f}__gt": as_of})
    return q


def _titles(kinds: tuple[str, ...]) -> Callable[[dt.date, dt.date], models.QuerySet]:
    def items(as_of: dt.date, start: dt.date) -> models.QuerySet:
        return BrandTitle.objects.filter(kind__in=kinds).filter(
            _in_force("awarded_on", ("valid_until", "withdrawn_on"), as_of)
        )

    return items


def _registrations_in_force(
    model: type[models.Model],
) -> Callable[[dt.date, dt.date], models.QuerySet]:
    """Trademarks or Madrid registrations registered by the date, within their term (its last
    day included), and not cancelled or invalidated by then."""

    def items(as_of: dt.date, start: dt.date) -> models.QuerySet:
        return model.objects.filter(registered_on__lte=as_of, valid_until__gte=as_of).filter(
            _in_force("registered_on", ("ended_on",), as_of)
        )

    return items


def _standards(levels: tuple[str, ...], domain: str | None = None, *, since_start: bool = True):
    def items(as_of: dt.date, start: dt.date) -> models.QuerySet:
        qs = Standard.objects.filter(level__in=levels, published_on__lte=as_of)
        if since_start:
            qs = qs.filter(published_on__gte=start)
        if domain:
            qs = qs.filter(domain=domain).filter(
                Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gt=as_of)
            )
        return qs

    return items


METRICS: dict[str, Metric] = {
    m.code: m
    for m in [
        Metric(
            "standard_bodies_new",
            "secretariats of international/national technical bodies and national innovation "
            "bases newly taken on since the plan started, still held",
            "standard_bodies",
            lambda as_of, start: StandardBody.objects.filter(
                kind__in=("international_secretariat", "national_secretariat", "innovation_base"),
                established_on__gte=start,
            ).filter(_in_force("established_on", ("ended_on",), as_of)),
        ),
        Metric(
            "intl_standards",
            "international standards led or taken part in, published since the plan started",
            "standards",
            _standards(("international",)),
        ),
        Metric(
            "national_industry_standards",
            "national and industry standards led or taken part in, published since the plan "
            "started",
            "standards",
            _standards(("national", "industry")),
        ),
        Metric(
            "agri_local_standards",
            "local standards of the agriculture domain in force",
            "standards",
            _standards(("local",), domain="agriculture", since_start=False),
        ),
        Metric(
            "pilot_projects_new",
            "national and provincial pilot/demonstration projects approved since the plan started",
            "pilot_projects",
            lambda as_of, start: PilotProject.objects.filter(
                approved_on__gte=start, approved_on__lte=as_of
            ),
        ),
        Metric(
            "group_standard_orgs",
            "group (alliance) standards organisations formed since the plan started, still active",
            "standard_bodies",
            lambda as_of, start: StandardBody.objects.filter(
                kind="group_organisation", established_on__gte=start
            ).filter(_in_force("established_on", ("ended_on",), as_of)),
        ),
        Metric(
            "world_brand_lab_500",
            "World Brand Lab top-500 titles in force",
            "brand_titles",
            _titles(("world_brand_lab_500",)),
        ),
        Metric(
            "china_500_valuable",
            "China's 500 most valuable brands titles in force",
            "brand_titles",
            _titles(("china_500_valuable",)),
        ),
        Metric(
            "industrial_brand_demo",
            "national industrial brand-cultivation demonstration enterprises in force",
            "brand_titles",
            _titles(("industrial_brand_demo",)),
        ),
        Metric(
            "china_quality_award",
            "China Quality Awards and nominations received by the date",
            "quality_awards",
            lambda as_of, start: QualityAward.objects.filter(
                kind__in=("china_quality_award", "china_quality_award_nomination"),
                awarded_on__lte=as_of,
            ),
        ),
        Metric(
            "valid_trademarks",
            "trademarks registered by the date, within their term, not cancelled or invalidated",
            "trademarks",
            _registrations_in_force(Trademark),
        ),
        Metric(
            "madrid_registrations",
            "Madrid international registrations in force",
            "madrid",
            _registrations_in_force(MadridRegistration),
        ),
        Metric(
            "well_known_trademarks",
            "China well-known trademarks recognised by the date",
            "brand_titles",
            _titles(("well_known",)),
        ),
        Metric(
            "national_agri_brands",
            "nationally known agricultural brands in force",
            "brand_titles",
            _titles(("national_agri_brand",)),
        ),
        Metric(
            "shandong_famous_brands",
            "Shandong famous-brand products and services in force",
            "brand_titles",
            _titles(("famous_product", "famous_service")),
        ),
        Metric(
            "three_products_one_mark",
            "pollution-free, green, organic and geographical-indication certifications in force",
            "brand_titles",
            _titles(BrandTitle.THREE_PRODUCTS_ONE_MARK),
        ),
        Metric(
            "time_honoured_brands",
            "China time-honoured brands in force",
            "brand_titles",
            _titles(("time_honoured",)),
        ),
    ]
}
