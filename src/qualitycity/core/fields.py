"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


class WrittenJSONField(models.JSONField):
    """JSON that only the platform writes, always through its own serializer.

    On SQLite Django adds ``CHECK (JSON_VALID(column))`` to a JSON column, so SQLite parses
    every value again on every insert and update. For the record tables that bulk ingestion
    fills (millions of rows a file) that re-check was measured at about a sixth of the cost
    of storing a row, while the values it checks were produced by ``json`` a moment before.
    This field leaves the check out on SQLite; reading, lookups and PostgreSQL (``jsonb``,
    which has no such check) are as for ``JSONField``.
    """

    def db_check(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return None
        return super().db_check(connection)
