"""Core models: departments, users and roles, API clients, the change log, jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import context


class Role(models.TextChoices):
    PLATFORM_ADMIN = "platform_admin", _("Platform administrator")
    QUALITY_OFFICE = "quality_office", _("Quality office")
    DATA_OFFICER = "data_officer", _("Department data officer")
    INSPECTOR = "inspector", _("Inspector")
    ENTERPRISE = "enterprise", _("Enterprise user")


# Roles that see every department's data unmasked (staff of the city as a whole).
CITYWIDE_ROLES = {Role.PLATFORM_ADMIN, Role.QUALITY_OFFICE}


class RestrictedQuerySet(models.QuerySet):
    """``restrict(user, action)`` narrows a queryset to what the user may do.

    Each model states its own rule in ``restrict_queryset(qs, user, action)``; a model without a
    rule is visible only to city-wide roles. Every view and API endpoint that reaches a governed
    model goes through this.
    """

    def restrict(self, user: Any, action: str = "view") -> RestrictedQuerySet:
        rule = getattr(self.model, "restrict_queryset", None)
        if rule is not None:
            return rule(self, user, action)
        if getattr(user, "is_authenticated", False) and (
            getattr(user, "role", None) in CITYWIDE_ROLES or user.is_superuser
        ):
            return self
        return self.none()


class ChangeLoggedModel(models.Model):
    """A governed object: every create, update and delete is written to ``ObjectChange``."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    # Fields left out of the change-log snapshot (large or derived).
    changelog_exclude: tuple[str, ...] = ("created_at", "updated_at")

    class Meta:
        abstract = True

    def snapshot(self) -> dict[str, Any]:
        data = {}
        for f in self._meta.concrete_fields:
            if f.name in self.changelog_exclude:
                continue
            data[f.attname] = f.value_from_object(self)
        return data

    def save(self, *args: Any, **kwargs: Any) -> None:
        before = None
        if self.pk is not None and not self._state.adding:
            old = type(self).objects.filter(pk=self.pk).first()
            before = old.snapshot() if old else None
        super().save(*args, **kwargs)
        ObjectChange.record(self, "create" if before is None else "update", before, self.snapshot())

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        before = self.snapshot()
        obj_repr, pk = str(self), self.pk
        result = super().delete(*args, **kwargs)
        ObjectChange.record(self, "delete", before, None, object_id=pk, object_repr=obj_repr)
        return result


class Department(ChangeLoggedModel):
    """A city department: holds credit data, submits records, owns lists and tasks."""

    code = models.SlugField(max_length=40, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=150)
    uscc = models.CharField(max_length=18, blank=True, help_text="the authority's own USCC")
    data_holding = models.BooleanField(
        default=True, help_text="one of the plan's credit-data-holding domains (五(一))"
    )
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name_zh

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        # The list of departments is public information; changing it is for administrators.
        if action == "view":
            return qs
        if user is not None and getattr(user, "role", None) == Role.PLATFORM_ADMIN:
            return qs
        return qs.none()


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.QUALITY_OFFICE)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    display_name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="data_officer") | models.Q(department__isnull=False),
                name="data_officer_has_department",
            ),
        ]

    @property
    def is_citywide(self) -> bool:
        return self.is_superuser or self.role in CITYWIDE_ROLES

    def scopes(self) -> frozenset[str]:
        from .permissions import role_scopes

        return role_scopes(self.role, superuser=self.is_superuser)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiClient(ChangeLoggedModel):
    """A department business system calling the API with a bearer key.

    Only the SHA-256 of the key is stored; the key itself is shown once at creation.
    """

    name = models.CharField(max_length=100, unique=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="api_clients")
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    rate_limit = models.CharField(max_length=20, default="600/m", help_text="requests per s/m/h/d")
    active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    changelog_exclude = ("created_at", "updated_at", "key_hash", "last_used_at")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Clients act with the department's authority, like its data officer.
    is_authenticated = True
    role = Role.DATA_OFFICER
    is_superuser = False

    @property
    def is_citywide(self) -> bool:
        return False

    def has_scope(self, scope: str) -> bool:
        app = scope.split(".", 1)[0]
        return scope in self.scopes or f"{app}.*" in self.scopes or "*" in self.scopes


class ObjectChange(models.Model):
    """One create/update/delete of a governed object, with who did it and the data around it."""

    ACTIONS = [("create", _("created")), ("update", _("updated")), ("delete", _("deleted"))]

    time = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.UUIDField(db_index=True)
    source = models.CharField(max_length=10, default="system")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    user_name = models.CharField(max_length=150, blank=True)
    api_client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=6, choices=ACTIONS)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    prechange_data = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    postchange_data = models.JSONField(null=True, encoder=DjangoJSONEncoder)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-time"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"

    @classmethod
    def record(
        cls,
        obj: models.Model,
        action: str,
        before: dict | None,
        after: dict | None,
        *,
        object_id: Any = None,
        object_repr: str | None = None,
    ) -> ObjectChange:
        from django.contrib.contenttypes.models import ContentType

        ctx = context.current()
        user = ctx.user if isinstance(ctx.user, User) and ctx.user.pk else None
        return cls.objects.create(
            request_id=ctx.request_id,
            source=ctx.source,
            user=user,
            user_name=user.get_username() if user else "",
            api_client=ctx.api_client if ctx.api_client is not None else None,
            action=action,
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(object_id if object_id is not None else obj.pk),
            object_repr=(object_repr or str(obj))[:200],
            prechange_data=before,
            postchange_data=after,
        )

    @classmethod
    def record_many(
        cls,
        model: type[models.Model] | models.Model,
        entries: list[tuple[str, Any, str, dict | None, dict | None]],
    ) -> int:
        """Bulk path of :meth:`record` for batch writes (ingestion of registrations).

        ``entries`` are ``(action, object_id, object_repr, before, after)``; all are logged with
        the current change context in one ``executemany`` (the ORM's per-field preparation
        would cost more than the insert). Returns how many entries were written.
        """
        from django.contrib.contenttypes.models import ContentType
        from django.db import connections, router

        if not entries:
            return 0
        ctx = context.current()
        user = ctx.user if isinstance(ctx.user, User) and ctx.user.pk else None
        connection = connections[router.db_for_write(cls)]
        ops = connection.ops
        meta = cls._meta
        constants = {
            "time": meta.get_field("time").get_db_prep_save(timezone.now(), connection),
            "request_id": meta.get_field("request_id").get_db_prep_save(ctx.request_id, connection),
            "source": ctx.source,
            "user_id": user.pk if user else None,
            "user_name": user.get_username() if user else "",
            "api_client_id": ctx.api_client.pk if ctx.api_client is not None else None,
            "content_type_id": ContentType.objects.get_for_model(model).pk,
        }
        columns = [*constants, "action", "object_id", "object_repr"]
        columns += ["prechange_data", "postchange_data"]
        fixed = tuple(constants.values())

        def adapt(value: dict | None) -> Any:
            return None if value is None else ops.adapt_json_value(value, DjangoJSONEncoder)

        rows = [
            (
                *fixed,
                action,
                str(object_id),
                (object_repr or "")[:200],
                adapt(before),
                adapt(after),
            )
            for action, object_id, object_repr, before, after in entries
        ]
        quote = ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(meta.db_table),
            ", ".join(quote(c) for c in columns),
            ", ".join(["%s"] * len(columns)),
        )
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start : start + 5000])
        return len(rows)

    def diff(self) -> list[tuple[str, Any, Any]]:
        before, after = self.prechange_data or {}, self.postchange_data or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class PersonalDataAccess(models.Model):
    """Audit of staff seeing an unmasked personal value (PIPL)."""

    time = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.UUIDField()
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL)
    api_client = models.ForeignKey(ApiClient, null=True, on_delete=models.SET_NULL)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    purpose = models.CharField(max_length=100)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.purpose} {self.object_id}"


class Job(models.Model):
    """Long work (ingestion, evaluation, reports) with progress the UI and CLI can follow."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.BigIntegerField(null=True, blank=True)
    done = models.BigIntegerField(default=0)
    unit = models.CharField(max_length=20, default="rows")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    api_client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL)
    params = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    outcome = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def restrict_queryset(cls, qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
        if user is None or not user.is_authenticated:
            return qs.none()
        if user.is_citywide:
            return qs
        if isinstance(user, ApiClient):
            return qs.filter(api_client=user)
        if user.department_id:
            return qs.filter(models.Q(department_id=user.department_id) | models.Q(created_by=user))
        return qs.filter(created_by=user)

    @property
    def percent(self) -> float | None:
        if not self.total:
            return 100.0 if self.status == self.Status.SUCCEEDED else None
        return min(100.0, round(100.0 * self.done / self.total, 1))

    @property
    def eta_seconds(self) -> float | None:
        if self.status != self.Status.RUNNING or not self.total or not self.started_at:
            return None
        if self.done <= 0:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return max(0.0, elapsed / self.done * (self.total - self.done))

    @property
    def elapsed(self) -> dt.timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class ScheduledRun(models.Model):
    """One run of a daily job (``core.schedule``): at most one per name and day, whichever
    worker gets there first."""

    name = models.CharField(max_length=60)
    day = models.DateField()
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "day"], name="one_scheduled_run_a_day")
        ]
        ordering = ["-day", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.day}"
