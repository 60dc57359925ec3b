"""The study dashboard's Ctrough-versus-target plot: well-formed, byte-stable SVG that says what
it shows, and a rendering that can be looked at."""

import xml.etree.ElementTree as ET
from contextlib import closing
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pypdfium2
import pytest
import weasyprint
from PIL import ImageStat

from study.outcomes import DrugGroup
from study.plot import ctrough_vs_target_svg

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SVG = "{http://www.w3.org/2000/svg}"


def values(*numbers: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(number) for number in numbers)


# The evaluable Ctrough values of the cohort of tests/study/test_summary.py, and two drugs whose
# targets lie four orders of magnitude apart, to show they fit one plot.
SORAFENIB = DrugGroup(
    "sorafenib",
    Decimal(3750),
    values("2000", "3000", "3500", "4000", "2500", "3000", "2800", "4200", "3900"),
)
PAZOPANIB = DrugGroup("pazopanib", Decimal(20000), values("15000", "21000"))
DASATINIB = DrugGroup("dasatinib", Decimal("2.61"), values("1.2", "2.61", "3.9", "12"))
VEMURAFENIB = DrugGroup("vemurafenib", Decimal(42000), ())
AXITINIB = DrugGroup("axitinib", None, ())
COHORT = (SORAFENIB, PAZOPANIB, DASATINIB, VEMURAFENIB, AXITINIB)


def parse(markup: str) -> ET.Element:
    # The markup is our own matplotlib output, not outside input.
    return ET.fromstring(markup)  # noqa: S314


def texts(markup: str) -> list[str]:
    """Every text run drawn in the SVG (a line of a multi-line label is a run of its own)."""
    return ["".join(element.itertext()).strip() for element in parse(markup).iter(f"{SVG}text")]


@pytest.mark.parametrize("groups", [COHORT, (SORAFENIB,), ()], ids=["five", "one", "none"])
def test_the_plot_is_well_formed_and_byte_stable(groups):
    markup = ctrough_vs_target_svg(groups)

    assert markup.startswith("<svg")
    assert parse(markup).tag == f"{SVG}svg"
    assert ctrough_vs_target_svg(groups) == markup


def test_each_drug_is_named_with_its_target_and_its_share_below_it():
    drawn = texts(ctrough_vs_target_svg(COHORT))
    two_line_labels = list(pairwise(drawn))

    assert drawn[:3] == ["sorafenib", "target 3750 ng/mL", "9 evaluable"]
    # Sorafenib: 2000 2500 2800 3000 3000 3500 below 3750, 3900 4000 4200 not: 6 of 9.
    assert ("6 of 9 below", "target (66.7%)") in two_line_labels
    assert ("1 of 2 below", "target (50%)") in two_line_labels
    # Dasatinib: 1.2 below 2.61; exactly at the target is not below.
    assert ("1 of 4 below", "target (25%)") in two_line_labels
    assert "target 2.61 ng/mL" in drawn
    assert "target 42000 ng/mL" in drawn
    assert "no evaluable" in drawn
    assert "(monitored by AUC)" in drawn
    assert "100% = target" in drawn
    assert "Ctrough as % of the drug's target" in drawn
    assert "middle half of the values (IQR)" in drawn


def test_without_patients_the_plot_says_so():
    drawn = texts(ctrough_vs_target_svg(()))

    assert "No patients yet" in drawn
    assert "100% = target" not in drawn


def test_drugs_without_values_keep_their_names():
    drawn = texts(ctrough_vs_target_svg((VEMURAFENIB, AXITINIB)))

    assert "No evaluable Ctrough values yet" in drawn
    assert "vemurafenib" in drawn
    assert "(monitored by AUC)" in drawn


def test_the_plot_renders_as_it_will_be_printed():
    """Drawn by WeasyPrint as the dashboard page's PDF would, saved for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = (
        "<html><head><style>@page { size: A4 landscape; margin: 10mm } body { margin: 0 }"
        f"</style></head><body>{ctrough_vs_target_svg(COHORT)}</body></html>"
    )
    pdf = weasyprint.HTML(string=page).write_pdf()
    scale = 2  # 144 dpi: the 7 pt labels stay readable when the image is opened
    with closing(pypdfium2.PdfDocument(pdf)) as document:
        image = document[0].render(scale=scale).to_pil().convert("L")
        pages = len(document)
    plot = image.crop(_ink_box(image))
    plot.save(ARTIFACTS / "study_ctrough_vs_target.png")
    non_white = sum(plot.histogram()[:200]) / (plot.width * plot.height)

    assert pages == 1
    assert plot.width > 900
    assert plot.height > 400
    assert non_white > 0.02
    assert ImageStat.Stat(plot).stddev[0] > 20


def _ink_box(image, margin=12):
    """The bounding box of everything that is not white paper, with a little paper around."""
    left, top, right, bottom = image.point(lambda level: 255 if level < 250 else 0).getbbox()
    return (left - margin, top - margin, right + margin, bottom + margin)
