"""Forms of the UI shell."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import Job, ObjectChange


class LoginForm(AuthenticationForm):
    """The staff sign-in form (Django's authentication with our labels)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["username"].widget.attrs.update({"autofocus": True, "autocomplete": "username"})
        self.fields["password"].label = _("Password")


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All"))] + list(Job.Status.choices)
    )


class ChangeFilterForm(forms.Form):
    app_label = forms.CharField(label=_("Application"), required=False, max_length=40)
    model = forms.CharField(label=_("Kind of object"), required=False, max_length=60)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All"))] + list(ObjectChange.ACTIONS)
    )
