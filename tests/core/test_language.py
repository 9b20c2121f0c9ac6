"""Simplified Chinese by default, English only when the user asks for it."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_chinese_even_when_the_browser_prefers_english():
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    assert "质量强市平台" in response.content.decode()


def test_language_switch_gives_english_and_back():
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    response = client.get("/")
    assert response["Content-Language"] == "en"
    assert "Quality City Platform" in response.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "质量强市平台" in client.get("/").content.decode()


def test_unknown_language_cookie_falls_back_to_chinese():
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert client.get("/")["Content-Language"] == "zh-hans"
