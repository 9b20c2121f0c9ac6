"""Forms of the supervision pages (parsing only; the services validate the substance)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualitycity.core.models import Department
from qualitycity.records.catalogue import get_dataset

from .models import IncidentReport, InspectionResult, Sample, SpotCheckPlan


def _inspection_departments() -> list[tuple[str, str]]:
    allowed = get_dataset("inspection_result").departments
    return [(d.code, d.name) for d in Department.objects.filter(code__in=allowed).order_by("code")]


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class PlanForm(forms.Form):
    name = forms.CharField(label=_("Plan name"), max_length=200)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)
    departments = forms.MultipleChoiceField(
        label=_("Departments"),
        help_text=_("Several departments make a joint inspection: each subject is visited once."),
        widget=forms.CheckboxSelectMultiple,
    )
    matter = forms.CharField(
        label=_("Inspection matters"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One line per department, in the form: department code: matter."),
    )
    qualification = forms.CharField(
        label=_("Qualification required"), required=False, max_length=40
    )
    ratio_A = forms.CharField(label=_("Ratio for class A (%)"), max_length=10)
    ratio_B = forms.CharField(label=_("Ratio for class B (%)"), max_length=10)
    ratio_C = forms.CharField(label=_("Ratio for class C (%)"), max_length=10)
    ratio_D = forms.CharField(label=_("Ratio for class D (%)"), max_length=10)
    industries = forms.CharField(label=_("Industries (codes)"), required=False)
    districts = forms.CharField(label=_("Districts (codes)"), required=False)
    licence = forms.CharField(label=_("Licence held (name contains)"), required=False)
    min_inspectors = forms.IntegerField(label=_("Inspectors per task"), min_value=1)
    avoid_home_district = forms.BooleanField(
        label=_("Avoid inspectors living in the subject's district"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departments"].choices = _inspection_departments()

    def clean(self) -> dict[str, Any]:
        cd = super().clean()
        matters: dict[str, str] = {}
        for line in (cd.get("matter") or "").splitlines():
            if ":" in line or "：" in line:
                code, _sep, text = line.replace("：", ":").partition(":")
                matters[code.strip()] = text.strip()
        cd["matters"] = matters
        return cd

    def service_kwargs(self) -> dict[str, Any]:
        cd = self.cleaned_data
        default = next(iter(cd["matters"].values()), "") if len(cd["matters"]) == 1 else ""
        if not cd["matters"]:
            default = cd["matter"].strip()
        return {
            "name": cd["name"],
            "year": cd.get("year"),
            "items": [
                {
                    "department": code,
                    "matter": cd["matters"].get(code, default),
                    "qualification": cd.get("qualification", ""),
                }
                for code in cd["departments"]
            ],
            "ratios": {c: cd[f"ratio_{c}"] for c in "ABCD"},
            "filters": {
                "industries": cd.get("industries", ""),
                "districts": cd.get("districts", ""),
                "licence": cd.get("licence", ""),
            },
            "min_inspectors": cd["min_inspectors"],
            "avoid_home_district": cd["avoid_home_district"],
        }


class ResultForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=InspectionResult.Outcome.choices)
    inspected_on = forms.DateField(label=_("Inspected on"), widget=DateInput)
    findings = forms.CharField(
        label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.all(),
        required=False,
        to_field_name="code",
    )
    publish = forms.BooleanField(label=_("Publish now"), required=False, initial=True)
    unreported_incident = forms.CharField(
        label=_("Quality incident found that the enterprise did not report"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, citywide: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not citywide:
            del self.fields["department"]
        self.fields["inspected_on"].initial = timezone.localdate()


class SpotPlanForm(forms.Form):
    name = forms.CharField(label=_("Plan name"), max_length=200)
    product_category = forms.CharField(label=_("Product category"), max_length=100)
    risk = forms.ChoiceField(label=_("Risk"), choices=SpotCheckPlan.Risk.choices)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)


class SampleForm(forms.Form):
    subject = forms.CharField(label=_("Enterprise (USCC)"), max_length=18)
    product = forms.CharField(label=_("Product"), max_length=200)
    batch = forms.CharField(label=_("Batch"), max_length=100, required=False)
    sampled_on = forms.DateField(label=_("Sampled on"), widget=DateInput)


class SampleResultForm(forms.Form):
    sample = forms.IntegerField(widget=forms.HiddenInput)
    result = forms.ChoiceField(
        label=_("Result"),
        choices=[(Sample.Result.PASS, _("Pass")), (Sample.Result.FAIL, _("Fail"))],
    )
    result_date = forms.DateField(label=_("Result date"), widget=DateInput)
    failed_items = forms.CharField(label=_("Failed items"), required=False)
    standard = forms.CharField(label=_("Standard"), max_length=200, required=False)


class IncidentForm(forms.Form):
    product = forms.CharField(label=_("Product"), max_length=200)
    batch = forms.CharField(label=_("Batch"), max_length=100, required=False)
    defect = forms.CharField(label=_("Defect"), widget=forms.Textarea(attrs={"rows": 2}))
    harm = forms.CharField(
        label=_("Harm"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    scale = forms.CharField(label=_("Scale"), max_length=200, required=False)
    actions_taken = forms.CharField(
        label=_("Actions taken"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    discovered_at = forms.DateTimeField(label=_("Discovered at"), widget=DateTimeInput)
    department = forms.ModelChoiceField(
        label=_("Responsible department"),
        queryset=Department.objects.all(),
        to_field_name="code",
        initial="market",
    )


class TriageForm(forms.Form):
    risk_level = forms.ChoiceField(label=_("Risk level"), choices=IncidentReport.Risk.choices)
    follow_up = forms.CharField(label=_("Follow-up"), widget=forms.Textarea(attrs={"rows": 2}))
    recall_needed = forms.BooleanField(label=_("Recall needed"), required=False)
    close = forms.BooleanField(label=_("Close the report"), required=False)


class InspectorForm(forms.Form):
    badge_no = forms.CharField(label=_("Badge number"), max_length=30)
    name = forms.CharField(label=_("Name"), max_length=100)
    department = forms.ChoiceField(label=_("Department"))
    qualifications = forms.CharField(
        label=_("Qualifications"), required=False, help_text=_("Codes, separated by commas.")
    )
    district = forms.CharField(label=_("Home district"), max_length=6, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = _inspection_departments()

    def clean_qualifications(self) -> list[str]:
        raw = self.cleaned_data.get("qualifications") or ""
        return [q.strip() for q in raw.replace("，", ",").split(",") if q.strip()]


class ConflictForm(forms.Form):
    badge_no = forms.CharField(label=_("Badge number"), max_length=30)
    subject = forms.CharField(label=_("Subject (code)"), max_length=18)
    reason = forms.CharField(label=_("Reason"), max_length=200)
