"""Every connection to an event log opens here: plain SQLite, or SQLCipher when the log is encrypted.

An encrypted log (``eventlog.encrypt: true``) is the same SQLite database with each page encrypted by SQLCipher
(AES-256 with a per-page HMAC, the key derived from ``B1E55ED_KEYS__DB_PASSWORD`` by PBKDF2-SHA512, 256,000
rounds): no byte of the file, its header included, reads without the password. A file's first 16 bytes tell which
kind it is: a plain database starts ``SQLite format 3``, an encrypted one with its random salt. So a log that does
not match the config, a missing or a wrong password, and a missing ``sqlcipher3`` each raise ``StoreError`` naming
the file and what to set, and before anything writes: ``PRAGMA key`` is the first statement on a keyed connection
and a read of the schema checks the key at once.

``sqlcipher3`` is a fork of the standard ``sqlite3`` module with its DB-API, so its connections are typed as
``sqlite3.Connection`` here; it has no stubs, and is reached only through this module. Its exceptions are its own
classes, though: code that catches SQLite's errors on a connection from here catches ``DATABASE_ERRORS`` or
``OPERATIONAL_ERRORS``.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from typing import Any, Final, Literal, cast, final
from urllib.parse import quote

from b1e55ed.eventlog.store import StoreError

PASSWORD_VARIABLE: Final = "B1E55ED_KEYS__DB_PASSWORD"
ENCRYPT_VARIABLE: Final = "B1E55ED_EVENTLOG__ENCRYPT"
INSTALL: Final = "pip install 'b1e55ed[encryption]'"
_PLAIN_HEADER: Final = b"SQLite format 3\x00"

Mode = Literal["ro", "rw", "rwc"]
"""SQLite's open modes: read only; read and write an existing file; read, write and create."""
IsolationLevel = Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None


def _cipher_module() -> Any:
    """``sqlcipher3.dbapi2``, or None when the ``encryption`` extra is not installed."""
    try:
        return importlib.import_module("sqlcipher3.dbapi2")
    except ImportError:
        return None


def _errors(name: str) -> tuple[type[Exception], ...]:
    cipher = _cipher_module()
    plain: type[Exception] = getattr(sqlite3, name)
    return (plain,) if cipher is None else (plain, getattr(cipher, name))


DATABASE_ERRORS: Final = _errors("DatabaseError")
"""``sqlite3.DatabaseError`` and SQLCipher's: what a plain or an encrypted connection raises for a bad database."""
OPERATIONAL_ERRORS: Final = _errors("OperationalError")


@final
class LogKey:
    """The password of an encrypted log. It never shows itself: repr and str see ``***``."""

    __slots__ = ("_password",)

    def __init__(self, password: str) -> None:
        if not password or "\x00" in password:
            raise ValueError("a log's password is a non-empty string without NUL characters")
        self._password = password

    def reveal(self) -> str:
        return self._password

    def __repr__(self) -> str:
        return "LogKey('***')"

    __str__ = __repr__


def log_key(encrypt: bool, password: str) -> LogKey | None:
    """The key the settings ask for, None for a plain log; ``StoreError`` saying what to do when encryption is
    asked for without a password or without SQLCipher. A password without ``encrypt`` is not used."""
    if not encrypt:
        return None
    if _cipher_module() is None:
        raise StoreError(f"eventlog.encrypt is true, but SQLCipher is not installed: {INSTALL}")
    if not password:
        raise StoreError(f"eventlog.encrypt is true, but there is no password: set {PASSWORD_VARIABLE}")
    return LogKey(password)


def connect(
    path: Path,
    key: LogKey | None = None,
    *,
    mode: Mode = "ro",
    isolation_level: IsolationLevel = "DEFERRED",
    factory: type[Any] | None = None,
) -> sqlite3.Connection:
    """A connection to the log at ``path``, keyed with ``key`` when it is encrypted (``key`` None: plain).
    ``isolation_level`` and ``factory`` are ``sqlite3.connect``'s; an encrypted log needs a ``factory`` derived
    from SQLCipher's connection class, or none."""
    _check_kind(path, key)
    uri = f"file:{quote(str(path))}?mode={mode}"
    if key is None:
        plain = sqlite3.connect(uri, uri=True, isolation_level=isolation_level, factory=factory or sqlite3.Connection)
        return cast(sqlite3.Connection, plain)
    cipher = _cipher_module()
    if cipher is None:
        raise StoreError(f"{path} is encrypted, and SQLCipher is not installed: {INSTALL}")
    if factory is None or factory is sqlite3.Connection:
        factory = cipher.Connection
    elif not issubclass(factory, cipher.Connection):
        raise TypeError(f"an encrypted log needs a connection class derived from sqlcipher3's, not {factory}")
    try:
        conn = cipher.connect(uri, uri=True, isolation_level=isolation_level, factory=factory)
    except cipher.Error as exc:
        raise StoreError(f"{path}: cannot open ({exc})") from None
    try:
        conn.execute(f"PRAGMA key = '{_quoted(key.reveal())}'")  # first, before anything reads a page
        conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is reported below, not on stderr
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except cipher.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path}: the password in {PASSWORD_VARIABLE} does not open this encrypted log ({exc}): set the "
            "password it was made with"
        ) from None
    except BaseException:
        conn.close()
        raise
    return cast(sqlite3.Connection, conn)


def _quoted(password: str) -> str:
    """A pragma takes no bound parameter: the password as an SQL string literal's body."""
    return password.replace("'", "''")


def _check_kind(path: Path, key: LogKey | None) -> None:
    """Refuse a log whose header says it is encrypted when no key is given, or plain when one is."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_PLAIN_HEADER))
    except OSError:
        return  # missing (a new log), or unreadable: SQLite's own open says which
    if len(header) < len(_PLAIN_HEADER):
        return  # empty: SQLite makes a database of it
    if key is None and header != _PLAIN_HEADER:
        raise StoreError(
            f"{path}: not a b1e55ed database, or an encrypted one: to open an encrypted log, set eventlog.encrypt: "
            f"true ({ENCRYPT_VARIABLE}=true) and its password in {PASSWORD_VARIABLE}"
        )
    if key is not None and header == _PLAIN_HEADER:
        raise StoreError(
            f"{path} is not encrypted, but eventlog.encrypt is true: set eventlog.encrypt: false "
            f"({ENCRYPT_VARIABLE}=false) to open it, or name a new database (--db) for an encrypted log"
        )
