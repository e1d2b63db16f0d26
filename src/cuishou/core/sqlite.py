"""SQLite tuning for the heavy set-based jobs (the nightly run, allocation, a bank
statement's import)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_held = threading.local()  # per thread, as Django's connections are: pragma → depth


@contextmanager
def _pragma_held(pragma: str, value: int) -> Iterator[None]:
    """On SQLite, ``PRAGMA pragma = value`` on this thread's connection while the block
    runs, then the previous value again. Nested blocks of one pragma share the outer
    one's. Nothing on another database, or where the pragma reports nothing (an
    in-memory database has no ``mmap_size``)."""
    depth = getattr(_held, pragma, 0)
    before: int | None = None
    if connection.vendor == "sqlite" and depth == 0:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA {pragma}")
            row = cur.fetchone()
            if row is not None:
                before = int(row[0])
                cur.execute(f"PRAGMA {pragma} = {int(value)}")
    setattr(_held, pragma, depth + 1)
    try:
        yield
    finally:
        setattr(_held, pragma, depth)
        if before is not None:
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA {pragma} = {before}")


@contextmanager
def run_page_cache() -> Iterator[None]:
    """On SQLite, the run's page cache (``CUISHOU_BATCH_SQLITE_CACHE_MB``) for this
    thread's connection while the block runs, then the previous size again (which frees
    it). Nested blocks share the outer one's, so a night's current state and history
    days read through one cache."""
    megabytes = int(settings.CUISHOU_BATCH_SQLITE_CACHE_MB)
    if megabytes <= 0:
        yield
        return
    with _pragma_held("cache_size", -megabytes * 1024):  # negative: KiB
        yield


@contextmanager
def memory_mapped(megabytes: int) -> Iterator[None]:
    """On SQLite, read up to ``megabytes`` of the database file through a memory map
    (``PRAGMA mmap_size``) while the block runs, then as before. Pages read through the
    map are not copied into the page cache; pages written still are. Nested blocks
    share the outer one's."""
    if megabytes <= 0:
        yield
        return
    with _pragma_held("mmap_size", megabytes * 1024 * 1024):
        yield
