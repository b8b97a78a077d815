"""`python -m taskgroup`: the `taskgroup` command, for an environment whose scripts are not on PATH."""

from taskgroup.cli.main import app

app(prog_name="taskgroup")
