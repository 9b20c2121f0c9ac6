"""A two-process pipeline: a forked child produces work items, the parent consumes them.

Ingestion of a large record file is Python-bound on both sides (reading, validating and
deciding rows; storing them), and threads do not help (the GIL). So the parent forks a child
that reads, validates and decides, and sends ready-to-store batches through a bounded queue;
the parent stores them. The child only reads the database, with its own connection (Django
connections are closed before the fork, so each process opens its own; SQLite in WAL mode and
PostgreSQL both let it read while the parent writes).

How batches travel: the child pickles each one into a file of a spool folder (in shared
memory, ``/dev/shm``, where there is one) and sends only the file's name through a pipe; at
most ``max_waiting`` files wait at a time. A ``multiprocessing.Queue`` was measured slower
here: its feeder thread pushes a batch of several megabytes through the 64 KB pipe buffer in
many writes and needs the child's GIL between any two of them, which the busy reading thread
yields only every few milliseconds; the parent waited for its batches for a quarter of the
run. The spool folder is removed at the end, whatever the outcome (by the child if the
parent was killed; by the next ingestion if both were).

Errors keep their meaning: an exception raised in the child (a
:class:`~.errors.FileRefused` included) is re-raised in the parent, with the child's traceback
as a note. A child that dies without a word (killed, out of memory) makes the parent raise
:class:`ChildDied` instead of waiting for ever; if the parent fails, it stops the child, and a
child whose parent was killed outright exits instead of waiting to send.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import shutil
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connections

from qualitycity.core.processes import alive as _alive

from .errors import FileRefused

# How long the parent waits for an item before checking that the child is still alive.
POLL_SECONDS = 0.5
# Items the child may send ahead of the parent (memory stays bounded). Ahead by more than one
# storing transaction (WRITE_ROWS rows, 10 batches), the reader keeps going while it runs.
MAX_WAITING = 24
# Both processes allocate many short-lived container objects per row, which makes Python's
# automatic cycle collector run thousands of times per million rows, each time also walking
# the objects that survive (a large share of the reader's time). So while the pipeline runs
# both collect by hand instead, every FULL_COLLECT_EVERY items (batches); reference counting
# frees the usual, acyclic, garbage as before (rows make no reference cycles).
FULL_COLLECT_EVERY = 100


class _ManualGC:
    """Cycle collection by hand while items flow (see FULL_COLLECT_EVERY); restored on exit."""

    def __init__(self) -> None:
        self.items = 0
        self.was_enabled = True

    def __enter__(self) -> _ManualGC:
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def tick(self) -> None:
        self.items += 1
        if self.items % FULL_COLLECT_EVERY == 0:
            gc.collect()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


class ChildDied(RuntimeError):
    """The child process ended without finishing its work or reporting an error."""


def available() -> bool:
    """Whether this platform can fork (Linux, macOS); elsewhere callers stay in-process."""
    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


# Shared memory is used for the spool only with this much free (containers often give
# /dev/shm 64 MB); the waiting batches of a wide dataset may need a few hundred MB.
SHM_MIN_FREE = 512 * 1024 * 1024


def _spool_root() -> str | None:
    """Shared memory where the system offers enough of it (Linux), else the temporary folder."""
    shm = "/dev/shm"  # noqa: S108 - a private folder is made inside it
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    roomy = stat.f_bavail * stat.f_frsize >= SHM_MIN_FREE
    return shm if roomy and os.access(shm, os.W_OK) else None


SPOOL_PREFIX = "qualitycity-ingest-"


def _new_spool() -> str:
    """A private spool folder, named after this process; those of dead processes are removed.

    The reader removes the folder when the ingesting process dies; if both were killed
    outright, the next ingestion on this machine removes what they left.
    """
    root = _spool_root() or tempfile.gettempdir()
    for folder in Path(root).glob(f"{SPOOL_PREFIX}*-*"):
        pid = folder.name[len(SPOOL_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=root)


def _child_main(
    produce: Callable[[Callable[[Any], None]], None],
    conn: Any,
    slots: Any,
    spool: str,
    parent: int,
) -> None:
    # What the child inherited stays alive to the end: keep the collector from walking it.
    gc.freeze()
    collector = _ManualGC()
    sent = 0

    def send(item: Any) -> None:
        nonlocal sent
        while not slots.acquire(timeout=POLL_SECONDS):
            if os.getppid() != parent:  # the parent was killed: nobody will read
                shutil.rmtree(spool, ignore_errors=True)
                os._exit(1)
        sent += 1
        path = os.path.join(spool, f"{sent}.pickle")
        blob = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        with open(path, "wb") as f:
            f.write(blob)
        conn.send(("item", path))
        collector.tick()

    try:
        with collector:
            produce(send)
    except FileRefused as exc:
        conn.send(("refused", (exc.code, exc.message, exc.details)))
    except BaseException as exc:
        text = traceback.format_exc()
        try:
            blob = pickle.dumps(exc)
            pickle.loads(blob)  # noqa: S301 - our own bytes; checks the exception round-trips
        except Exception:
            blob = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        conn.send(("error", (blob, text)))
    else:
        conn.send(("done", None))
    finally:
        connections.close_all()
        conn.close()


def run_forked(
    produce: Callable[[Callable[[Any], None]], None],
    consume: Callable[[Any], None],
    *,
    max_waiting: int = MAX_WAITING,
) -> None:
    """Run ``produce(send)`` in a forked child and ``consume(item)`` here for each item sent.

    Returns when the child has produced everything and the parent consumed it; raises what
    the child raised, :class:`ChildDied`, or what ``consume`` raised (the child is then
    stopped). Call outside any transaction: the child cannot see uncommitted rows.
    """
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    slots = ctx.Semaphore(max_waiting)
    spool = _new_spool()
    connections.close_all()  # each process opens its own connection
    child = ctx.Process(
        target=_child_main,
        args=(produce, sender, slots, spool, os.getpid()),
        name="ingest-reader",
        daemon=True,
    )
    try:
        child.start()
        sender.close()  # the child holds the only sending end: its exit ends the pipe
        finished = False
        collector = _ManualGC()
        try:
            with collector:
                _consume_items(receiver, slots, child, consume, collector)
            finished = True
        finally:
            if finished:
                child.join(timeout=10)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
                if child.is_alive():
                    child.kill()
                    child.join()
    finally:
        receiver.close()
        shutil.rmtree(spool, ignore_errors=True)


def _consume_items(
    receiver: Any, slots: Any, child: Any, consume: Callable[[Any], None], collector: _ManualGC
) -> None:
    """Consume the child's items until it reports the end (returns) or a failure (raises)."""
    while True:
        # A child that died has closed its end of the pipe: ``recv`` then raises EOFError.
        # (Unless another process forked meanwhile holds a copy of that end: hence the check.)
        if not receiver.poll(POLL_SECONDS):
            if child.is_alive() or receiver.poll(POLL_SECONDS):  # its last words may be late
                continue
            raise _died(child)
        try:
            kind, payload = receiver.recv()
        except EOFError:
            raise _died(child) from None
        if kind == "item":
            with open(payload, "rb") as f:
                blob = f.read()
            os.unlink(payload)
            slots.release()  # the child may write the next one while this one is stored
            consume(pickle.loads(blob))  # noqa: S301 - written by our own child
            collector.tick()
        elif kind == "done":
            return
        elif kind == "refused":
            code, message, details = payload
            raise FileRefused(code, message, details)
        else:
            blob, text = payload
            exc = pickle.loads(blob)  # noqa: S301 - sent by our own child
            exc.add_note(f"Raised in the ingestion reader process:\n{text}")
            raise exc


def _died(child: Any) -> ChildDied:
    child.join(timeout=5)
    return ChildDied(
        f"The ingestion reader process ended unexpectedly (exit code {child.exitcode})."
    )
