"""Production settings (docs/configuration.md): secure defaults with only the secret key and
hosts set."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    configured = ("DJANGO_", "TDM_", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL")
    base = {k: v for k, v in os.environ.items() if not k.startswith(configured)}
    return subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_only_secret_key_and_allowed_hosts(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="etdm.hospital.example",
        TDM_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = manage("check", DJANGO_DEBUG="false", TDM_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("SECURE_SSL_REDIRECT", "True"),
        ("SESSION_COOKIE_SECURE", "True"),
        ("CSRF_COOKIE_SECURE", "True"),
        ("SECURE_HSTS_SECONDS", "31536000"),
        ("DEBUG", "False"),
    ],
)
def test_secure_defaults_when_debug_is_off(tmp_path, setting, expected):
    result = manage(
        "shell",
        "-c",
        f"from django.conf import settings; print(settings.{setting})",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="etdm.hospital.example",
        TDM_VAR_DIR=str(tmp_path),
    )
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


def test_ssl_redirect_can_be_left_to_a_tls_proxy(tmp_path):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_SSL_REDIRECT="false",
        TDM_VAR_DIR=str(tmp_path),
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_embedded_defaults_need_no_environment(tmp_path):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.EMAIL_BACKEND, "
        "s.TIME_ZONE)",
        TDM_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.mail.backends.filebased.EmailBackend",
        "Europe/Amsterdam",
    ]


def test_models_and_migrations_agree():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


PROXIED_REQUEST = """
from django.test import Client
client = Client(HTTP_HOST="etdm.hospital.example")
plain = client.get("/accounts/login/")
proxied = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print(plain.status_code, proxied.status_code, proxied.get("Strict-Transport-Security", "-"))
from django.conf import settings
print(" ".join(settings.CSRF_TRUSTED_ORIGINS))
"""


@pytest.mark.parametrize(("trusted", "expected"), [("true", "301 200"), ("false", "301 301")])
def test_behind_a_trusted_tls_proxy_forwarded_https_is_secure(tmp_path, trusted, expected):
    """The proxy's X-Forwarded-Proto is believed only when the proxy is declared trusted: then
    the page answers over the forwarded HTTPS with HSTS instead of redirecting for ever."""
    result = manage(
        "shell",
        "-c",
        PROXIED_REQUEST,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="etdm.hospital.example",
        DJANGO_TRUSTED_PROXY=trusted,
        DJANGO_CSRF_TRUSTED_ORIGINS="https://etdm.hospital.example",
        TDM_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    statuses, origins = result.stdout.strip().splitlines()[-2:]
    assert statuses.startswith(expected)
    if trusted == "true":
        assert statuses.endswith("max-age=31536000; includeSubDomains; preload")
    assert origins == "https://etdm.hospital.example"
