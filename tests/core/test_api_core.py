"""The API's authentication, scopes, rate limits and error envelope, through real HTTP requests."""

import pytest
from django.test import Client

from qualitycity.core.models import ApiClient, hash_key
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def test_bearer_key_authenticates_and_reports_scopes(api_key):
    key = api_key(["subjects.read", "records.ingest"], department="tax")
    response = Client().get("/api/v1/me", **bearer(key))
    assert response.status_code == 200
    assert response.json() == {
        "kind": "api_client",
        "name": "client-tax-1",
        "department": "tax",
        "scopes": ["records.ingest", "subjects.read"],
    }


def test_key_is_stored_only_as_hash(api_key):
    key = api_key(["subjects.read"])
    client = ApiClient.objects.get()
    assert client.key_hash == hash_key(key)
    assert key not in str(client.__dict__.values())


def test_missing_key_is_401_with_envelope():
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthenticated",
        "message": "Authentication required.",
        "details": None,
    }


def test_wrong_key_is_401_and_never_falls_back_to_public():
    response = Client().get("/api/v1/departments", HTTP_AUTHORIZATION="Bearer qc_not-a-key")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_key"


def test_revoked_key_is_refused(api_key):
    from qualitycity.core.services import apiclient_revoke

    key = api_key(["subjects.read"])
    apiclient_revoke(name="client-market-1")
    assert Client().get("/api/v1/me", **bearer(key)).status_code == 401


def test_public_endpoint_for_anonymous():
    response = Client().get("/api/v1/departments")
    assert response.status_code == 200
    codes = {d["code"] for d in response.json()}
    assert {"market", "tax", "court", "customs"} <= codes


def test_rate_limit_per_client(api_key):
    key = api_key(["subjects.read"], rate_limit="3/m")
    other = api_key(["subjects.read"], rate_limit="3/m")
    client = Client()
    statuses = [client.get("/api/v1/me", **bearer(key)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get("/api/v1/me", **bearer(key))
    assert limited.json()["code"] == "rate_limited"
    # another client's budget is its own
    assert client.get("/api/v1/me", **bearer(other)).status_code == 200


def test_openapi_and_docs_are_served():
    client = Client()
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["info"]["title"] == "Quality City Platform API"
    assert "/api/v1/departments" in document["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_request_id_header_on_every_response():
    response = Client().get("/api/v1/departments")
    assert len(response["X-Request-ID"]) == 36


def test_an_unsafe_request_without_credentials_is_401_even_with_csrf_checks_on(api_key):
    """As over real HTTP (the test client skips CSRF unless told): no key and no session is
    "unauthenticated", not a CSRF failure; a browser session without the token still is 403."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/discipline/check", {"subject": "x"}, content_type="application/json"
    )
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    key = api_key(["discipline.check"])
    keyed = client.post(
        "/api/v1/discipline/check",
        {"subject": "91370200MA3C5FGH2X", "scenario": "subsidies"},
        content_type="application/json",
        **bearer(key),
    )
    assert keyed.status_code != 403  # a key needs no CSRF token


def test_a_session_post_without_the_csrf_token_is_refused(make_user):
    make_user("csrf-office")
    client = Client(enforce_csrf_checks=True)
    client.login(username="csrf-office", password=PASSWORD)
    response = client.post(
        "/api/v1/discipline/check",
        {"subject": "91370200MA3C5FGH2X", "scenario": "subsidies", "department": "market"},
        content_type="application/json",
    )
    assert response.status_code == 403
