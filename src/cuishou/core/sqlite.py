"""SQLite tuning for the heavy set-based jobs (the nightly run, allocation, a bank
statement's import)."""

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


@contextmanager
def memory_mapped(megabytes: int) -> Iterator[None]:
    """On SQLite, read up to ``megabytes`` of the database file through a memory map
    (``PRAGMA mmap_size``) while the block runs, then as before. Pages read through the
    map are not copied into the page cache; pages written still are. Nested blocks
    share the outer one's."""
    depth = getattr(_cache, "mmap_depth", 0)
    before: int | None = None
    if connection.vendor == "sqlite" and megabytes > 0 and depth == 0:
        with connection.cursor() as cur:
            cur.execute("PRAGMA mmap_size")
            row = cur.fetchone()  # none for an in-memory database: nothing to map
            if row is not None:
                before = int(row[0])
                cur.execute(f"PRAGMA mmap_size = {int(megabytes) * 1024 * 1024}")
    _cache.mmap_depth = depth + 1
    try:
        yield
    finally:
        _cache.mmap_depth = depth
        if before is not None:
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA mmap_size = {before}")
