"""Background work that heals itself (issue 14): a task worker killed mid-task (a deploy restart, the OOM killer)
loses nothing for good.

- `heartbeat`: each `db_worker` keeps a `WorkerHeartbeat` row fresh from a small thread, which also runs the
  periodic jobs that are due.
- `recovery`: tasks RUNNING on a worker whose heartbeat went stale are queued again (bounded: FAILED after
  WORKER_TASK_MAX_ATTEMPTS claims), safe when every host sweeps at once.
- `periodic`: jobs that run once per period across all hosts (a `PeriodicJob` row claimed with a conditional
  UPDATE): the sweep, the reconciler, wind-down daily, the list-totals fold, the platform sync if enabled.
- `reconcile`: checks that find work whose task never ran (an ended campaign without its report, an email never
  sent, …) and queue it once. Apps register their checks in `AppConfig.ready()`; campaigns' are in `checks`.

The worker command is campaigns/management/commands/db_worker.py; docs/architecture.md, "Background work"."""
