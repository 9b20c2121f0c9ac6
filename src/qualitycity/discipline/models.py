"""The check log and the departments' feedback.

Every check (API, batch, UI, CLI) is one ``Check`` row: who checked whom, for which scenario and
date, what lists were in force, which measures were returned and the data version used. It is an
append-only log (like the change log itself), written in bulk by the batch path, so it is not a
change-logged model; ``CheckHit`` keeps one row per list in force so statistics per list are plain
SQL. ``Feedback`` records what the department did with a returned measure; it is a governed object
(its creation and corrections are in the change log).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import ApiClient, ChangeLoggedModel, RestrictedQuerySet


def _restrict_to_department(qs: models.QuerySet, user: Any, field: str) -> models.QuerySet:
    """City-wide roles see every department's checks; others their department's."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if getattr(user, "is_citywide", False):
        return qs
    department_id = getattr(user, "department_id", None)
    if department_id:
        return qs.filter(**{field: department_id})
    return qs.none()


class Check(models.Model):
    class Source(models.TextChoices):
        API = "api", _("API")
        WEB = "web", _("Web")
        CLI = "cli", _("Command line")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.UUIDField(help_text="the request (a batch shares one)")
    source = models.CharField(max_length=3, choices=Source.choices)
    batch = models.BooleanField(default=False)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Who checked. No index: clients and users are hardly ever deleted.
    api_client = models.ForeignKey(
        "core.ApiClient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    user = models.ForeignKey(
        "core.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    subject_code = models.CharField(max_length=18, help_text="normalised code as checked")
    # No index: every index costs each check's insert, and nothing looks checks up by subject.
    subject = models.ForeignKey(
        "subjects.Subject",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    scenario = models.CharField(max_length=40)
    day = models.DateField(help_text="the day the check was about")
    lists = models.JSONField(default=list, help_text="codes of the lists in force")
    entries = models.JSONField(default=list, help_text="ids of the list entries in force")
    measures = models.JSONField(default=list, help_text="ids of the measures returned")
    hit = models.BooleanField(default=False, help_text="at least one list in force")
    measure_count = models.PositiveSmallIntegerField(default=0)
    data_version = models.CharField(max_length=64)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["department", "created_at"], name="check_department_time")]

    def __str__(self) -> str:
        return f"check {self.pk} {self.subject_code} {self.scenario}"

    @property
    def registered(self) -> bool:
        return self.subject_id is not None

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _restrict_to_department(qs, user, "department_id")


class CheckHit(models.Model):
    """One list in force in one check (statistics per list)."""

    check_ref = models.ForeignKey(
        Check, on_delete=models.CASCADE, related_name="hits", db_column="check_id"
    )
    list_code = models.CharField(max_length=40)
    entry_id = models.BigIntegerField()
    measure_count = models.PositiveSmallIntegerField(
        default=0, help_text="measures returned that this list triggered"
    )

    class Meta:
        indexes = [models.Index(fields=["list_code"], name="checkhit_list")]

    def __str__(self) -> str:
        return f"{self.check_ref_id}:{self.list_code}"


class Feedback(ChangeLoggedModel):
    """What the checking department did with one measure a check returned."""

    check_ref = models.ForeignKey(
        Check, on_delete=models.PROTECT, related_name="feedback", db_column="check_id"
    )
    measure_id = models.CharField(max_length=60)
    measure_kind = models.CharField(max_length=10)
    applied = models.BooleanField()
    reason = models.TextField(blank=True)
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    api_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_ref", "measure_id"], name="one_feedback_per_measure"
            ),
        ]

    def __str__(self) -> str:
        return f"feedback {self.check_ref_id}:{self.measure_id} applied={self.applied}"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        return _restrict_to_department(qs, user, "department_id")
