"""The scheduler: plans of jobs from a study, workers that claim and run them, backends that start workers.

Everything workers share lives in the database (`db`): a job is claimed atomically, kept alive by a
heartbeat, reclaimed when its heartbeat stops, and finished in one transaction together with its
results. Training itself is `taskgroup.training.train_candidate`, reached through `jobs.runners`.

Import from the submodules (`jobs.plans`, `jobs.worker`, `jobs.backends`, ...): this package
imports nothing itself, so a worker process that only runs jobs starts without loading the
selection solvers.
"""
