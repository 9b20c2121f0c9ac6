from django.urls import include, path

from qualitycity.core.api import api
from qualitycity.credit.api import router as credit_router
from qualitycity.credit.api import subject_router as credit_subject_router
from qualitycity.discipline.api import router as discipline_router
from qualitycity.lists.api import router as lists_router
from qualitycity.plan.api import router as plan_router
from qualitycity.records.api import router as records_router
from qualitycity.records.api_files import router as credit_file_router
from qualitycity.subjects.api import router as subjects_router
from qualitycity.supervision.api import router as supervision_router

# The subjects router owns the registry search (GET /subjects); the records app adds the credit
# file of one subject (GET /subjects/{code}), which needs its records.
api.add_router("/subjects", subjects_router)
api.add_router("/subjects", credit_file_router)
api.add_router("/subjects", credit_subject_router)
api.add_router("/", records_router)
api.add_router("/credit", credit_router)
api.add_router("/discipline", discipline_router)
api.add_router("/lists", lists_router)
api.add_router("/supervision", supervision_router)
api.add_router("/plan", plan_router)

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/", include("qualitycity.core.urls")),
    path("subjects/", include("qualitycity.subjects.urls")),
    path("records/", include("qualitycity.records.urls")),
    path("credit/", include("qualitycity.credit.urls")),
    path("lists/", include("qualitycity.lists.urls")),
    path("discipline/", include("qualitycity.discipline.urls")),
    path("supervision/", include("qualitycity.supervision.urls")),
    path("plan/", include("qualitycity.plan.urls")),
    path("", include("qualitycity.portal.urls")),
]
