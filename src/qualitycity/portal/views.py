"""The public site: what the platform is, the credit lookup, public credit files and the red
and black lists (entries in force only).

Anonymous, rate-limited per address, masked: natural persons' names and ID numbers never appear
in full, only public records are shown, and credit classes are never shown here.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from qualitycity.core.errors import NotFound, ValidationFailed

from . import selectors
from .forms import LookupForm
from .ratelimit import rate_limited

LIST_KINDS = ("black", "red", "watch")

# A credit file lists the newest records of each category; "show all" lists every one.
PER_CATEGORY = 100

# The failed identifier check, explained to the public (codes from subjects.identifiers).
CHECK_MESSAGES = {
    "empty": _("The code is empty."),
    "bad_length": _("A code must be 18 characters long."),
    "bad_characters": _("The code contains characters that are not allowed."),
    "bad_authority": _("Position 1 (registration authority) must be 1-9, A, N or Y."),
    "bad_division": _("Positions 3-8 (administrative division code) must be digits."),
    "bad_org_check": _(
        "Position 17 does not match the check digit of the organisation code (GB 11714)."
    ),
    "bad_check": _("The check character does not match: the code has a typing error."),
    "bad_birth_date": _("The birth date in the ID number is not a real date."),
    "bad_format": _("The code is not in the expected format."),
}


@require_GET
@rate_limited
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"form": LookupForm()})


@require_GET
@rate_limited
def search(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.GET or None)
    results = None
    if form.is_valid():
        try:
            page = int(request.GET.get("page") or 1)
        except ValueError:
            page = 1
        try:
            results = selectors.public_search(q=form.cleaned_data["q"], page=page)
        except ValidationFailed as exc:
            form.add_error("q", exc.message)
    status = 200 if results is not None or not form.is_bound else 400
    return render(request, "portal/search.html", {"form": form, "results": results}, status=status)


@require_GET
@rate_limited
def credit_file(request: HttpRequest, code: str) -> HttpResponse:
    try:
        file = selectors.public_credit_file(
            ref=code, per_category=None if request.GET.get("all") == "1" else PER_CATEGORY
        )
    except ValidationFailed as exc:
        return render(
            request,
            "portal/code_error.html",
            {
                "code": code,
                "error_code": exc.code,
                "message": CHECK_MESSAGES.get(exc.code, exc.message),
                "form": LookupForm(),
            },
            status=400,
        )
    except NotFound as exc:
        return render(
            request,
            "portal/not_registered.html",
            {"code": code, "error_code": exc.code, "form": LookupForm()},
            status=404,
        )
    return render(request, "portal/credit_file.html", {"file": selectors.public_context(file)})


@require_GET
@rate_limited
def lists_catalogue(request: HttpRequest) -> HttpResponse:
    """The red, black and watch lists with their legal basis and the entries in force."""
    items = selectors.public_lists()
    return render(
        request,
        "portal/lists.html",
        {"groups": [(kind, [i for i in items if i["kind"] == kind]) for kind in LIST_KINDS]},
    )


@require_GET
@rate_limited
def list_entries(request: HttpRequest, list_code: str) -> HttpResponse:
    """The entries of one list in force today, newest publication first, persons masked."""
    try:
        page = int(request.GET.get("page") or 1)
    except ValueError:
        page = 1
    try:
        data = selectors.public_list_page(list_code=list_code, page=page)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "portal/list.html", {"data": data})


@require_GET
@rate_limited
def inspections(request: HttpRequest) -> HttpResponse:
    """Published results of "double random" inspections and spot checks, and the drawn plans
    with their seeds and pool digests (persons masked)."""
    from qualitycity.supervision.selectors import public_plans, public_results

    try:
        page = int(request.GET.get("page") or 1)
    except ValueError:
        page = 1
    kind = "spot_checks" if request.GET.get("kind") == "spot_checks" else "inspections"
    return render(
        request,
        "portal/inspections.html",
        {"data": public_results(page=page, kind=kind), "plans": public_plans()},
    )


def plan_progress(request: HttpRequest) -> HttpResponse:
    """The quality improvement plan's progress as the quality office last released it."""
    from qualitycity.plan.selectors import public_release_context

    return render(request, "portal/plan.html", {"data": public_release_context()})
