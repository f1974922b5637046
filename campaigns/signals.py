"""Events campaigns announces. Apps that build on campaigns (reports) subscribe here, so campaigns never imports
them. Receivers take `**kwargs`: arguments may be added."""

from django.dispatch import Signal

# A batch of status changes committed (one call of `campaigns_transition` that changed something). Sent once per
# batch, after commit, with `send_robust` (campaigns/services/effects.py), with:
#   change_ids:   the new StatusChange ids;
#   action:       "pause", "resume" or "end";
#   campaign_ids: the campaigns that changed.
# A receiver that raises is logged and skipped; it cannot undo the change nor stop the other receivers, so a
# receiver should only queue a task (whose work then retries on its own), never do the work inline.
status_changed = Signal()

# Scheduled actions created together committed (one call of `scheduled_actions_create`), with:
#   scheduled_ids: the new ScheduledAction ids;  actor_id: who scheduled them (or None).
schedules_created = Signal()

# A scheduled action ended FAILED (committed), with `scheduled`: the ScheduledAction, its `result` saying why.
schedule_failed = Signal()

# A campaign's annotations changed (issue 18: one added, edited or removed; committed), with:
#   campaign_ids: the campaigns whose notes changed.
# Sent after commit with `send_robust`. The close report listens: a note added after close shows on the (cached)
# report page and shared page at once.
annotations_changed = Signal()
