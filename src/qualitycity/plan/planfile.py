"""The plan as a structured file (YAML, or JSON — which the YAML loader reads too).

``parse(text, name)`` checks a whole file and returns a :class:`PlanSpec`, or raises
:class:`PlanFileError` whose ``problems`` are ``file:line: problem`` strings — every problem
found, not just the first. ``dump(spec)`` writes the same shape back (export), so an export
imports unchanged. The format is documented in ``docs/plan.md``; ``config/seed_plan.yaml`` is an
example.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from qualitycity.core import yamllines
from qualitycity.core.errors import ValidationFailed

DIRECTIONS = ("at_least", "at_most", "exactly")
OBTAINED = ("reported", "computed")
FREQUENCIES = ("quarterly", "monthly", "half_yearly", "yearly")
MEASURE_NUMBER = re.compile(r"^[一二三四五六七八九十]+\([一二三四五六七八九十]+\)$")
TARGET_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")


class PlanFileError(ValidationFailed):
    code = "invalid_plan_file"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "The plan file is malformed:\n" + "\n".join(problems), details={"problems": problems}
        )


@dataclass
class PlanSpec:
    plan: dict[str, Any]
    sections: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)


class _Checker:
    def __init__(self, name: str, departments: set[str], metrics: set[str]):
        self.name, self.departments, self.metrics = name, departments, metrics
        self.problems: list[str] = []

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(f"{self.name}:{line or '?'}: {message}")

    @staticmethod
    def line_of(node: Any, key: str | None = None) -> int | None:
        if key is not None and isinstance(node, yamllines.LineMap):
            return node.key_lines.get(key, node.line)
        return getattr(node, "line", None)

    def mapping(self, node: Any, where: str, line: int | None) -> yamllines.LineMap | None:
        if not isinstance(node, dict):
            self.problem(line, f"{where} must be a mapping")
            return None
        return node

    def text(self, node: dict, key: str, where: str, *, required: bool = True) -> str:
        value = node.get(key)
        if value is None or value == "":
            if required:
                self.problem(self.line_of(node, key), f"{where}: {key} is required")
            return ""
        if not isinstance(value, (str, int)):
            self.problem(self.line_of(node, key), f"{where}: {key} must be text")
            return ""
        return str(value).strip()

    def date(self, node: dict, key: str, where: str, *, required: bool = False) -> dt.date | None:
        value = node.get(key)
        if value is None or value == "":
            if required:
                self.problem(self.line_of(node, key), f"{where}: {key} is required")
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.problem(self.line_of(node, key), f"{where}: {key} is not a date: {value!r}")
            return None

    def number(self, node: dict, key: str, where: str) -> float | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(self.line_of(node, key), f"{where}: {key} must be a number: {value!r}")
            return None
        return float(value)

    def year(self, node: dict, key: str, where: str, *, required: bool) -> int | None:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(self.line_of(node, key), f"{where}: {key} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
            self.problem(self.line_of(node, key), f"{where}: {key} is not a year: {value!r}")
            return None
        return value

    def department(self, node: dict, key: str, where: str, value: Any = None) -> str:
        code = node.get(key) if value is None else value
        if not isinstance(code, str) or code not in self.departments:
            self.problem(self.line_of(node, key), f"{where}: unknown department code {code!r}")
            return ""
        return code


def parse(text: str, name: str, *, departments: set[str], metrics: set[str]) -> PlanSpec:
    """Check a plan file against the known department codes and registry metrics."""
    try:
        doc = yamllines.load(text)
    except yamllines.YamlLineError as exc:
        raise PlanFileError([f"{name}:{exc.line or '?'}: {exc.message}"]) from None
    c = _Checker(name, departments, metrics)
    if not isinstance(doc, dict):
        raise PlanFileError([f"{name}:1: the file must be a mapping with plan, sections, measures"])
    for key in doc:
        if key not in ("plan", "sections", "measures", "targets"):
            c.problem(c.line_of(doc, key), f"unknown key {key!r}")

    plan_node = c.mapping(doc.get("plan"), "plan", c.line_of(doc, "plan") or 1) or {}
    plan = {
        "code": c.text(plan_node, "code", "plan"),
        "title": c.text(plan_node, "title", "plan"),
        "title_en": c.text(plan_node, "title_en", "plan", required=False),
        "source_document": c.text(plan_node, "source_document", "plan", required=False),
        "document_date": c.date(plan_node, "document_date", "plan"),
        "published_on": c.date(plan_node, "published_on", "plan"),
        "starts_on": c.date(plan_node, "starts_on", "plan", required=True),
        "ends_on": c.date(plan_node, "ends_on", "plan", required=True),
        "report_frequency": plan_node.get("report_frequency") or "quarterly",
        "issuing_bodies": [],
    }
    if plan["code"] and not re.match(r"^[a-z0-9][a-z0-9_-]*$", plan["code"]):
        c.problem(c.line_of(plan_node, "code"), f"plan: code must be a slug: {plan['code']!r}")
    bodies = plan_node.get("issuing_bodies") or []
    if not isinstance(bodies, list) or not all(isinstance(b, str) for b in bodies):
        c.problem(c.line_of(plan_node, "issuing_bodies"), "plan: issuing_bodies must be a list")
    else:
        plan["issuing_bodies"] = list(bodies)
    if plan["report_frequency"] not in FREQUENCIES:
        c.problem(
            c.line_of(plan_node, "report_frequency"),
            f"plan: report_frequency must be one of {', '.join(FREQUENCIES)}",
        )
    if plan["starts_on"] and plan["ends_on"] and plan["ends_on"] < plan["starts_on"]:
        c.problem(c.line_of(plan_node, "ends_on"), "plan: ends_on is before starts_on")

    sections: list[dict[str, Any]] = []
    seen_sections: dict[str, int | None] = {}
    for node in _seq(c, doc, "sections"):
        s = c.mapping(node, "section", c.line_of(node))
        if s is None:
            continue
        number = c.text(s, "number", "section")
        if number in seen_sections:
            c.problem(c.line_of(s, "number"), f"duplicate section number {number}")
        seen_sections[number] = c.line_of(s)
        sections.append(
            {
                "number": number,
                "title": c.text(s, "title", f"section {number}"),
                "title_en": c.text(s, "title_en", f"section {number}", required=False),
            }
        )

    measures: list[dict[str, Any]] = []
    seen_measures: set[str] = set()
    for node in _seq(c, doc, "measures"):
        m = c.mapping(node, "measure", c.line_of(node))
        if m is None:
            continue
        number = c.text(m, "number", "measure")
        where = f"measure {number or '?'}"
        if number and not MEASURE_NUMBER.match(number):
            c.problem(c.line_of(m, "number"), f"{where}: number must look like 二(三)")
        if number in seen_measures:
            c.problem(c.line_of(m, "number"), f"duplicate measure number {number}")
        seen_measures.add(number)
        section = c.text(m, "section", where)
        if section and section not in seen_sections:
            c.problem(c.line_of(m, "section"), f"{where}: unknown section {section!r}")
        elif number and section and not number.startswith(f"{section}("):
            c.problem(c.line_of(m, "number"), f"{where}: number is not in section {section}")
        coop = m.get("cooperating_departments") or []
        if not isinstance(coop, list):
            c.problem(c.line_of(m, "cooperating_departments"), f"{where}: must be a list")
            coop = []
        lead = c.department(m, "lead_department", where)
        coop_codes = [c.department(m, "cooperating_departments", where, value=x) for x in coop]
        if lead and lead in coop_codes:
            c.problem(
                c.line_of(m, "cooperating_departments"),
                f"{where}: the lead department {lead} is also listed as cooperating",
            )
        confirmed = m.get("departments_confirmed", False)
        if not isinstance(confirmed, bool):
            c.problem(c.line_of(m, "departments_confirmed"), f"{where}: must be true or false")
            confirmed = False
        measures.append(
            {
                "number": number,
                "section": section,
                "title": c.text(m, "title", where),
                "text": c.text(m, "text", where),
                "lead_department": lead,
                "cooperating_departments": [x for x in coop_codes if x],
                "departments_confirmed": confirmed,
                "deliverables": c.text(m, "deliverables", where, required=False),
                "deadline": c.date(m, "deadline", where),
            }
        )

    targets: list[dict[str, Any]] = []
    seen_targets: set[str] = set()
    for node in _seq(c, doc, "targets", required=False):
        t = c.mapping(node, "target", c.line_of(node))
        if t is None:
            continue
        code = c.text(t, "code", "target")
        where = f"target {code or '?'}"
        if code and not TARGET_CODE.match(code):
            c.problem(c.line_of(t, "code"), f"{where}: code must be lower-case letters, digits, _")
        if code in seen_targets:
            c.problem(c.line_of(t, "code"), f"duplicate target code {code}")
        seen_targets.add(code)
        direction = t.get("direction")
        if direction not in DIRECTIONS:
            c.problem(
                c.line_of(t, "direction"),
                f"{where}: direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}",
            )
        obtained = t.get("obtained")
        if obtained not in OBTAINED:
            c.problem(c.line_of(t, "obtained"), f"{where}: obtained must be reported or computed")
        metric = t.get("metric") or ""
        if obtained == "computed" and metric not in metrics:
            c.problem(
                c.line_of(t, "metric") or c.line_of(t, "obtained"),
                f"{where}: a computed target needs a known metric, not {metric!r} "
                f"(one of {', '.join(sorted(metrics))})",
            )
        if obtained == "reported" and metric:
            c.problem(c.line_of(t, "metric"), f"{where}: a reported target has no metric")
        baseline = t.get("baseline") or {}
        goal = t.get("target")
        if not isinstance(baseline, dict):
            c.problem(c.line_of(t, "baseline"), f"{where}: baseline must be {{value, year}}")
            baseline = {}
        if not isinstance(goal, dict):
            c.problem(
                c.line_of(t, "target") or c.line_of(t), f"{where}: target must be {{value, year}}"
            )
            goal = {}
        measure = t.get("measure") or ""
        if measure and measure not in seen_measures:
            c.problem(c.line_of(t, "measure"), f"{where}: unknown measure {measure!r}")
        per_year = t.get("per_year", False)
        if not isinstance(per_year, bool):
            c.problem(c.line_of(t, "per_year"), f"{where}: per_year must be true or false")
            per_year = False
        targets.append(
            {
                "code": code,
                "indicator": c.text(t, "indicator", where),
                "indicator_en": c.text(t, "indicator_en", where, required=False),
                "unit": c.text(t, "unit", where, required=False),
                "direction": direction,
                "baseline_value": c.number(baseline, "value", f"{where} baseline"),
                "baseline_year": c.year(baseline, "year", f"{where} baseline", required=False),
                "target_value": c.number(goal, "value", f"{where} target"),
                "target_year": c.year(goal, "year", f"{where} target", required=True),
                "per_year": per_year,
                "source_section": c.text(t, "source_section", where, required=False),
                "obtained": obtained,
                "metric": metric,
                "department": c.department(t, "department", where),
                "measure": measure,
                "note": c.text(t, "note", where, required=False),
            }
        )
    if c.problems:
        raise PlanFileError(c.problems)
    return PlanSpec(plan=plan, sections=sections, measures=measures, targets=targets)


def _seq(c: _Checker, doc: dict, key: str, *, required: bool = True) -> list[Any]:
    node = doc.get(key)
    if node is None:
        if required:
            c.problem(1, f"{key} is required")
        return []
    if not isinstance(node, list):
        c.problem(c.line_of(doc, key), f"{key} must be a list")
        return []
    return node


def to_document(spec: PlanSpec) -> dict[str, Any]:
    """The file's shape (the inverse of :func:`parse`)."""

    def day(d: dt.date | None) -> str | None:
        return d.isoformat() if d else None

    p = spec.plan
    plan = {
        "code": p["code"],
        "title": p["title"],
        "title_en": p.get("title_en", ""),
        "issuing_bodies": list(p.get("issuing_bodies") or []),
        "document_date": day(p.get("document_date")),
        "published_on": day(p.get("published_on")),
        "source_document": p.get("source_document", ""),
        "starts_on": day(p["starts_on"]),
        "ends_on": day(p["ends_on"]),
        "report_frequency": p.get("report_frequency", "quarterly"),
    }
    measures = [
        {
            "number": m["number"],
            "section": m["section"],
            "title": m["title"],
            "text": m["text"],
            "lead_department": m["lead_department"],
            "cooperating_departments": list(m["cooperating_departments"]),
            "departments_confirmed": bool(m["departments_confirmed"]),
            "deliverables": m.get("deliverables", ""),
            "deadline": day(m.get("deadline")),
        }
        for m in spec.measures
    ]
    targets = []
    for t in spec.targets:
        row: dict[str, Any] = {
            "code": t["code"],
            "indicator": t["indicator"],
            "indicator_en": t.get("indicator_en", ""),
            "unit": t.get("unit", ""),
            "direction": t["direction"],
            "baseline": {"value": _num(t["baseline_value"]), "year": t["baseline_year"]},
            "target": {"value": _num(t["target_value"]), "year": t["target_year"]},
            "source_section": t.get("source_section", ""),
            "obtained": t["obtained"],
            "department": t["department"],
            "measure": t.get("measure") or None,
        }
        if t.get("metric"):
            row["metric"] = t["metric"]
        if t.get("per_year"):
            row["per_year"] = True
        if t.get("note"):
            row["note"] = t["note"]
        targets.append(row)
    return {"plan": plan, "sections": spec.sections, "measures": measures, "targets": targets}


def _num(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def dump(spec: PlanSpec, fmt: str = "yaml") -> str:
    doc = to_document(spec)
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
