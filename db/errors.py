"""Storage errors, raised instead of driver exceptions so callers see one clear message."""

from __future__ import annotations


class StorageError(Exception):
    """Base class: something about the database the user must act on."""


class NotFoundError(StorageError):
    """A study, candidate or job that does not exist."""


class ConflictError(StorageError):
    """A write that contradicts stored data (a duplicate name, a conflicting result)."""


class MissingDatabaseError(StorageError):
    """A command that only reads was given a database taskgroup never made (a mistyped path, an empty
    server database): refused rather than created, so a typo leaves nothing behind."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)  # both in `args`, so it pickles like any exception
        self.url, self.reason = url, reason

    def __str__(self) -> str:
        return f"no taskgroup database at {self.url}: {self.reason} (create a study first with `taskgroup study create`)"


class SchemaVersionError(StorageError):
    """The database was written by another schema version than this code expects."""
