"""Forms of the lists pages: filters, the manual proposal, the acts on an entry (each with its
reason), decisions, objections and credit-repair applications with evidence files."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import Department

from .catalogue import lists
from .models import ListEntry, Objection, RepairApplication
from .services import EVIDENCE_EXTENSIONS, EVIDENCE_MAX_FILES


def list_choices(codes: list[str] | None = None, *, zh: bool = True) -> list[tuple[str, str]]:
    """(code, name) of the catalogue's lists, or of ``codes`` only, in catalogue order."""
    return [(c, ld.name(zh)) for c, ld in lists().items() if codes is None or c in codes]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Several files at once; cleaned to a list (empty when none was chosen)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        accept = ",".join(f".{ext}" for ext in sorted(EVIDENCE_EXTENSIONS))
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": accept}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(d, initial) for d in data if d]
        else:
            files = [single(data, initial)] if data else []
        if self.required and not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return files


def evidence_help() -> str:
    return _(
        "Up to %(n)s files: PDF, OFD, images, Word or Excel documents, CSV, text or ZIP, "
        "20 MB each."
    ) % {"n": EVIDENCE_MAX_FILES}


def reason_field(**kwargs: Any) -> forms.CharField:
    """The reason every act on an entry needs (it goes into the entry's history)."""
    return forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        error_messages={"required": _("Give a reason: it is written into the entry's history.")},
        **kwargs,
    )


class EntryFilterForm(forms.Form):
    list = forms.ChoiceField(label=_("List"), required=False)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", "—"), *ListEntry.State.choices]
    )
    department = forms.ChoiceField(label=_("Department"), required=False)
    subject = forms.CharField(label=_("Subject code"), required=False, max_length=18)

    def __init__(self, *args: Any, zh: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["list"].choices = [("", "—"), *list_choices(zh=zh)]
        owners = {ld.department for ld in lists().values()}
        self.fields["department"].choices = [("", "—")] + [
            (d.code, d.name) for d in Department.objects.filter(code__in=owners).order_by("sort")
        ]


class ReasonForm(forms.Form):
    reason = reason_field()


class ProposeForm(forms.Form):
    list_code = forms.ChoiceField(label=_("List"))
    subject = forms.CharField(
        label=_("Subject code"),
        max_length=18,
        help_text=_("The unified social credit code, or the resident ID number of a person."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("The facts and the decision that make the subject meet the list's criteria."),
        error_messages={"required": _("Give a reason: it is written into the entry's history.")},
    )

    def __init__(self, *args: Any, codes: list[str], zh: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["list_code"].choices = list_choices(codes, zh=zh)


class ObjectionDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("uphold", _("Uphold the objection")),
            ("reject", _("Reject the objection")),
        ],
    )
    reason = reason_field()


class RepairDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", _("Approve: publication ends")),
            ("reject", _("Reject: the entry stays published")),
        ],
    )
    reason = reason_field()


class WithdrawObjectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


class ObjectionForm(forms.Form):
    text = forms.CharField(
        label=_("Your objection"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_("What is wrong, and why. The deciding department answers by the due date."),
        error_messages={"required": _("Say what you object to and why.")},
    )
    evidence = EvidenceField(label=_("Evidence"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].help_text = evidence_help()


class RecordObjectionForm(ObjectionForm):
    record = forms.TypedChoiceField(label=_("Credit record"), coerce=int)

    field_order = ["record", "text", "evidence"]

    def __init__(self, *args: Any, records: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record"].choices = records


class RepairForm(forms.Form):
    commitment = forms.CharField(
        label=_("Credit commitment"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_(
            "Commit to keep the law from now on, and say how the penalty was fulfilled "
            "(fine paid, corrections made)."
        ),
        error_messages={"required": _("Write the credit commitment.")},
    )
    evidence = EvidenceField(
        label=_("Proof that the penalty was fulfilled"),
        required=True,
        error_messages={"required": _("Attach at least one proof that the penalty was fulfilled.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].help_text = evidence_help()


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args: Any, kind: str, citywide: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model = Objection if kind == "objection" else RepairApplication
        statuses = model.Status.choices
        self.fields["status"].choices = [("", "—"), *statuses]
        if citywide:
            self.fields["department"].choices = [("", "—")] + [
                (d.code, d.name) for d in Department.objects.order_by("sort", "code")
            ]
        else:
            del self.fields["department"]
