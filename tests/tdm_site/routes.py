"""The project's routes as the URL resolver knows them (the API router's included), and a
concrete address for each: what the batteries that try every route walk."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
FORMAT_SUFFIX = r"\.(?P<format>"


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, Callable]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def routes() -> list[tuple[str, Callable]]:
    """Every route's pattern, from the site's root, with its view."""
    return list(_walk(get_resolver().url_patterns))


def address(pattern: str, record_id: int) -> str:
    """A concrete address for a path() route (`<int:pk>`) or a router's regex route."""
    address = re.sub(r"\(\?P<pk>[^)]*\)", str(record_id), pattern)
    address = re.sub(r"\\\.\(\?P<format>[^)]*\)/\?", ".json", address)
    address = re.sub(r"<(?:int:)?pk>", str(record_id), address)
    address = address.replace("^", "").replace("$", "").replace("\\.", ".")
    return "/" + address


def resource(pattern: str) -> str:
    """The first segment of the route's address below the API's prefix: what its id names."""
    return address(pattern, 1).removeprefix("/").removeprefix(API_PREFIX).split("/")[0]


def api_post_routes() -> list[str]:
    """The API's routes that take a POST (the format-suffix twins left out)."""
    return sorted(
        {
            pattern
            for pattern, view in routes()
            if pattern.startswith(API_PREFIX)
            and FORMAT_SUFFIX not in pattern
            and "post" in getattr(view, "actions", {})
        }
    )
