"""Guardrail rules (issue 17): rules that notify, pause or end campaigns for the team.

- `conditions` — which campaigns a rule's condition holds for on one day: one set-based query per rule and
  day, shared by the preview and the evaluation (so they agree), and the words for rules and their numbers.
- `evaluate` — what a rule does now: episodes (fire once while the condition holds), guards, the status service
  with source `rule`, the rule log.
- `preview` — what a rule would have done over the last 30 days of stored metrics, replaying the same steps.
- `services` — create, edit, enable, disable (audited in the rule log).
- `notify` — the notification of a notify-only rule.
"""
