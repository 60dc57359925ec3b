"""Every page carries a Content-Security-Policy that allows eTDM's own scripts, styles and images
only (docs/access.md); the plots' inline SVG and htmx work under it (the browser tests click
through the pages with it on)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.conf import settings

from advice.models import Advice

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (directive.split() for directive in header.split(";") if directive)
    }


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/patients/", "/worklist/", "/admin/"])
def test_every_page_has_the_policy(client, staff, path):
    client.force_login(staff["admin"])

    directives = policy(client.get(path))

    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["style-src-elem"]
    assert directives["object-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_the_api_answers_carry_it_too(api):
    answer = api("nurse_a").get("/api/v1/patients/")

    assert "default-src 'self'" in answer["Content-Security-Policy"]


def test_the_allowed_style_element_is_the_one_matplotlib_writes(client, staff, case_at):
    """The hash in the policy is that of the style element in the treatment page's plot."""
    case = case_at("a")
    client.force_login(staff["nurse_a"])
    page = client.get(f"/treatments/{case['treatment'].pk}/").content.decode()

    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)
    assert styles
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for style in styles
    }
    assert hashes == {settings.MATPLOTLIB_SVG_STYLE}


def test_the_api_docs_load_their_script_from_the_server(client, staff):
    client.force_login(staff["nurse_a"])

    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script")

    assert "<script>" not in page.content.decode().replace(" ", "")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_only_the_report_may_be_framed_and_only_by_etdm(
    client, staff, case_at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    client.force_login(staff["pharmacist_a"])

    report = client.get(f"/advice/{advice.pk}/report.pdf")

    assert report.status_code == 200
    assert policy(report)["frame-ancestors"] == ["'self'"]
    assert report["X-Frame-Options"] == "SAMEORIGIN"
