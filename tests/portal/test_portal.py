"""The public portal: lookup, masked persons, public records only, rate limit, languages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from qualitycity.portal.selectors import subject_ref

from .data import make_city

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    return make_city()


def test_home_explains_the_platform_and_offers_a_lookup(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'action="/search/"' in text and 'name="q"' in text
    # The four pillars, in the default language (Simplified Chinese).
    for pillar in ("质量领先", "标准引领", "品牌驱动", "信用保障"):
        assert pillar in text


def test_lookup_by_two_character_name_fragment(client, city):
    response = client.get(reverse("portal:search"), {"q": "海风"})
    assert response.status_code == 200
    text = response.content.decode()
    assert city.brewery.name in text
    assert reverse("portal:credit_file", args=[city.brewery.code]) in text


def test_lookup_by_former_name_and_by_code(client, city):
    text = client.get(reverse("portal:search"), {"q": "老港"}).content.decode()
    assert city.brewery.name in text and "青岛老港啤酒厂" in text
    text = client.get(reverse("portal:search"), {"q": city.fisher.code}).content.decode()
    assert city.fisher.name in text


def test_lookup_masks_persons_everywhere(client, city):
    response = client.get(reverse("portal:search"), {"q": "海风"})
    text = response.content.decode()
    assert "张*" in text
    assert city.person.name not in text
    assert city.person.code not in text  # not even in the link
    assert city.person.code[:6] + "********" + city.person.code[-4:] in text
    page = client.get(reverse("portal:credit_file", args=[subject_ref(city.person)]))
    assert page.status_code == 200
    body = page.content.decode()
    assert city.person.name not in body and city.person.code not in body
    assert "张*" in body and "青市监罚〔2024〕18号" in body


def test_short_query_is_explained(client):
    response = client.get(reverse("portal:search"), {"q": "海"})
    assert response.status_code == 400
    assert response.context["form"].errors


def test_public_credit_file_shows_only_public_records(client, city):
    response = client.get(reverse("portal:credit_file", args=[city.brewery.code]))
    assert response.status_code == 200
    text = response.content.decode()
    assert city.brewery.name in text
    assert "青市监罚〔2024〕17号" in text
    assert "SECRET-RATING-42" not in text  # a non-public record
    assert "李*" in text and "李大海" not in text  # a legal representative is a person too
    assert "credit_class" not in response.context["file"]


def test_credit_file_code_errors(client, city):
    bad = city.brewery.code[:-1] + ("0" if city.brewery.code[-1] != "0" else "1")
    response = client.get(reverse("portal:credit_file", args=[bad]))
    assert response.status_code == 400
    assert response.context["error_code"] == "bad_check"
    from ..subjects.factories import uscc

    response = client.get(reverse("portal:credit_file", args=[uscc(999)]))
    assert response.status_code == 404
    response = client.get(reverse("portal:credit_file", args=["p1:forged"]))
    assert response.status_code == 404


def test_public_pages_are_rate_limited_per_address(client, settings):
    settings.QUALITYCITY_PUBLIC_RATE = "3/m"
    url = reverse("portal:home")
    for _ in range(3):
        assert client.get(url, REMOTE_ADDR="10.0.0.1").status_code == 200
    response = client.get(url, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "请稍候" in response.content.decode() or "wait" in response.content.decode()
    # Another address is counted apart.
    assert client.get(url, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_language_switch_gives_english(client):
    assert "信用保障" in client.get(reverse("portal:home")).content.decode()
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("portal:home")}, follow=True
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert 'lang="en"' in text
    assert "Credit guarantees" in text and "信用保障" not in text
