"""The product's settings with the bench's trivial views added to the URLs (bench/urls.py)."""

from tdm_site.settings import *  # noqa: F403 - the product's settings, unchanged but for the URLs

ROOT_URLCONF = "bench.urls"
