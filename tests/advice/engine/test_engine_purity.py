"""The clinical engine `advice.engine` is pure Python: no framework, no project app, no clock.

import-linter holds the import rules in `make test` as well; this test adds the clock reads,
which no import rule can see.
"""

import ast
from pathlib import Path

import pytest

from advice import engine

PACKAGE = Path(engine.__file__).resolve().parent
FORBIDDEN = (
    "django",
    "rest_framework",
    "celery",
    "cases",
    "notifications",
    "reports",
    "study",
    "tdm_site",
    "advice.models",
    "advice.services",
    "advice.tasks",
    "time",
)
CLOCK_READS = {"now", "today", "utcnow", "utcfromtimestamp", "fromtimestamp"}


def engine_modules():
    return sorted(PACKAGE.rglob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_forbidden(module):
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


def test_the_engine_modules_are_found():
    names = {path.name for path in engine_modules()}
    assert {
        "units.py",
        "ctcae.py",
        "pk.py",
        "dosing.py",
        "rules.py",
        "text.py",
        "toxicity.py",
        "case_input.py",
    } <= names


@pytest.mark.parametrize("path", engine_modules(), ids=lambda path: path.name)
def test_no_framework_imports(path):
    offending = sorted(module for module in imported_modules(path) if is_forbidden(module))
    assert offending == [], f"{path.relative_to(PACKAGE.parent)} imports {offending}"


@pytest.mark.parametrize("path", engine_modules(), ids=lambda path: path.name)
def test_no_clock_reads(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    reads = sorted(
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_READS
    )
    assert reads == [], f"{path.name} reads the clock: {reads}"


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("import django", True),
        ("from django.db import models", True),
        ("from cases.models import Drug", True),
        ("from cases import models", True),
        ("import reports.render", True),
        ("from reports import context", True),
        ("from cases.data import x", True),
        ("from advice.services import advice_release", True),
        ("from advice.engine.units import to_ng_ml", False),
        ("import casesmith", False),
        ("from advice.errors import InputError", False),
        ("import djangoish", False),
        ("import time", True),
        ("from datetime import time", False),
    ],
)
def test_the_check_itself(tmp_path, source, forbidden):
    module = tmp_path / "module.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert any(is_forbidden(name) for name in imported_modules(module)) is forbidden
