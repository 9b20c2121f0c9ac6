"""The subject registry: legal entities keyed by USCC, natural persons by resident ID number."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import ChangeLoggedModel, Role

from .codelists import SUBJECT_STATUSES, SUBJECT_TYPES


class Subject(ChangeLoggedModel):
    class Kind(models.TextChoices):
        LEGAL = "legal", _("Legal entity")
        PERSON = "person", _("Natural person")

    code = models.CharField(max_length=18, unique=True, help_text="USCC or resident ID number")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    name = models.CharField(max_length=200, db_index=True)
    subject_type = models.CharField(
        max_length=30, choices=[(k, v[0]) for k, v in SUBJECT_TYPES.items()]
    )
    district = models.CharField(max_length=6, blank=True, db_index=True)
    industry = models.CharField(max_length=2, blank=True, db_index=True)
    legal_representative = models.CharField(max_length=100, blank=True)
    registered_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=[(k, v[0]) for k, v in SUBJECT_STATUSES.items()], default="active"
    )
    registered_by = models.ForeignKey(
        "core.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        from .identifiers import mask_person_name

        return mask_person_name(self.name) if self.kind == self.Kind.PERSON else self.name

    @property
    def is_person(self) -> bool:
        return self.kind == self.Kind.PERSON

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        # The registry is public information (masked for persons); changes are for the
        # registering departments and the city-wide roles.
        if action == "view":
            return qs
        if user is None or not getattr(user, "is_authenticated", False):
            return qs.none()
        if user.is_citywide:
            return qs
        if user.role == Role.DATA_OFFICER and user.department_id:
            return qs.filter(registered_by_id=user.department_id)
        return qs.none()


class FormerName(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="former_names")
    name = models.CharField(max_length=200, db_index=True)
    until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-until", "name"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "name"], name="unique_former_name"),
        ]

    def __str__(self) -> str:
        return self.name


class EnterpriseBinding(models.Model):
    """An enterprise user acts for exactly one subject."""

    user = models.OneToOneField(
        "core.User", on_delete=models.CASCADE, related_name="enterprise_binding"
    )
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="users")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} → {self.subject.code}"
