"""The SQLite tuning blocks (``cuishou.core.sqlite``): a pragma holds while its block
runs, nested blocks keep the outer one's value, and the previous value comes back."""

from __future__ import annotations

import pytest
from django.db import connection

from cuishou.core.sqlite import memory_mapped, run_page_cache

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite pragmas"),
]


def _pragma(name: str) -> int | None:
    with connection.cursor() as cur:
        cur.execute(f"PRAGMA {name}")
        row = cur.fetchone()
    return None if row is None else int(row[0])


def test_the_run_page_cache_holds_for_the_block_and_nested_blocks_then_goes(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CUISHOU_BATCH_SQLITE_CACHE_MB = 64
    before = _pragma("cache_size")
    with run_page_cache():
        assert _pragma("cache_size") == -64 * 1024
        settings.CUISHOU_BATCH_SQLITE_CACHE_MB = 8
        with run_page_cache():  # the outer block's cache stays
            assert _pragma("cache_size") == -64 * 1024
        assert _pragma("cache_size") == -64 * 1024
    assert _pragma("cache_size") == before


def test_the_previous_cache_comes_back_when_the_block_fails(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CUISHOU_BATCH_SQLITE_CACHE_MB = 32
    before = _pragma("cache_size")
    with pytest.raises(RuntimeError), run_page_cache():
        raise RuntimeError("the run died")
    assert _pragma("cache_size") == before


def test_no_cache_size_set_when_it_is_turned_off(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CUISHOU_BATCH_SQLITE_CACHE_MB = 0
    before = _pragma("cache_size")
    with run_page_cache():
        assert _pragma("cache_size") == before


def test_an_in_memory_database_maps_nothing_and_the_block_still_runs() -> None:
    # The test database is in memory: SQLite reports no mmap_size for it.
    assert _pragma("mmap_size") is None
    ran = False
    with memory_mapped(2048):
        ran = True
    assert ran
