"""Supervision: commitments, inspectors, inspection plans and their draws, results, spot checks
and incident reports.

An inspection plan is drawn by ``draw.py``; every draw is a ``DrawAttempt`` row holding the
seed, the plan parameters, the compressed canonical snapshots of both pools and their SHA-256
digests. The tasks and assignments of a draw refer to their attempt; the plan's current draw is
``InspectionPlan.current_draw``. A re-draw is a new attempt with a reason; earlier attempts and
their tasks stay.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import ChangeLoggedModel, Role


def _department_or_supervision(qs: models.QuerySet, user: Any, field: str) -> models.QuerySet:
    """City-wide roles and inspectors see all; department staff and clients their department."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_citywide or getattr(user, "role", None) == Role.INSPECTOR:
        return qs
    dept = getattr(user, "department_id", None)
    if user.role == Role.DATA_OFFICER and dept:
        return qs.filter(**{field: dept})
    return qs.none()


# --------------------------------------------------------------------------------------------
# Credit commitments
# --------------------------------------------------------------------------------------------


class Commitment(ChangeLoggedModel):
    """A credit commitment an enterprise signed (a ``credit_commitment`` credit record)."""

    class Status(models.TextChoices):
        IN_FORCE = "in_force", _("In force")
        BROKEN = "broken", _("Broken")
        ENDED = "ended", _("Ended")

    number = models.CharField(max_length=40, unique=True)
    template = models.CharField(max_length=40)
    subject = models.ForeignKey(
        "subjects.Subject", on_delete=models.PROTECT, related_name="commitments"
    )
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    text = models.TextField(help_text="the text signed, as it was")
    scope = models.JSONField(default=list, help_text="datasets whose negative records break it")
    signed_on = models.DateField()
    valid_until = models.DateField()
    signed_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IN_FORCE)
    broken_on = models.DateField(null=True, blank=True)
    breaking_record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-signed_on", "-id"]
        indexes = [models.Index(fields=["status", "subject"], name="commitment_status")]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        if getattr(user, "role", None) == Role.ENTERPRISE:
            binding = getattr(user, "enterprise_binding", None)
            return qs.filter(subject_id=binding.subject_id) if binding else qs.none()
        return _department_or_supervision(qs, user, "department_id")


# --------------------------------------------------------------------------------------------
# Inspectors
# --------------------------------------------------------------------------------------------


class Inspector(ChangeLoggedModel):
    """One law-enforcement inspector of a department (the inspector pool)."""

    badge_no = models.CharField(max_length=30, unique=True, help_text="enforcement certificate")
    name = models.CharField(max_length=100)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, related_name="inspectors"
    )
    qualifications = models.JSONField(
        default=list, help_text="codes of the inspection matters this inspector may carry out"
    )
    district = models.CharField(max_length=6, blank=True, help_text="home district (GB/T 2260)")
    active = models.BooleanField(default=True)
    user = models.OneToOneField(
        "core.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inspector",
        help_text="the platform user of this inspector (role inspector)",
    )

    class Meta:
        ordering = ["department", "badge_no"]

    def __str__(self) -> str:
        return f"{self.name} ({self.badge_no})"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _department_or_supervision(qs, user, "department_id")


class ConflictOfInterest(ChangeLoggedModel):
    """An inspector's declared conflict of interest with a subject: never drawn for it."""

    inspector = models.ForeignKey(Inspector, on_delete=models.CASCADE, related_name="conflicts")
    subject = models.ForeignKey("subjects.Subject", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inspector", "subject"], name="one_conflict_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.inspector_id}×{self.subject_id}"


# --------------------------------------------------------------------------------------------
# Inspection plans and draws
# --------------------------------------------------------------------------------------------


class InspectionPlan(ChangeLoggedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        DRAWN = "drawn", _("Drawn")
        CLOSED = "closed", _("Closed")

    name = models.CharField(max_length=200)
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DRAFT)
    ratios = models.JSONField(help_text="class → sampling ratio in percent, as text (0–100)")
    default_class = models.CharField(max_length=1, default="B")
    filters = models.JSONField(
        default=dict,
        help_text="object pool: industries, districts, statuses (lists) and licence (text)",
    )
    min_inspectors = models.PositiveSmallIntegerField(default=2)
    avoid_home_district = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_draw = models.ForeignKey(
        "DrawAttempt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_joint(self) -> bool:
        return len({i.department_id for i in self.items.all()}) > 1


class PlanItem(models.Model):
    """One department's inspection matter in a plan (a joint plan has several departments)."""

    plan = models.ForeignKey(InspectionPlan, on_delete=models.CASCADE, related_name="items")
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    matter = models.CharField(max_length=200, help_text="the inspection matter (检查事项)")
    qualification = models.CharField(
        max_length=40, blank=True, help_text="the qualification an inspector needs (blank: any)"
    )

    class Meta:
        ordering = ["plan", "department__code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "department"], name="one_item_per_department")
        ]

    def __str__(self) -> str:
        return f"{self.department_id}: {self.matter}"


class DrawAttempt(models.Model):
    """One draw of a plan, with everything needed to re-run it. Never updated or deleted."""

    plan = models.ForeignKey(InspectionPlan, on_delete=models.PROTECT, related_name="draws")
    number = models.PositiveIntegerField()
    seed = models.CharField(max_length=40, help_text="hex of the 128-bit seed")
    algorithm = models.CharField(max_length=100)
    parameters = models.JSONField(encoder=DjangoJSONEncoder)
    class_run = models.ForeignKey(
        "credit.EvaluationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subjects_digest = models.CharField(max_length=64)
    inspectors_digest = models.CharField(max_length=64)
    subjects_snapshot = models.BinaryField(help_text="zlib of the canonical subject pool")
    inspectors_snapshot = models.BinaryField(help_text="zlib of the canonical inspector pool")
    pool_size = models.PositiveIntegerField()
    inspector_count = models.PositiveIntegerField()
    task_count = models.PositiveIntegerField()
    unstaffed = models.JSONField(default=list, help_text="[{subject, code, reason}]")
    class_counts = models.JSONField(default=dict, help_text="class → [pool, drawn]")
    reason = models.TextField(blank=True, help_text="why a plan was drawn again")
    drawn_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    drawn_at = models.DateTimeField()
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="unique_draw_number")
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.number}"


class InspectionTask(models.Model):
    """One subject to visit (once, jointly by the plan's departments)."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        UNSTAFFED = "unstaffed", _("Cannot be staffed")
        DONE = "done", _("Results entered")

    draw = models.ForeignKey(
        DrawAttempt, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    plan = models.ForeignKey(
        InspectionPlan, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    number = models.PositiveIntegerField()
    subject = models.ForeignKey(
        "subjects.Subject", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    risk_class = models.CharField(max_length=1)
    status = models.CharField(max_length=10, choices=Status.choices)
    unstaffed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["draw", "number"]
        # Few indexes: a draw bulk-inserts up to hundreds of thousands of tasks.
        constraints = [
            models.UniqueConstraint(fields=["draw", "number"], name="unique_task_number")
        ]
        indexes = [models.Index(fields=["subject"], name="task_subject")]

    def __str__(self) -> str:
        return f"{self.plan_id}/{self.number}"


class TaskAssignment(models.Model):
    task = models.ForeignKey(
        InspectionTask, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    inspector = models.ForeignKey(Inspector, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["task", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "inspector"], name="one_assignment_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.task_id}:{self.inspector_id}"


class InspectionResult(ChangeLoggedModel):
    """One department's result of a task; published as an ``inspection_result`` record."""

    class Outcome(models.TextChoices):
        CONFORMING = "conforming", _("Conforming")
        ISSUES_FOUND = "issues_found", _("Issues found, corrected")
        RECTIFICATION_ORDERED = "rectification_ordered", _("Rectification ordered")
        PENALTY_REFERRED = "penalty_referred", _("Referred for a penalty")
        NOT_FOUND = "not_found", _("Premises not found")

    task = models.ForeignKey(InspectionTask, on_delete=models.PROTECT, related_name="results")
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    inspected_on = models.DateField()
    findings = models.TextField(blank=True)
    entered_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    publish_due = models.DateField(help_text="20 working days after the inspection")
    published_on = models.DateField(null=True, blank=True)
    publication_late = models.BooleanField(default=False)
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-inspected_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "department"], name="one_result_per_dept")
        ]

    def __str__(self) -> str:
        return f"{self.task_id}:{self.department_id} {self.outcome}"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _department_or_supervision(qs, user, "department_id")


# --------------------------------------------------------------------------------------------
# Product-quality spot checks
# --------------------------------------------------------------------------------------------


class SpotCheckPlan(ChangeLoggedModel):
    class Risk(models.TextChoices):
        LOW = "low", _("Low risk")
        MEDIUM = "medium", _("Medium risk")
        HIGH = "high", _("High risk")

    name = models.CharField(max_length=200)
    product_category = models.CharField(max_length=100)
    risk = models.CharField(max_length=6, choices=Risk.choices)
    year = models.PositiveSmallIntegerField()
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _department_or_supervision(qs, user, "department_id")


class Sample(ChangeLoggedModel):
    class Result(models.TextChoices):
        PENDING = "pending", _("Awaiting test")
        PASS = "pass", _("Pass")
        FAIL = "fail", _("Fail")

    plan = models.ForeignKey(SpotCheckPlan, on_delete=models.PROTECT, related_name="samples")
    sample_no = models.CharField(max_length=40, unique=True)
    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=200)
    batch = models.CharField(max_length=100, blank=True)
    sampled_on = models.DateField()
    result = models.CharField(max_length=7, choices=Result.choices, default=Result.PENDING)
    failed_items = models.TextField(blank=True)
    standard = models.CharField(max_length=200, blank=True)
    result_date = models.DateField(null=True, blank=True)
    recheck_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="recheck"
    )
    rectification_due = models.DateField(null=True, blank=True)
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan", "sample_no"]

    def __str__(self) -> str:
        return self.sample_no


# --------------------------------------------------------------------------------------------
# Incident self-reporting
# --------------------------------------------------------------------------------------------


class IncidentReport(ChangeLoggedModel):
    class Status(models.TextChoices):
        REPORTED = "reported", _("Reported")
        TRIAGED = "triaged", _("Triaged")
        CLOSED = "closed", _("Closed")

    class Risk(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    class Origin(models.TextChoices):
        SELF = "self", _("Reported by the enterprise")
        INSPECTION = "inspection", _("Found by an inspection")

    number = models.CharField(max_length=40, unique=True)
    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "core.Department",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the responsible department (triages it)",
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SELF)
    product = models.CharField(max_length=200)
    batch = models.CharField(max_length=100, blank=True)
    defect = models.TextField()
    harm = models.TextField(blank=True)
    scale = models.CharField(max_length=200, blank=True, help_text="units, people affected")
    actions_taken = models.TextField(blank=True)
    discovered_at = models.DateTimeField()
    reported_at = models.DateTimeField(null=True, blank=True)
    report_due = models.DateTimeField()
    late = models.BooleanField(default=False)
    reported_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REPORTED)
    risk_level = models.CharField(max_length=6, choices=Risk.choices, blank=True)
    follow_up = models.TextField(blank=True)
    recall_needed = models.BooleanField(null=True, blank=True)
    task = models.ForeignKey(
        InspectionTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-discovered_at", "-id"]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        if getattr(user, "role", None) == Role.ENTERPRISE:
            binding = getattr(user, "enterprise_binding", None)
            return qs.filter(subject_id=binding.subject_id) if binding else qs.none()
        return _department_or_supervision(qs, user, "department_id")


class IncidentEvent(models.Model):
    """One act on an incident report; never updated or deleted."""

    class Kind(models.TextChoices):
        REPORTED = "reported", _("Reported")
        FOUND = "found", _("Found by an inspection")
        TRIAGED = "triaged", _("Triaged")
        UPDATED = "updated", _("Updated by the enterprise")
        CLOSED = "closed", _("Closed")

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["report", "at", "id"]

    def __str__(self) -> str:
        return f"{self.report_id} {self.kind}"
