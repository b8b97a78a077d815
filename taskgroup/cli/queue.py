"""`taskgroup status`, `retry` and `cancel`: looking at and adjusting a study's job queue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from db import open_store
from db.models import Study
from taskgroup.cli.common import DbOption, JsonOption, console, emit_json
from taskgroup.wording import counted


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("retry")(retry)
    app.command("cancel")(cancel)


def status(
    name: Annotated[str, typer.Argument(help="Study name.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Jobs by state, what is running where (with heartbeat age), what failed and why."""
    from jobs.status import study_status

    with open_store(db, create=False).session() as session:
        report = study_status(session, Study.find_or_raise_by_name(session, name))
    if json_output:
        emit_json(report.to_json())
        return
    counts = report.counts
    eta = f", about {report.eta_seconds / 60:.1f} min left" if report.eta_seconds is not None else ""
    console.print(f"[bold]{name}[/]: {counts['done']}/{report.total} done, {counts['running']} running, "
                  f"{counts['queued']} queued, {counts['failed']} failed{eta}")
    if report.running:
        # whole worker names (host:pid:device slot:id), which tell machines apart, folded rather than cut
        table = Table("job", Column("candidate", overflow="fold"), "stage", Column("worker", overflow="fold"), "attempt",
                      "progress",
                      "heartbeat", title="running")
        for job in report.running:
            beat = f"{job.heartbeat_age:.0f}s ago" if job.heartbeat_age is not None else "-"
            if job.worker_gone:
                beat += f" (worker gone: none in {job.grace:g}s)"
            table.add_row(str(job.id), f"{job.tasks}@{job.size}", job.stage, job.worker or "-",
                          str(job.attempts), progress_text(job.progress), beat)
        console.print(table)
        if any(job.worker_gone for job in report.running):
            console.print(f"A job whose worker is gone goes to the next `taskgroup work {name}` (resuming from its "
                          f"checkpoint); `taskgroup cancel {name}` removes it.")
    if report.failed:
        # whole errors, whose file names say what to fix, folded rather than cut (`corrupt numpy file: /data/nyu…`)
        table = Table("job", Column("candidate", overflow="fold"), "stage", "attempts", Column("error", overflow="fold"),
                      title="failed")
        for job in report.failed:
            last_line = (job.error or "").strip().splitlines()[-1:] or [""]
            table.add_row(str(job.id), f"{job.tasks}@{job.size}", job.stage, str(job.attempts), last_line[0])
        console.print(table)
        console.print(f"Queue them again with `taskgroup retry {name}`.")


def progress_text(progress: float | None) -> str:
    """A running job's progress; `-` before its worker has reported any (not 0%, which says it has)."""
    return "-" if progress is None else f"{progress * 100:.0f}%"


def retry(
    name: Annotated[str, typer.Argument(help="Study name.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Queue the study's failed jobs again, with a fresh set of attempts."""
    from jobs.manage import retry_failed

    with open_store(db).session() as session:
        count = retry_failed(session, Study.find_or_raise_by_name(session, name))
    if json_output:
        emit_json({"study": name, "requeued": count})
    else:
        console.print(f"{counted(count, 'failed job')} of [bold]{name}[/] queued again.")


def cancel(
    name: Annotated[str, typer.Argument(help="Study name.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove the study's queued jobs, and running ones whose worker is gone (no heartbeat within the
    worker's --grace). Live running jobs finish; `taskgroup plan` queues the removed ones again."""
    from jobs.manage import cancel_queued, live_jobs

    with open_store(db).session() as session:
        study = Study.find_or_raise_by_name(session, name)
        queued, abandoned = cancel_queued(session, study)
        live = live_jobs(session, study)
    if json_output:
        emit_json({"study": name, "cancelled": queued, "abandoned": abandoned})
    else:
        gone = f" and {counted(abandoned, 'abandoned job')} (its worker is gone)" if abandoned else ""
        running = f"; {counted(live, 'running job')} will finish" if live else ""  # only when there is one
        console.print(f"{counted(queued, 'queued job')}{gone} of [bold]{name}[/] removed{running}.")
