"""Python's cyclic garbage collector paused around a bulk job.

A bulk posting makes millions of short-lived tuples, dicts and lists, none in a cycle;
each allocation past the collector's threshold starts a pass over the young objects
(and now and then over all of them), which took about a fifth of a statement's posting.
Reference counting still frees everything as it goes; only cycles wait for the end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (if it was on), then turn it back on.
    Nested blocks leave it to the outermost one."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
