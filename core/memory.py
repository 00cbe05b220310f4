"""Give freed heap memory back to the operating system.

Reading tens of thousands of Chroma records, or writing them, leaves glibc's heap full of freed
but fragmented blocks, which the process keeps: at 10,000 articles that was over a gigabyte of
resident memory holding nothing. `malloc_trim(0)` returns it; it is called between batches of
the bulk operations (ingest groups, keyword-index pages) so the peak stays low. Elsewhere than
glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
