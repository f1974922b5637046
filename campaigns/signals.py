"""Events campaigns announces. Apps that build on campaigns (reports) subscribe here, so campaigns never imports
them."""

from django.dispatch import Signal

# Sent after the transaction that changed statuses has committed, with `change_ids`: the new StatusChange ids.
status_changed = Signal()
