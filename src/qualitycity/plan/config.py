"""The app's configuration files: the reporting calendar and thresholds
(``config/settings.yaml``) and the assessment scheme (``config/assessment.yaml``).

A file in ``$QUALITYCITY_HOME/plan/`` with the same name replaces the shipped one, so a city
changes its scheme without editing the package. A malformed file is refused with its line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from qualitycity.core import yamllines
from qualitycity.core.errors import ValidationFailed

PACKAGE_CONFIG = Path(__file__).parent / "config"
SEED_PLAN = PACKAGE_CONFIG / "seed_plan.yaml"
COMPONENTS = ("task_completion", "timeliness", "target_achievement")


def _path(name: str) -> Path:
    override = Path(settings.HOME) / "plan" / name
    return override if override.exists() else PACKAGE_CONFIG / name


def _load(path: Path) -> Any:
    try:
        return yamllines.load(path.read_text(encoding="utf-8"))
    except yamllines.YamlLineError as exc:
        raise ValidationFailed(
            f"{path}:{exc.line or '?'}: {exc.message}", code="invalid_configuration"
        ) from None


def _number(doc: Any, key: str, path: Path, *, low: float = 0.0, high: float = 1e9) -> float:
    value = doc.get(key) if isinstance(doc, dict) else None
    line = doc.key_lines.get(key, doc.line) if isinstance(doc, yamllines.LineMap) else "?"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValidationFailed(
            f"{path}:{line}: {key} must be a number between {low} and {high}",
            code="invalid_configuration",
        )
    return float(value)


@lru_cache(maxsize=1)
def plan_settings() -> dict[str, Any]:
    path = _path("settings.yaml")
    doc = _load(path)
    projection = doc.get("projection") or {}
    out = {
        "report_due_days": int(_number(doc, "report_due_days", path, high=366)),
        "on_track": _number(projection, "on_track", path, high=10),
        "at_risk": _number(projection, "at_risk", path, high=10),
        "missing_reports": int(_number(doc.get("notices") or {}, "missing_reports", path, low=1)),
    }
    if out["at_risk"] > out["on_track"]:
        raise ValidationFailed(
            f"{path}: projection.at_risk must not exceed on_track", code="invalid_configuration"
        )
    return out


def assessment_scheme(text: str | None = None, name: str = "assessment.yaml") -> dict[str, Any]:
    """The scheme as a plain dict (``text`` checks a scheme given inline, e.g. by a test)."""
    path = _path("assessment.yaml") if text is None else Path(name)
    if text is None:
        doc = _load(path)
    else:
        try:
            doc = yamllines.load(text)
        except yamllines.YamlLineError as exc:
            raise ValidationFailed(
                f"{name}:{exc.line or '?'}: {exc.message}", code="invalid_configuration"
            ) from None
    if not isinstance(doc, dict):
        raise ValidationFailed(
            f"{path}:1: the scheme must be a mapping", code="invalid_configuration"
        )
    weights = doc.get("weights") or {}
    for key in weights:
        if key not in COMPONENTS:
            raise ValidationFailed(
                f"{path}:{weights.key_lines.get(key, '?')}: unknown component {key!r} "
                f"(one of {', '.join(COMPONENTS)})",
                code="invalid_configuration",
            )
    scheme = {
        "weights": {k: _number(weights, k, path, high=100) for k in COMPONENTS},
        "task_status_scores": {
            k: _number(doc.get("task_status_scores") or {}, k, path, high=1)
            for k in ("completed", "on_schedule", "delayed", "not_started")
        },
        "timeliness_scores": {
            k: _number(doc.get("timeliness_scores") or {}, k, path, high=1)
            for k in ("on_time", "late", "missing")
        },
    }
    if sum(scheme["weights"].values()) <= 0:
        raise ValidationFailed(f"{path}: the weights add up to 0", code="invalid_configuration")
    from .registries import METRICS

    district = doc.get("district_metrics") or {}
    if not isinstance(district, dict):
        raise ValidationFailed(
            f"{path}:{doc.key_lines.get('district_metrics', '?')}: district_metrics must be a "
            "mapping of metric → weight",
            code="invalid_configuration",
        )
    for key in district:
        if key not in METRICS:
            raise ValidationFailed(
                f"{path}:{district.key_lines.get(key, '?')}: unknown metric {key!r} "
                f"(one of {', '.join(sorted(METRICS))})",
                code="invalid_configuration",
            )
    scheme["district_metrics"] = {k: _number(district, k, path, high=100) for k in district}
    return scheme
