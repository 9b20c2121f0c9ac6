"""Evaluation runs and their per-subject results.

A run is history: it is written once, by the evaluation job, and never changed afterwards
(apart from its status while it runs). Results of a run that failed are deleted with it, so
readers only ever see complete runs (``EvaluationRun.Status.DONE``).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import RestrictedQuerySet

RISK_CLASSES = [
    ("A", _("A · low risk")),
    ("B", _("B · general risk")),
    ("C", _("C · higher risk")),
    ("D", _("D · high risk")),
]


def _supervision_rule(qs: models.QuerySet, user: Any) -> models.QuerySet:
    """Classes are a supervision tool: only holders of ``credit.read`` see them (the
    supervision roles and API clients given the scope; never enterprises or the public)."""
    from qualitycity.core.permissions import has_scope

    return qs if has_scope(user, "credit.read") else qs.none()


class EvaluationRun(models.Model):
    class Engine(models.TextChoices):
        DUCKDB = "duckdb", "DuckDB"
        SQLITE = "sqlite", "SQLite"
        SPARK = "spark", "Apache Spark"

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    engine = models.CharField(max_length=10, choices=Engine.choices)
    as_of = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    scorecards = models.JSONField(
        default=list, help_text="id, version, effective date and reference of each scorecard used"
    )
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    records_read = models.BigIntegerField(
        default=0,
        help_text="records the scorecards looked at: their datasets, decided on or before "
        "as-of and within the widest window",
    )
    latest_record_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="receipt time of the newest processed submission of the datasets read",
    )
    latest_decision_date = models.DateField(null=True, blank=True)
    subjects_evaluated = models.PositiveIntegerField(default=0)
    class_counts = models.JSONField(default=dict)
    override_counts = models.JSONField(default=dict)
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    timings = models.JSONField(default=dict, help_text="seconds per step: read, compute, store")
    error = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of} {self.engine}"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _supervision_rule(qs, user)


class EvaluationResult(models.Model):
    """One subject's class in one run, with the contribution of every indicator."""

    run = models.ForeignKey(
        EvaluationRun, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    subject = models.ForeignKey(
        "subjects.Subject", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    scorecard = models.CharField(max_length=40)
    scorecard_version = models.CharField(max_length=20)
    score = models.DecimalField(max_digits=6, decimal_places=2)
    risk_class = models.CharField(max_length=1, choices=RISK_CLASSES)
    previous_class = models.CharField(max_length=1, choices=RISK_CLASSES, blank=True)
    override = models.CharField(max_length=60, blank=True)
    contributions = models.JSONField(
        default=dict,
        help_text="indicator id → [value, points]; indicators with neither value nor points "
        "are left out (they contributed 0)",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["run", "subject"], name="unique_result_per_run"),
        ]
        indexes = [models.Index(fields=["subject", "-run"], name="result_subject_run")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.risk_class} ({self.run_id})"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _supervision_rule(qs, user)
