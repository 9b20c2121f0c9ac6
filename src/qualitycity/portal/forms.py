"""The public credit lookup form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

MIN_QUERY_LENGTH = 2


class LookupForm(forms.Form):
    q = forms.CharField(
        label=_("Name or unified social credit code"),
        max_length=100,
        min_length=MIN_QUERY_LENGTH,
        strip=True,
        error_messages={
            "required": _("Type a name (2 or more characters) or a code."),
            "min_length": _(
                "Type at least 2 characters: a code, or 2 or more characters of a name."
            ),
        },
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Enterprise name, former name or unified social credit code"),
                "autocomplete": "off",
            }
        ),
    )
