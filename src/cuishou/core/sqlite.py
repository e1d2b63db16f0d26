"""SQLite tuning for the heavy set-based jobs (the nightly run, allocation)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_cache = threading.local()  # per thread, as Django's connections are


@contextmanager
def run_page_cache() -> Iterator[None]:
    """On SQLite, the run's page cache (``CUISHOU_BATCH_SQLITE_CACHE_MB``) for this
    thread's connection while the block runs, then the previous size again (which frees
    it). Nested blocks share the outer one's, so a night's current state and history
    days read through one cache."""
    megabytes = int(settings.CUISHOU_BATCH_SQLITE_CACHE_MB)
    depth = getattr(_cache, "depth", 0)
    before: int | None = None
    if connection.vendor == "sqlite" and megabytes > 0 and depth == 0:
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size")
            before = int(cur.fetchone()[0])
            cur.execute(f"PRAGMA cache_size = {-megabytes * 1024}")  # negative: KiB
    _cache.depth = depth + 1
    try:
        yield
    finally:
        _cache.depth = depth
        if before is not None:
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA cache_size = {before}")
