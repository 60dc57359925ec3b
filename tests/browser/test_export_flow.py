"""A data manager runs a study export in the browser and downloads it once the progress bar
is full; the dashboard shows the study figures with its plot."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_data_manager_exports_and_downloads(
    open_page, staff, case_at, screenshot, assert_accessible
):
    case_at("a", "TDM-B1")
    case_at("b", "TDM-B2", adverse_event=False)
    page = open_page(staff["datamanager_a"])
    page.goto("/")
    page.get_by_role("link", name="Study exports").click()
    assert_accessible(page)
    page.get_by_label("Format").select_option("csv")
    page.get_by_role("button", name="Start the export").click()
    expect(page.locator("#export-bar")).to_have_attribute("value", "100", timeout=60_000)
    expect(page.get_by_text("Finished — 100%")).to_be_visible()
    screenshot(page, "page-datamanager-export-done")
    assert_accessible(page)
    with page.expect_download() as waiting:
        page.locator("#export-download").click()
    download = waiting.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))  # noqa: SIM115
    names = archive.namelist()
    assert "dictionary.csv" in names
    patients = archive.read(next(n for n in names if "patients" in n)).decode()
    assert "TDM-B1" in patients
    assert "TDM-B2" in patients
    assert "Patient A" not in patients

    page.get_by_role("link", name="Study", exact=True).click()
    expect(page.get_by_role("heading", name="Study dashboard")).to_be_visible()
    expect(page.locator("figure.plot svg")).to_be_visible()
    screenshot(page, "page-datamanager-dashboard")
    assert_accessible(page)
