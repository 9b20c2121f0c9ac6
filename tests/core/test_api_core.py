"""The API's authentication, scopes, rate limits and error envelope, through real HTTP requests."""

import pytest
from django.test import Client

from qualitycity.core.models import ApiClient, hash_key
from tests.conftest import bearer

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
