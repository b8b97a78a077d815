"""Storage errors, raised instead of driver exceptions so callers see one clear message."""


class StorageError(Exception):
    """Base class: something about the database the user must act on."""


class NotFoundError(StorageError):
    """A study, candidate or job that does not exist."""


class ConflictError(StorageError):
    """A write that contradicts stored data (a duplicate name, a conflicting result)."""


class SchemaVersionError(StorageError):
    """The database was written by another schema version than this code expects."""
