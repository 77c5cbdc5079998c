"""Litestar, the peer in bench/modes: the same four handlers as Switchyard's routes there.

    uvicorn --app-dir bench litestar_modes:app --port PORT --no-access-log

  GET /sync?rounds=N      sync handler, sync_to_thread=False: runs on the event loop
  GET /async?ms=N         async handler: `await asyncio.sleep(ms / 1000)` (none for 0), as builtin.delay
  GET /thread?rounds=N    sync handler, sync_to_thread=True: anyio's thread pool (40 threads)
  GET /process?rounds=N   async handler awaiting anyio.to_process.run_sync(fnv_job, rounds)

The job is the contract's CPU job (FNV-1a-64, shared with builtin.cpu); its answer is the
hash as 16 lowercase hex digits, text/plain, as builtin.cpu answers. rounds defaults to
20000 (`dea8cac835294525`) as builtin.cpu's does.

LITESTAR_PROCESSES=N caps the worker processes of /process (anyio's default: one per
CPU the OS reports, which ignores taskset); bench/modes sets it to Switchyard's
process_pool size so both run the same number of workers.
"""
import asyncio
import os

import anyio
import anyio.to_process
from litestar import Litestar, MediaType, get

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv_job(rounds: int) -> str:
    """FNV-1a-64 over a 64-byte buffer that starts as buf[i] = i; each round folds in
    all 64 bytes, then buf[r % 64] = h & 0xff. 20000 rounds give dea8cac835294525."""
    h = FNV_OFFSET
    buf = bytearray(range(64))
    for r in range(rounds):
        for b in buf:
            h = ((h ^ b) * FNV_PRIME) & MASK64
        buf[r % 64] = h & 0xFF
    return f"{h:016x}"


_process_limiter = None


def process_limiter():
    """anyio's CapacityLimiter is made inside the event loop, on first use."""
    global _process_limiter
    if _process_limiter is None:
        count = int(os.environ.get("LITESTAR_PROCESSES") or 0)
        _process_limiter = anyio.CapacityLimiter(count) if count > 0 else None
    return _process_limiter


@get("/sync", sync_to_thread=False, media_type=MediaType.TEXT)
def sync_handler(rounds: int = 20000) -> str:
    return fnv_job(rounds)


@get("/async", media_type=MediaType.TEXT)
async def async_handler(ms: int = 100) -> str:
    # ms=0 answers without an await, as builtin.delay does: the trivial async handler.
    if ms > 0:
        await asyncio.sleep(ms / 1000)
    return f"waited {ms} ms\n"


@get("/thread", sync_to_thread=True, media_type=MediaType.TEXT)
def thread_handler(rounds: int = 20000) -> str:
    return fnv_job(rounds)


@get("/process", media_type=MediaType.TEXT)
async def process_handler(rounds: int = 20000) -> str:
    return await anyio.to_process.run_sync(fnv_job, rounds, limiter=process_limiter())


app = Litestar(route_handlers=[sync_handler, async_handler, thread_handler, process_handler])
