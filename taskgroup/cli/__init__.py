"""The `taskgroup` command line. Only this package prints, and only it imports `db` and `jobs`."""
