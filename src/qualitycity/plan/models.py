"""The action plan as data: measures (tasks), targets and their values, progress reports with
their review history, the standards and brand registries that feed computed targets, the annual
assessment and supervision notices, and releases of progress to the public.

Report lifecycle (``services``)::

    (no row) ──flag──▶ overdue ──submit (late)──▶ submitted
    (no row) ──submit──▶ submitted ──accept──▶ accepted
                         submitted ──return──▶ returned ──resubmit──▶ submitted

Every transition is a ``ReportEvent`` row written with the change, in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import ChangeLoggedModel, RestrictedQuerySet


def _citywide_or_department(qs: models.QuerySet, user: Any, field: str) -> models.QuerySet:
    from .selectors import restrict_by_department

    return restrict_by_department(qs, user, field)


class Plan(ChangeLoggedModel):
    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    issuing_bodies = models.JSONField(default=list)
    document_date = models.DateField(null=True, blank=True)
    published_on = models.DateField(null=True, blank=True)
    source_document = models.CharField(max_length=300, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    report_frequency = models.CharField(max_length=10, default="quarterly")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "code"]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        # Every member of staff reads the plan; changing it is for city-wide roles.
        if user is None or not getattr(user, "is_authenticated", False):
            return qs.none()
        if action == "view" or user.is_citywide:
            return qs
        return qs.none()


class Section(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="sections")
    number = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["plan", "sort"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_section_unique")
        ]

    def __str__(self) -> str:
        return f"{self.number}、{self.title}"


class Measure(ChangeLoggedModel):
    """One numbered measure of the plan: a task with responsible departments."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("Not started")
        ON_SCHEDULE = "on_schedule", _("On schedule")
        DELAYED = "delayed", _("Delayed")
        COMPLETED = "completed", _("Completed")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="measures")
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="measures")
    number = models.CharField(max_length=20, help_text="its number in the document, e.g. 二(三)")
    sort = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    text = models.TextField()
    lead_department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, related_name="+"
    )
    cooperating_departments = models.ManyToManyField(
        "core.Department", blank=True, related_name="+"
    )
    departments_confirmed = models.BooleanField(
        default=False, help_text="false: assigned by domain, to be confirmed by the quality office"
    )
    deliverables = models.TextField(blank=True)
    deadline = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12,
        choices=Status.choices,
        default=Status.NOT_STARTED,
        help_text="as of the latest accepted report",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "sort"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_measure_unique")
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        from .selectors import restrict_measures

        return restrict_measures(qs, user, action)


class Target(ChangeLoggedModel):
    class Direction(models.TextChoices):
        AT_LEAST = "at_least", _("At least")
        AT_MOST = "at_most", _("At most")
        EXACTLY = "exactly", _("Exactly")

    class Obtained(models.TextChoices):
        REPORTED = "reported", _("Reported by a department")
        COMPUTED = "computed", _("Computed from a registry")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="targets")
    code = models.SlugField(max_length=60)
    sort = models.PositiveSmallIntegerField(default=0)
    indicator = models.CharField(max_length=200)
    indicator_en = models.CharField(max_length=200, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    baseline_value = models.FloatField(null=True, blank=True)
    baseline_year = models.PositiveSmallIntegerField(null=True, blank=True)
    target_value = models.FloatField(
        null=True, blank=True, help_text="null: the plan names no number"
    )
    target_year = models.PositiveSmallIntegerField()
    per_year = models.BooleanField(default=False, help_text="the target applies to each year")
    source_section = models.CharField(max_length=20, blank=True)
    obtained = models.CharField(max_length=8, choices=Obtained.choices)
    metric = models.CharField(max_length=40, blank=True, help_text="computed: the registry metric")
    department = models.ForeignKey(
        "core.Department",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="reports the value (reported) or answers for it (computed)",
    )
    measure = models.ForeignKey(
        Measure, null=True, blank=True, on_delete=models.SET_NULL, related_name="targets"
    )
    note = models.CharField(max_length=200, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "sort"]
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="plan_target_unique")]

    def __str__(self) -> str:
        return self.indicator

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        if user is None or not getattr(user, "is_authenticated", False):
            return qs.none()
        if action == "view" or user.is_citywide:
            return qs
        return qs.none()


class TargetValue(models.Model):
    """One value of a target's series: reported in an accepted report, or computed."""

    class Source(models.TextChoices):
        REPORTED = "reported", _("Reported")
        COMPUTED = "computed", _("Computed")

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="values")
    on = models.DateField(help_text="the day the value holds for (end of the period)")
    value = models.FloatField()
    source = models.CharField(max_length=8, choices=Source.choices)
    report = models.ForeignKey(
        "ProgressReport", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target", "on"]
        constraints = [
            models.UniqueConstraint(fields=["target", "on", "source"], name="target_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.target_id} {self.on} {self.value}"


class ProgressReport(ChangeLoggedModel):
    """A department's report on one measure for one period."""

    class Status(models.TextChoices):
        OVERDUE = "overdue", _("Not filed (overdue)")
        SUBMITTED = "submitted", _("Submitted")
        RETURNED = "returned", _("Returned for revision")
        ACCEPTED = "accepted", _("Accepted")

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="reports")
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=10, help_text="e.g. 2019Q3")
    period_start = models.DateField()
    period_end = models.DateField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices)
    task_status = models.CharField(max_length=12, choices=Measure.Status.choices, blank=True)
    narrative = models.TextField(blank=True)
    evidence = models.JSONField(default=list, help_text="kept files: name, path, sha256, size")
    values = models.JSONField(
        default=dict, encoder=DjangoJSONEncoder, help_text="target code → reported value"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    late = models.BooleanField(default=False, help_text="first filed after the due day")
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_comment = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-period_end", "measure__sort", "department__sort"]
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "department", "period"], name="one_report_per_period"
            )
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="report_status_due")]

    def __str__(self) -> str:
        return f"{self.measure.number} {self.period} {self.department.code}"

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        return _citywide_or_department(qs, user, "department_id")


class ReportEvent(models.Model):
    """One act on a report; never updated or deleted."""

    class Kind(models.TextChoices):
        FLAGGED_OVERDUE = "flagged_overdue", _("Flagged as not filed by the deadline")
        SUBMITTED = "submitted", _("Submitted")
        RESUBMITTED = "resubmitted", _("Resubmitted")
        RETURNED = "returned", _("Returned with comments")
        ACCEPTED = "accepted", _("Accepted")

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, blank=True)
    request_id = models.UUIDField(null=True, blank=True)
    comment = models.TextField(blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["report", "at", "id"]

    def __str__(self) -> str:
        return f"{self.report_id} {self.kind}"


# --------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------


class RegistryFile(ChangeLoggedModel):
    """One file loaded into a registry, kept as received with its SHA-256."""

    class Status(models.TextChoices):
        PROCESSED = "processed", _("Processed")
        REFUSED = "refused", _("Refused")

    kind = models.CharField(max_length=30)
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, help_text="relative to FILES_ROOT")
    size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    refusal_code = models.CharField(max_length=40, blank=True)
    refusal_message = models.TextField(blank=True)
    rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "sha256"], name="registry_file_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.original_name}"


class RegistryRejectedRow(models.Model):
    """A quarantined row of a registry file, with a reason per field."""

    file = models.ForeignKey(RegistryFile, on_delete=models.CASCADE, related_name="rejected_rows")
    row_number = models.PositiveIntegerField()
    data = models.JSONField(encoder=DjangoJSONEncoder)
    reasons = models.JSONField(help_text="field → problem")

    class Meta:
        ordering = ["file", "row_number"]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.row_number}"


class RegistryItem(ChangeLoggedModel):
    """Fields every registry item shares: provenance and the organisations (registered
    subjects) it belongs to."""

    source_file = models.ForeignKey(
        RegistryFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    row_number = models.PositiveIntegerField(null=True, blank=True)
    subjects = models.ManyToManyField("subjects.Subject", blank=True, related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        # Registries are the city's public record of titles; staff read them, city-wide roles
        # and registry keepers change them (scope plan.registry, checked by services).
        if user is None or not getattr(user, "is_authenticated", False):
            return qs.none()
        return qs


class Standard(RegistryItem):
    class Level(models.TextChoices):
        INTERNATIONAL = "international", _("International")
        NATIONAL = "national", _("National")
        INDUSTRY = "industry", _("Industry")
        LOCAL = "local", _("Local")
        GROUP = "group", _("Group")

    class Role(models.TextChoices):
        LED = "led", _("Led")
        TOOK_PART = "took_part", _("Took part")

    number = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, help_text="the number's kind: iso, gb, gb_t, …")
    title = models.CharField(max_length=300)
    level = models.CharField(max_length=14, choices=Level.choices)
    role = models.CharField(max_length=10, choices=Role.choices)
    domain = models.CharField(max_length=40, blank=True, help_text="e.g. agriculture")
    published_on = models.DateField()
    effective_on = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-published_on", "number"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class StandardBody(RegistryItem):
    """Secretariats of standardisation technical bodies, innovation bases, group standards
    organisations."""

    class Kind(models.TextChoices):
        INTERNATIONAL_SECRETARIAT = (
            "international_secretariat",
            _("Secretariat of an international technical body"),
        )
        NATIONAL_SECRETARIAT = "national_secretariat", _("Secretariat of a national technical body")
        INNOVATION_BASE = "innovation_base", _("National technical-standard innovation base")
        GROUP_ORGANISATION = "group_organisation", _("Group (alliance) standards organisation")

    code = models.CharField(max_length=60, unique=True, help_text="e.g. ISO/TC 8/SC 13, SAC/TC 46")
    kind = models.CharField(max_length=26, choices=Kind.choices)
    name = models.CharField(max_length=300)
    established_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-established_on", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PilotProject(RegistryItem):
    class Level(models.TextChoices):
        NATIONAL = "national", _("National")
        PROVINCIAL = "provincial", _("Provincial")

    code = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=300)
    level = models.CharField(max_length=10, choices=Level.choices)
    field = models.CharField(max_length=60, blank=True)
    approved_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-approved_on", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Trademark(RegistryItem):
    class Status(models.TextChoices):
        REGISTERED = "registered", _("Registered")
        CANCELLED = "cancelled", _("Cancelled")
        INVALIDATED = "invalidated", _("Invalidated")
        EXPIRED = "expired", _("Expired")

    registration_number = models.CharField(max_length=20, unique=True)
    mark = models.CharField(max_length=200)
    nice_class = models.PositiveSmallIntegerField()
    owner_name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices)
    registered_on = models.DateField()
    valid_until = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="cancelled/invalidated on")

    class Meta:
        ordering = ["-registered_on", "registration_number"]

    def __str__(self) -> str:
        return f"{self.registration_number} {self.mark}"


class MadridRegistration(RegistryItem):
    international_number = models.CharField(max_length=20, unique=True)
    mark = models.CharField(max_length=200)
    basic_registration = models.CharField(max_length=20, blank=True)
    owner_name = models.CharField(max_length=200)
    designated = models.JSONField(default=list, help_text="designated contracting parties")
    registered_on = models.DateField()
    valid_until = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-registered_on", "international_number"]

    def __str__(self) -> str:
        return f"{self.international_number} {self.mark}"


class BrandTitle(RegistryItem):
    """A brand title an organisation holds: well-known trademark, famous brand, agricultural
    brand, "three products and one mark" certification, time-honoured brand, ranking."""

    class Kind(models.TextChoices):
        WELL_KNOWN = "well_known", _("China well-known trademark")
        FAMOUS_PRODUCT = "famous_product", _("Shandong famous-brand product")
        FAMOUS_SERVICE = "famous_service", _("Shandong famous-brand service")
        NATIONAL_AGRI_BRAND = "national_agri_brand", _("Nationally known agricultural brand")
        POLLUTION_FREE = "pollution_free", _("Pollution-free agricultural product")
        GREEN_FOOD = "green_food", _("Green food")
        ORGANIC = "organic", _("Organic product")
        GEOGRAPHICAL_INDICATION = (
            "geographical_indication",
            _("Agricultural geographical indication"),
        )
        TIME_HONOURED = "time_honoured", _("China time-honoured brand")
        WORLD_BRAND_LAB_500 = "world_brand_lab_500", _("World Brand Lab top 500")
        CHINA_500_VALUABLE = "china_500_valuable", _("China's 500 most valuable brands")
        INDUSTRIAL_BRAND_DEMO = (
            "industrial_brand_demo",
            _("National industrial brand-cultivation demonstration enterprise"),
        )

    THREE_PRODUCTS_ONE_MARK = ("pollution_free", "green_food", "organic", "geographical_indication")

    certificate = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="the brand or product")
    owner_name = models.CharField(max_length=200)
    awarding_body = models.CharField(max_length=200)
    awarded_on = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-awarded_on", "certificate"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class QualityAward(RegistryItem):
    class Kind(models.TextChoices):
        CHINA_QUALITY_AWARD = "china_quality_award", _("China Quality Award")
        CHINA_QUALITY_AWARD_NOMINATION = (
            "china_quality_award_nomination",
            _("China Quality Award nomination"),
        )
        PROVINCIAL_QUALITY_AWARD = "provincial_quality_award", _("Shandong Province Quality Award")
        MAYOR_QUALITY_AWARD = "mayor_quality_award", _("Qingdao Mayor's Quality Award")

    reference = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    winner_name = models.CharField(max_length=200)
    awarding_body = models.CharField(max_length=200)
    year = models.PositiveSmallIntegerField()
    awarded_on = models.DateField()

    class Meta:
        ordering = ["-awarded_on", "reference"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.year} {self.winner_name}"


# --------------------------------------------------------------------------------------------
# Assessment, supervision, release
# --------------------------------------------------------------------------------------------


class Assessment(ChangeLoggedModel):
    """The annual assessment of departments under one scoring scheme."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="assessments")
    year = models.PositiveSmallIntegerField()
    as_of = models.DateField()
    scheme = models.JSONField(encoder=DjangoJSONEncoder, help_text="the scheme applied")
    produced_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-year"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "year"], name="one_assessment_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.year}"


class AssessmentScore(models.Model):
    """One unit's score with every component and the inputs behind it."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="scores")
    unit_kind = models.CharField(max_length=10, default="department")  # department | district
    department = models.ForeignKey(
        "core.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    district = models.CharField(max_length=6, blank=True, help_text="GB/T 2260 code")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    components = models.JSONField(
        encoder=DjangoJSONEncoder, help_text="component → {score, weight, inputs: [...]}"
    )

    class Meta:
        ordering = ["assessment", "unit_kind", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "department"], name="one_score_per_department"
            ),
            models.UniqueConstraint(
                fields=["assessment", "district"],
                condition=~models.Q(district=""),
                name="one_score_per_district",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department_id} {self.score}"


class SupervisionNotice(ChangeLoggedModel):
    """A notice to a department about a lagging task, target or unfiled report."""

    class Kind(models.TextChoices):
        LAGGING_TASK = "lagging_task", _("Lagging task")
        LAGGING_TARGET = "lagging_target", _("Target off track")
        MISSING_REPORTS = "missing_reports", _("Reports not filed")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="notices")
    department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    measure = models.ForeignKey(
        Measure, null=True, blank=True, on_delete=models.CASCADE, related_name="notices"
    )
    target = models.ForeignKey(
        Target, null=True, blank=True, on_delete=models.CASCADE, related_name="notices"
    )
    period = models.CharField(max_length=10, help_text="the period the finding is about")
    finding = models.CharField(
        max_length=120, help_text="kind:measure-or-target:period; generation is idempotent on it"
    )
    issued_on = models.DateField()
    reason = models.TextField()
    evidence = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    response = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "department__sort", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "department", "finding"], name="one_notice_per_finding"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.department_id} {self.period}"

    @classmethod
    def restrict_queryset(cls, qs, user, action):
        return _citywide_or_department(qs, user, "department_id")


class PlanRelease(ChangeLoggedModel):
    """Progress as the quality office released it to the public (a snapshot)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="releases")
    as_of = models.DateField()
    released_by = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    content = models.JSONField(encoder=DjangoJSONEncoder, help_text="what the public sees")

    changelog_exclude = ("created_at", "updated_at", "content")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.as_of}"
