"""The node's storage layer: every SQLite file a node keeps (the outbox, the gate's permits and
journal, the task board) is opened, checked, written and judged here.

Theory of operation:
- `open_file` creates the folder 0700 and the file 0600 (SQLite gives the -wal and -shm the
  file's mode), opens it in WAL mode with the configured `synchronous`, runs `quick_check`
  and the store's schema. A file that is really corrupt is renamed aside (never deleted) and
  a new one started; any other failure (permission, full disk, missing folder) is raised as
  a `StorageError` naming the file and the fault, and the file is left alone.
- `classify` is the one reading of an SQLite failure: corrupt, not permitted, full, gone
  (the file was removed under a running node), busy, or an I/O error. Stores report faults
  with `describe`, so `portedge status`, the health model and the logs say the same words.
- `Books` is a writer thread with its own connection: a store hands it a function and awaits
  the commit without the asyncio loop (on the PDA also Kivy's UI loop) ever waiting on an
  fsync. Functions queued together share one transaction (one fsync); if that transaction
  fails, each is retried alone so one bad write cannot sink its neighbours.
- `FileWatch` notices a file removed or replaced under a running node: SQLite in WAL mode
  goes on committing into the unlinked inode, and everything written after that would vanish
  at the next restart.

Never: move aside a file that is not corrupt; delete a database file; commit on the event
loop; create a file or folder others can read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import OperatorError

log = logging.getLogger(__name__)

T = TypeVar("T")
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
MEMORY = ":memory:"
#: below this much free space in a store's folder, `portedge status` says the storage is full
LOW_SPACE_BYTES = 256 * 1024


class Fault(StrEnum):
    CORRUPT = "corrupt"
    NOT_PERMITTED = "not permitted"
    FULL = "full"
    GONE = "gone"
    BUSY = "busy"
    IO = "i/o error"


class StorageError(OperatorError):
    """A store cannot be opened or written. `fault` says why, `path` which file."""

    def __init__(self, fault: Fault, path: Path | str, detail: str = ""):
        self.fault, self.path, self.detail = fault, Path(path), detail
        super().__init__(describe(fault, path, detail))


class CorruptDatabase(StorageError):
    def __init__(self, path: Path | str, detail: str = ""):
        super().__init__(Fault.CORRUPT, path, detail)


def describe(fault: Fault, path: Path | str, detail: str = "") -> str:
    """The operator's words for a fault (status, health, logs all use these)."""
    match fault:
        case Fault.FULL:
            return f"storage full: {path} cannot grow"
        case Fault.NOT_PERMITTED:
            return f"cannot open {path}: permission denied"
        case Fault.GONE:
            return f"database file removed: {path}" + (f" ({detail})" if detail else "")
        case Fault.CORRUPT:
            return f"{path} is corrupt" + (f" ({detail})" if detail else "")
        case Fault.BUSY:
            return f"{path} is locked by another process"
    return f"{path}: storage i/o error" + (f" ({detail})" if detail else "")


def classify(err: BaseException, path: Path | str | None = None) -> Fault:
    """One reading of an SQLite (or OS) failure for every store."""
    if isinstance(err, StorageError):
        return err.fault
    if isinstance(err, OSError):
        return {errno.ENOSPC: Fault.FULL, errno.EDQUOT: Fault.FULL, errno.EACCES: Fault.NOT_PERMITTED,
                errno.EPERM: Fault.NOT_PERMITTED, errno.EROFS: Fault.NOT_PERMITTED,
                errno.ENOENT: Fault.GONE}.get(err.errno or 0, Fault.IO)
    name = getattr(err, "sqlite_errorname", "") or ""
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT_"):
        return Fault.CORRUPT
    if name == "SQLITE_FULL":
        return Fault.FULL
    if name in ("SQLITE_READONLY_DBMOVED", "SQLITE_IOERR_DELETE_NOENT"):
        return Fault.GONE
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return Fault.BUSY
    if name in ("SQLITE_PERM", "SQLITE_AUTH") or name.startswith("SQLITE_READONLY"):
        return Fault.NOT_PERMITTED
    if name.startswith("SQLITE_CANTOPEN") or name.startswith("SQLITE_IOERR") or not name:
        if path is not None and str(path) != MEMORY:
            return _probe(Path(path)) or Fault.IO
        return Fault.IO
    if "malformed" in str(err) or "not a database" in str(err):
        return Fault.CORRUPT
    return Fault.IO


def is_fault(err: BaseException) -> bool:
    """Whether an error says something about the storage (rather than about the statement:
    a constraint, a type, an SQL mistake, which are the caller's to answer)."""
    if isinstance(err, StorageError | OSError):
        return True
    if isinstance(err, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return False
    if not isinstance(err, sqlite3.Error):
        return False
    name = getattr(err, "sqlite_errorname", "") or ""
    return not (name in ("SQLITE_ERROR", "SQLITE_MISMATCH", "SQLITE_RANGE", "SQLITE_TOOBIG")
                or name.startswith("SQLITE_CONSTRAINT"))


def _probe(path: Path) -> Fault | None:
    """What the file system says about a file SQLite could not use."""
    folder = path.parent
    if not folder.exists():
        return Fault.GONE
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        return Fault.NOT_PERMITTED
    if free_bytes(folder) < LOW_SPACE_BYTES:
        return Fault.FULL
    return None


def free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


# -- files ----------------------------------------------------------------------------------

def prepare(path: Path) -> None:
    """Create the folder (0700) and an empty file (0600) if missing; refuse a file we may not use."""
    folder = path.parent
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(classify(err, path), path, err.strerror or "") from err
    for made in missing:
        with contextlib.suppress(OSError):
            made.chmod(0o700)  # mkdir's mode is cut by the umask; a data folder is ours alone
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise StorageError(Fault.NOT_PERMITTED, path)
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as err:
        raise StorageError(classify(err, path), path, err.strerror or "") from err


def connect(path: Path | str, synchronous: str = "FULL", *, check_same_thread: bool = False,
            busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, `synchronous` as configured."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {list(SYNCHRONOUS)}, not {synchronous!r}")
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=check_same_thread,
                           timeout=busy_timeout_s)
    if str(path) != MEMORY:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def quick_check(conn: sqlite3.Connection, path: Path | str) -> None:
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as err:
        if classify(err, path) is Fault.CORRUPT:
            raise CorruptDatabase(path, str(err)) from err
        raise
    if not result or result[0] != "ok":
        raise CorruptDatabase(path, f"quick_check: {result[0] if result else 'no answer'}")


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a damaged database (and its WAL/SHM) to `<name>.corrupt-<UTC timestamp>`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target


@dataclass
class Opened:
    conn: sqlite3.Connection
    moved_to: Path | None = None  # where a corrupt file went


Schema = str | Callable[[sqlite3.Connection], None]


def _apply(conn: sqlite3.Connection, schema: Schema) -> None:
    if isinstance(schema, str):
        conn.executescript(schema)
    else:
        schema(conn)


def open_file(path: Path | str, schema: Schema, *, what: str, synchronous: str = "FULL") -> Opened:
    """Open (or create) a store's file, check it and apply its schema. A corrupt file is moved
    aside and a new one started (`Opened.moved_to`); every other fault raises StorageError."""
    if str(path) == MEMORY:
        conn = connect(MEMORY, synchronous)
        _apply(conn, schema)
        return Opened(conn)
    path = Path(path)
    prepare(path)
    conn = None
    try:
        conn = connect(path, synchronous)
        quick_check(conn, path)
        _apply(conn, schema)
        return Opened(conn)
    except sqlite3.Error as err:
        fault = classify(err, path)
        if conn is not None:
            with contextlib.suppress(Exception):  # the handle of a broken file may itself be broken
                conn.close()
        if fault is not Fault.CORRUPT:
            raise StorageError(fault, path, str(err)) from err
        detail = str(err)
    except CorruptDatabase as err:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        detail = err.detail
    moved = move_aside(path)
    log.error("%s database %s is corrupt (%s); moved aside to %s and started a new one", what, path, detail, moved)
    prepare(path)
    conn = connect(path, synchronous)
    _apply(conn, schema)
    return Opened(conn, moved)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (sqlite3's own context manager does
    not BEGIN in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class FileWatch:
    """Notices the file at `path` being removed or replaced after it was opened."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._id = self._identity() if str(path) != MEMORY else None

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def gone(self) -> bool:
        return self._id is not None and self._identity() != self._id


def restore(conn: sqlite3.Connection, path: Path, synchronous: str, what: str) -> sqlite3.Connection:
    """The file under a running connection was removed: copy what that connection still sees
    (the unlinked inode) into a new file at `path` and return a connection to it. Raises
    StorageError when the new file cannot be made, or when another file now stands at `path`
    (an operator's restore is never overwritten); `conn` is left open either way."""
    if path.exists():
        raise StorageError(Fault.GONE, path, "replaced by another file; new records are refused")
    log.error("%s database file removed under the running node: %s; restoring it from the open handle", what, path)
    prepare(path)
    new = connect(path, synchronous)
    try:
        conn.backup(new)
    except sqlite3.Error as err:
        new.close()
        raise StorageError(classify(err, path), path, str(err)) from err
    new.execute("PRAGMA journal_mode=WAL")
    return new


# -- writes off the loop --------------------------------------------------------------------

@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future


class Books:
    """A store's writer thread: `await books.write(fn)` runs `fn(conn)` in a committed
    transaction on the thread and returns its result; the loop never waits on the fsync."""

    def __init__(self, conn: sqlite3.Connection, path: Path | str, what: str, *, synchronous: str = "FULL",
                 lock: threading.Lock | None = None, on_restored: Callable[[], None] | None = None):
        self._conn, self.path, self.what, self._synchronous = conn, Path(path), what, synchronous
        self._on_restored = on_restored
        self.restored: str | None = None  # when the file was removed under us and rebuilt
        self._lock = lock or contextlib.nullcontext()  # shared with the reader for ":memory:"
        self._watch = FileWatch(path)
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._stop = False
        self.fault: Fault | None = None
        self.fault_detail = ""
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name=f"portedge-{what}-books", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._cond:
            if self._stop:
                future.set_exception(StorageError(Fault.IO, self.path, f"the {self.what} store is closed"))
                return future
            self._queue.append(_Job(fn, future))
            self._cond.notify()
        return future

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def reason(self) -> str | None:
        if self.fault:
            return describe(self.fault, self.path, self.fault_detail)
        if self.restored:
            return describe(Fault.GONE, self.path, f"restored from the running node at {self.restored}")
        return None

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                jobs, self._queue = self._queue, []
                stopping = self._stop
            if jobs:
                self._commit(jobs)
            if stopping and not jobs:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        if self._watch.gone():
            refused = self._restore()
            if refused is not None:
                self._failed(jobs, refused)
                return
        results: list[Any] = []
        try:
            with self._lock, transaction(self._conn):
                results = [job.fn(self._conn) for job in jobs]
        except Exception as err:  # noqa: BLE001 - every failure is answered to its caller
            if len(jobs) > 1:
                for job in jobs:  # alone, so a bad write fails only itself
                    self._commit([job])
                return
            self._failed(jobs, err)
            return
        self.commits += 1
        if self.fault is not None:
            log.info("%s store writes again after: %s", self.what, self.reason())
        self.fault = None
        for job, result in zip(jobs, results, strict=True):
            _settle(job.future, result=result)

    def _restore(self) -> StorageError | None:
        """Rebuild the removed file from this handle; the error to answer writes with if not."""
        try:
            new = restore(self._conn, self.path, self._synchronous, self.what)
        except StorageError as err:
            if self.fault is not Fault.GONE:
                log.error("%s store could not be restored: %s", self.what, err)
            detail = err.detail if "refused" in err.detail else "new records are refused"
            return StorageError(Fault.GONE, self.path, detail)
        old, self._conn = self._conn, new
        with contextlib.suppress(sqlite3.Error):
            old.close()
        self._watch = FileWatch(self.path)
        self.restored = datetime.now(UTC).isoformat(timespec="seconds")
        if self._on_restored is not None:
            self._on_restored()
        return None

    def _failed(self, jobs: list[_Job], err: BaseException) -> None:
        if is_fault(err):
            fault = classify(err, self.path)
            if fault != self.fault:
                log.error("%s store write failed: %s", self.what, describe(fault, self.path, str(err)))
            self.fault, self.fault_detail = fault, str(err) if fault in (Fault.IO, Fault.CORRUPT) else ""
            if not isinstance(err, StorageError):
                err = StorageError(fault, self.path, str(err))
        for job in jobs:
            _settle(job.future, error=err)


def _settle(future: concurrent.futures.Future, *, result: Any = None, error: BaseException | None = None) -> None:
    """Answer a writer's caller, unless it stopped waiting (cancelled at shutdown): the write is
    committed (or failed) all the same, and the writer thread must not die of it."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Database:
    """One store's file: a reader connection for the loop's queries and `Books` for writes.

        db = Database(path, SCHEMA, what="gate", synchronous="FULL")
        db.query("SELECT ...", params)          # on the loop: reads never wait on an fsync
        await db.write(lambda conn: conn.execute(...))
        db.reasons()                            # health: corrupt file moved aside, write faults
    """

    def __init__(self, path: Path | str, schema: Schema, *, what: str, synchronous: str = "FULL"):
        self.path, self.what = Path(path), what
        opened = open_file(path, schema, what=what, synchronous=synchronous)
        self.moved_to = opened.moved_to
        self._synchronous = synchronous
        self._memory = str(path) == MEMORY
        self._lock = threading.Lock()  # the reader (and for ":memory:" the one connection)
        self._reader = opened.conn if self._memory else connect(self.path, synchronous)
        self._books = Books(opened.conn, path, what, synchronous=synchronous, lock=self._lock if self._memory else None,
                            on_restored=self._reopen)
        self._closed = False

    def _reopen(self) -> None:
        """Called on the writer thread after the file was rebuilt under a new inode."""
        new = connect(self.path, self._synchronous)
        with self._lock:
            old, self._reader = self._reader, new
        old.close()

    def query(self, sql: str, params: tuple | list = ()) -> list[Any]:
        with self._lock:
            return self._reader.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._books.write(fn)

    def write_soon(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """Queue a write without waiting: it commits in order with every other write."""
        future = self._books.submit(fn)
        future.add_done_callback(self._log_failure)
        return future

    def _log_failure(self, future: concurrent.futures.Future) -> None:
        if future.exception() is not None:
            log.warning("%s store: a queued write failed: %s", self.what, future.exception())

    def reasons(self) -> list[str]:
        out = []
        if self.moved_to is not None:
            out.append(f"{self.what} database was corrupt, moved aside to {self.moved_to}")
        fault = self._books.reason()
        if fault:
            out.append(f"{self.what} {fault}")
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._books.close()
        if not self._memory:
            self._reader.close()


# -- a node's files --------------------------------------------------------------------------

def sibling_db(config: Any, suffix: str) -> Path:
    """A workflow's SQLite file beside the outbox's: `lane-1.db` -> `lane-1.gate.db`."""
    path = Path(config.storage.path)
    return path.with_name(f"{path.stem}.{suffix}{path.suffix or '.db'}")


def gate_db(config: Any) -> Path:
    """The gate lane's file: `[gate] state_path`, or beside the outbox when it is not set."""
    path = config.gate.state_path
    return sibling_db(config, "gate") if path is None else Path(path)


def people_db(config: Any) -> Path:
    """The personnel lane's file: `[personnel] state_path`, or beside the outbox when it is not set."""
    path = config.personnel.state_path
    return sibling_db(config, "people") if path is None else Path(path)


def node_files(config: Any) -> dict[str, Path]:
    """Every SQLite file a node keeps, by what it holds."""
    files = {"outbox": Path(config.storage.path)}
    if config.node.role == "gate" and config.gate is not None:
        files["gate"] = gate_db(config)
    elif config.node.role == "pda":
        files["tasks"] = sibling_db(config, "tasks")
    if getattr(config, "personnel", None) is not None:
        files["people"] = people_db(config)
    return files


def probe_file(path: Path, what: str) -> list[str]:
    """For `portedge status` (the node may not be running): what the file system says about a
    store's file, as health reasons."""
    reasons = []
    wal = path.with_name(path.name + "-wal")
    if not path.exists():
        if wal.exists():
            reasons.append(f"{what} {describe(Fault.GONE, path)}")
        return reasons
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        reasons.append(f"{what} {describe(Fault.NOT_PERMITTED, path)}")
    free = free_bytes(path.parent)
    if free < LOW_SPACE_BYTES:
        reasons.append(f"{what} storage full: {path.parent} has {free // 1024} kB free")
    return reasons
