"""List entries and their lawful lifecycle; objections and credit-repair applications.

The catalogue of lists and the publication periods are configuration (``config/*.yaml``,
``catalogue.py``). An entry's history is a table of typed events (``ListEntryEvent``), written by
``services`` with every transition; the entry row holds the current state and dates only.

State machine (``services.TRANSITIONS``)::

    proposed ──notice──▶ noticed ──publish──▶ published ──repair──▶ repaired
    proposed, noticed ──withdraw──▶ withdrawn
    published ──remove──▶ removed            (also an upheld objection)
    published ──expire──▶ expired            (on publication_ends_on, by the expiry job)

An objection (against an entry, or against a record) does not change the state: while it is open
the entry or record shows "under objection"; an upheld objection against an entry removes it
(a noticed entry is withdrawn). Objections and repair applications are governed objects (change
log); their acts are also events of the entry they concern.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import ChangeLoggedModel, RestrictedQuerySet


class ListEntry(ChangeLoggedModel):
    class State(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        NOTICED = "noticed", _("Notice given")
        PUBLISHED = "published", _("Published")
        REPAIRED = "repaired", _("Repaired")
        REMOVED = "removed", _("Removed")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Origin(models.TextChoices):
        RULE = "rule", _("Proposed by a rule")
        MANUAL = "manual", _("Proposed by an officer")

    list_code = models.CharField(max_length=40)
    subject = models.ForeignKey(
        "subjects.Subject", on_delete=models.PROTECT, related_name="list_entries"
    )
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    origin = models.CharField(max_length=6, choices=Origin.choices)
    reason = models.TextField()
    legal_basis = models.TextField()
    source_record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField()
    noticed_at = models.DateTimeField(null=True, blank=True)
    notice_ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="last day of the notice period (objections); publication only after it",
    )
    published_on = models.DateField(null=True, blank=True)
    repair_allowed_from = models.DateField(null=True, blank=True)
    publication_ends_on = models.DateField(
        null=True, blank=True, help_text="publication ends by itself on this day (exclusive)"
    )
    ended_on = models.DateField(null=True, blank=True, help_text="repaired, removed or expired")
    period_rule = models.JSONField(
        default=dict, encoder=DjangoJSONEncoder, help_text="the dated period rule applied"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [
            models.Index(fields=["subject", "state"], name="entry_subject_state"),
            models.Index(fields=["list_code", "state"], name="entry_list_state"),
            models.Index(fields=["state", "publication_ends_on"], name="entry_expiry"),
        ]
        constraints = [
            # One live entry per subject and list: a rule re-proposing it changes nothing.
            models.UniqueConstraint(
                fields=["list_code", "subject"],
                condition=models.Q(state__in=["proposed", "noticed", "published"]),
                name="one_live_entry_per_list",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.list_code}:{self.subject_id} ({self.state})"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        from .selectors import restrict_entries

        return restrict_entries(qs, user, action)


class ListEntryEvent(models.Model):
    """One transition or act on an entry; never updated or deleted."""

    class Kind(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        NOTICED = "noticed", _("Notice given to the subject")
        PUBLISHED = "published", _("Published")
        OBJECTION_FILED = "objection_filed", _("Objection filed")
        OBJECTION_UPHELD = "objection_upheld", _("Objection upheld")
        OBJECTION_REJECTED = "objection_rejected", _("Objection rejected")
        OBJECTION_WITHDRAWN = "objection_withdrawn", _("Objection withdrawn")
        REPAIR_APPLIED = "repair_applied", _("Credit repair applied for")
        REPAIR_APPROVED = "repair_approved", _("Credit repair approved")
        REPAIR_REJECTED = "repair_rejected", _("Credit repair rejected")
        REMOVED = "removed", _("Removed")
        EXPIRED = "expired", _("Publication period ended")
        WITHDRAWN = "withdrawn", _("Proposal withdrawn")
        DEADLINE_MISSED = "deadline_missed", _("Decision deadline passed")

    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, blank=True, help_text="web, api, cli, job, system")
    request_id = models.UUIDField(null=True, blank=True, help_text="links to the change log")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["entry", "at", "id"]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.kind}"


class Objection(ChangeLoggedModel):
    """A subject's objection to a list entry or to a credit record, with its evidence."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(
        ListEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="objections"
    )
    record = models.ForeignKey(
        "records.Record", null=True, blank=True, on_delete=models.PROTECT, related_name="objections"
    )
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, related_name="+", help_text="decides it"
    )
    text = models.TextField()
    evidence = models.JSONField(default=list, help_text="kept files: name, path, sha256, size")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    filed_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_by_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_at = models.DateTimeField()
    due_on = models.DateField(help_text="the department decides by this day")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-filed_at", "-id"]
        indexes = [models.Index(fields=["status", "due_on"], name="objection_open_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(entry__isnull=False) | models.Q(record__isnull=False),
                name="objection_has_a_target",
            ),
            # One open objection per target: a second one waits for the first decision.
            models.UniqueConstraint(
                fields=["entry"], condition=models.Q(status="open"), name="one_open_entry_objection"
            ),
            models.UniqueConstraint(
                fields=["record"],
                condition=models.Q(status="open"),
                name="one_open_record_objection",
            ),
        ]

    def __str__(self) -> str:
        return f"objection {self.pk} ({self.status})"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        from .selectors import restrict_requests

        return restrict_requests(qs, user, action, department_field="department_id")


class RepairApplication(ChangeLoggedModel):
    """A subject's application for credit repair of a published entry."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="repairs")
    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="+")
    commitment = models.TextField(help_text="the subject's credit commitment")
    evidence = models.JSONField(default=list, help_text="proof the penalty was fulfilled")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    filed_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_by_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_at = models.DateTimeField()
    due_on = models.DateField(help_text="the department decides by this day")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_client = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-filed_at", "-id"]
        indexes = [models.Index(fields=["status", "due_on"], name="repair_open_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["entry"], condition=models.Q(status="open"), name="one_open_repair"
            ),
        ]

    def __str__(self) -> str:
        return f"repair {self.pk} ({self.status})"

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        from .selectors import restrict_requests

        return restrict_requests(qs, user, action, department_field="entry__department_id")


class DataVersion(models.Model):
    """One counter, raised in the same transaction as every event of every list entry.

    The check-before-act answer names the data it was made from by this number. A counter, not
    the largest event id: on PostgreSQL ids are handed out when rows are inserted but become
    visible when their transactions commit, in any order; the counter's row lock makes the
    writers of list data commit in the order of their numbers.
    """

    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.n)
