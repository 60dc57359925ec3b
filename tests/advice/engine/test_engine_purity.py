"""The clinical engine is pure Python: no Django, no models, no reports, no clock (STYLE §1).

Only the Django glue of the `advice` app may import Django: `apps.py` (the app registry entry)
and the management commands under `management/`.
"""

import ast
from pathlib import Path

import pytest

import advice

PACKAGE = Path(advice.__file__).resolve().parent
GLUE = {PACKAGE / "apps.py"}
FORBIDDEN = ("django", "rest_framework", "celery", "cases.models", "reports", "time")
CLOCK_READS = {"now", "today", "utcnow", "utcfromtimestamp", "fromtimestamp"}


def engine_modules():
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if "management" not in path.relative_to(PACKAGE).parts and path not in GLUE
    )


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
    assert {"units.py", "ctcae.py", "pk.py", "dosing.py", "rules.py", "case_input.py"} <= names


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
        ("from cases.data import x", False),
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
