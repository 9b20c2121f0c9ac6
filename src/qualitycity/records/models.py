"""Credit records and their provenance: submissions (files), stored records, quarantine.

The dataset catalogue (field schemas, code lists, credit meaning) is configuration, in
``catalogue/*.yaml``; rows refer to a dataset by its code.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualitycity.core.fields import WrittenJSONField
from qualitycity.core.models import ChangeLoggedModel, RestrictedQuerySet, Role


def _department_rule(qs: models.QuerySet, user: Any, field: str = "department_id"):
    """City-wide roles see everything; a department's officers and clients see their own."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.is_citywide:
        return qs
    dept = getattr(user, "department_id", None)
    if user.role == Role.DATA_OFFICER and dept:
        return qs.filter(**{field: dept})
    return qs.none()


class SourceFile(ChangeLoggedModel):
    """One submitted file (a submission), kept as received with its SHA-256."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        REFUSED = "refused", _("Refused")

    class Channel(models.TextChoices):
        WEB = "web", _("Web upload")
        API = "api", _("API")
        CLI = "cli", _("Command line")

    sha256 = models.CharField(max_length=64)
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    dataset = models.CharField(max_length=40, db_index=True)
    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, help_text="relative to FILES_ROOT")
    size = models.BigIntegerField()
    file_format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    refusal_code = models.CharField(max_length=40, blank=True)
    refusal_message = models.TextField(blank=True)
    rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=dict)
    submitted_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(
        default=timezone.now,
        help_text="when the department's submission was received (default: the moment of "
        "ingestion); stored records take it as their submission time",
    )
    backfill = models.BooleanField(
        default=False,
        help_text="historical data migrated into the platform; excluded from timeliness",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "dataset", "sha256"], name="unique_submission_per_content"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        return _department_rule(qs, user)


class Record(models.Model):
    """A stored credit record. Its provenance is its source file and row."""

    class Polarity(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        NEGATIVE = "negative", _("Negative")
        NEUTRAL = "neutral", _("Neutral")

    # The foreign keys get no index of their own: each is the first column of an index below
    # (the unique constraint, record_subject_date, record_source_file), and every extra B-tree
    # slows the bulk inserts of ingestion.
    dataset = models.CharField(max_length=40)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subject = models.ForeignKey(
        "subjects.Subject", on_delete=models.PROTECT, related_name="records", db_index=False
    )
    source_record_id = models.CharField(max_length=100, help_text="the department's own id")
    category = models.CharField(max_length=30)
    polarity = models.CharField(max_length=8, choices=Polarity.choices)
    severity = models.PositiveSmallIntegerField(default=0)
    decision_date = models.DateField(null=True, blank=True)
    is_public = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    data = WrittenJSONField(encoder=DjangoJSONEncoder)
    source_file = models.ForeignKey(
        SourceFile, on_delete=models.PROTECT, related_name="records", db_index=False
    )
    row_number = models.PositiveIntegerField()
    submitted_at = models.DateTimeField()

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-decision_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "dataset", "source_record_id"], name="unique_source_record"
            ),
        ]
        indexes = [
            models.Index(fields=["subject", "-decision_date"], name="record_subject_date"),
            models.Index(fields=["dataset", "decision_date"], name="record_dataset_date"),
            models.Index(fields=["source_file"], name="record_source_file"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}:{self.source_record_id}"

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        if action == "view" and user is not None and getattr(user, "is_authenticated", False):
            if user.role in (Role.INSPECTOR,):
                return qs  # inspectors read every department's records
            if user.role == Role.ENTERPRISE:
                # Everything about its own subject; about others, what the public sees.
                binding = getattr(user, "enterprise_binding", None)
                public = models.Q(is_public=True)
                return qs.filter(
                    public | models.Q(subject_id=binding.subject_id) if binding else public
                )
        if action == "view" and (user is None or not getattr(user, "is_authenticated", False)):
            return qs.filter(is_public=True)
        return _department_rule(qs, user)


class RecordRevision(models.Model):
    """The values a record had before an accepted update (history is never overwritten)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    data = WrittenJSONField(encoder=DjangoJSONEncoder)
    source_file = models.ForeignKey(SourceFile, on_delete=models.PROTECT, related_name="+")
    row_number = models.PositiveIntegerField()
    replaced_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        SourceFile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the submission whose update replaced these values",
    )

    class Meta:
        ordering = ["record", "-version"]

    def __str__(self) -> str:
        return f"{self.record_id} v{self.version}"


class QuarantinedRow(models.Model):
    """A rejected row, kept with its original cells and a reason per field."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DISCARDED = "discarded", _("Discarded")

    source_file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="quarantine")
    row_number = models.PositiveIntegerField()
    raw = models.JSONField(help_text="the row's cells as received")
    reasons = models.JSONField(help_text='[{"field", "code", "message"}]')
    primary_reason = models.CharField(max_length=40, db_index=True)
    subject_code = models.CharField(max_length=18, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["source_file", "row_number"]
        indexes = [models.Index(fields=["status", "primary_reason"], name="quarantine_status")]

    def __str__(self) -> str:
        return f"{self.source_file_id}:{self.row_number}"

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        return _department_rule(qs, user, field="source_file__department_id")
