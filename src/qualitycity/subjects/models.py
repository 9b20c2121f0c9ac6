"""The subject registry: legal entities keyed by USCC, natural persons by resident ID number."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from qualitycity.core.i18n import bilingual
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
        max_length=30, choices=[(k, bilingual(*v[:2])) for k, v in SUBJECT_TYPES.items()]
    )
    district = models.CharField(max_length=6, blank=True, db_index=True)
    industry = models.CharField(max_length=2, blank=True, db_index=True)
    legal_representative = models.CharField(max_length=100, blank=True)
    registered_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10,
        choices=[(k, bilingual(*v[:2])) for k, v in SUBJECT_STATUSES.items()],
        default="active",
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


class SubjectNameGram(models.Model):
    """The search index of names: one row per distinct 2-character piece of a name.

    ``gram`` is a lower-cased bigram of the current name (``is_former`` false) or of a former
    name, or ``^`` plus the name's first 2, 3 or 4 characters (prefix rows). ``name_len`` is the
    length of the indexed name, so one index range ``(gram, is_former)`` lists candidates
    shortest name first and a search can stop at its limit. Maintained by
    ``subjects.services`` (raw bulk writes) and the signal receivers below; never by hand.
    """

    gram = models.CharField(max_length=5)
    is_former = models.BooleanField(default=False)
    name_len = models.PositiveSmallIntegerField()
    # No database constraint and no separate index on subject: rows are deleted by their full
    # key (the old name is known), which keeps a 10-million-row table cheap to write.
    # Deleting a subject removes its rows by key (see the signal receivers below).
    subject = models.ForeignKey(
        Subject,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["gram", "is_former", "name_len", "subject"], name="subject_gram_scan"
            ),
        ]

    def __str__(self) -> str:
        return self.gram


# --- keeping the name index in step with ORM writes -------------------------------------------
# The bulk registration path (``services.subjects_register``) maintains the index itself and
# sends no model signals; these receivers cover single ``save()``/``delete()`` calls made
# elsewhere (admin, shell, tests), so the index never drifts from the names.


def _index_sync(subject_id: int, before: set, after: set) -> None:
    from .services import _index_write

    _index_write(after - before, before - after)


def _former_names_of(subject_id: int) -> list[str]:
    return list(FormerName.objects.filter(subject_id=subject_id).values_list("name", flat=True))


@receiver(pre_save, sender=Subject)
def _subject_pre_save(sender, instance: Subject, **kwargs) -> None:
    old = None
    if instance.pk is not None:
        old = Subject.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    instance._index_old_name = old


@receiver(post_save, sender=Subject)
def _subject_post_save(sender, instance: Subject, **kwargs) -> None:
    from .services import index_keys

    old_name = getattr(instance, "_index_old_name", None)
    if old_name == instance.name:
        return
    formers = _former_names_of(instance.pk)
    before = index_keys(instance.pk, old_name, formers) if old_name is not None else set()
    _index_sync(instance.pk, before, index_keys(instance.pk, instance.name, formers))


@receiver(pre_delete, sender=Subject)
def _subject_pre_delete(sender, instance: Subject, **kwargs) -> None:
    from .services import index_keys

    name = Subject.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    if name is not None:
        keys = index_keys(instance.pk, name, _former_names_of(instance.pk))
        _index_sync(instance.pk, keys, set())


def _former_keys(subject_id: int, names: list[str]) -> set:
    from .services import index_keys

    return {k for k in index_keys(subject_id, "", names) if k[1]}


@receiver(pre_save, sender=FormerName)
def _former_pre_save(sender, instance: FormerName, **kwargs) -> None:
    instance._index_before = _former_names_of(instance.subject_id)


@receiver(post_save, sender=FormerName)
def _former_post_save(sender, instance: FormerName, **kwargs) -> None:
    before = getattr(instance, "_index_before", [])
    after = _former_names_of(instance.subject_id)
    _index_sync(
        instance.subject_id,
        _former_keys(instance.subject_id, before),
        _former_keys(instance.subject_id, after),
    )


@receiver(post_delete, sender=FormerName)
def _former_post_delete(sender, instance: FormerName, **kwargs) -> None:
    after = _former_names_of(instance.subject_id)
    _index_sync(
        instance.subject_id,
        _former_keys(instance.subject_id, [*after, instance.name]),
        _former_keys(instance.subject_id, after),
    )
