"""The form that starts an evaluation run."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualitycity.core.i18n import bilingual

from . import scorecard as sc
from .models import EvaluationRun


def scorecard_choices() -> list[tuple[str, str]]:
    """ "Every scorecard in force" and each shipped scorecard id (its latest title)."""
    titles: dict[str, Any] = {}
    for card in sorted(sc.scorecards(), key=lambda c: c.effective_from):
        titles[card.id] = bilingual(card.title_zh, card.title_en)
    return [("", _("Every scorecard in force")), *sorted(titles.items())]


class EvaluationForm(forms.Form):
    engine = forms.ChoiceField(
        label=_("Engine"),
        choices=EvaluationRun.Engine.choices,
        initial=EvaluationRun.Engine.DUCKDB,
        help_text=_("DuckDB on one machine; SQLite for small installations; Spark at scale."),
    )
    as_of = forms.DateField(
        label=_("As of"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Records decided on or before this day are read; today or earlier."),
    )
    scorecard = forms.ChoiceField(label=_("Scorecard"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("as_of", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["scorecard"].choices = scorecard_choices()

    # Error codes of ``services.evaluation_start`` → the field they are about.
    ERROR_FIELDS = {
        "bad_as_of": "as_of",
        "as_of_in_future": "as_of",
        "unknown_engine": "engine",
        "engine_unavailable": "engine",
        "unknown_scorecard": "scorecard",
        "no_scorecard_in_force": "scorecard",
    }

    def add_service_error(self, code: str, message: str) -> None:
        self.add_error(self.ERROR_FIELDS.get(code), message)
