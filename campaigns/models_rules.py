"""Guardrail rules (issue 17): per account, a condition, an action, a scope and guards; the episodes that make a
rule fire once per campaign while its condition holds; the rule log. Imported at the end of `campaigns.models`
(Django registers them there); the logic lives in `campaigns.rules`."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class RuleCondition(models.TextChoices):
    BUDGET_SPENT = "budget_spent", "Spend reaches a share of the lifetime budget"
    DAILY_OVERSPEND = "daily_overspend", "Today's spend exceeds the daily budget × a factor"
    COST_PER_RESULT = "cost_per_result", "Cost per result above the campaign's target for N days in a row"
    NO_IMPRESSIONS = "no_impressions", "No impressions for N days while active"
    END_DATE_PASSED = "end_date_passed", "The planned end date has passed"
    LOW_CTR = "low_ctr", "Click-through rate below a share after N impressions"


class RuleAction(models.TextChoices):
    NOTIFY = "notify", "Notify only"
    PAUSE = "pause", "Pause"
    END = "end", "End"


class RuleScope(models.TextChoices):
    ALL = "all", "All campaigns of the account"
    OBJECTIVE = "objective", "Campaigns with one objective"
    CHOSEN = "chosen", "Chosen campaigns"


class Rule(models.Model):
    """One guardrail. Written only by `campaigns.rules.services` (audited in `RuleLogEntry`)."""

    account = models.ForeignKey("campaigns.AdAccount", on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)
    condition = models.CharField(max_length=30, choices=RuleCondition.choices)
    # What the condition's numbers mean depends on it (see `campaigns.rules.conditions.CONDITIONS`): a percentage
    # (budget spent, CTR), a factor (daily overspend); `days` for the in-a-row conditions; `impressions` for CTR.
    threshold = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    impressions = models.PositiveBigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=RuleAction.choices, default=RuleAction.NOTIFY)
    end_reason = models.CharField(max_length=30, blank=True)
    end_note = models.CharField(max_length=500, blank=True)
    scope = models.CharField(max_length=10, choices=RuleScope.choices, default=RuleScope.ALL)
    objective = models.CharField(max_length=30, blank=True)
    campaigns = models.ManyToManyField("campaigns.Campaign", blank=True, related_name="+")
    # Guards: no action before this many impressions, nor during the first this-many days ("waiting: learning").
    guard_impressions = models.PositiveBigIntegerField(default=0)
    guard_days = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0), name="rule_threshold_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def threshold_value(self) -> Decimal:
        return self.threshold if self.threshold is not None else Decimal("0")


class RuleEpisode(models.Model):
    """A stretch during which a rule's condition held for a campaign and the rule acted on it: opened when the
    rule fires, closed when the condition no longer holds. At most one open episode per (rule, campaign), so a
    rule fires once per episode however often it is evaluated (and a person who resumes a campaign the rule
    paused is not overruled while the condition still holds)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="episodes")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    opened_on = models.DateField()
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "campaign"], condition=Q(closed_at__isnull=True), name="ruleepisode_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} · campaign {self.campaign_id} since {self.opened_on}"


class RuleLogKind(models.TextChoices):
    ACTED = "acted", "Acted"
    HELD = "held", "Held back"
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled"


class RuleLogEntry(models.Model):
    """The rule log of an account: every action a rule took, every near-miss a guard held back (at most one a
    campaign, rule and day), and every create, edit, enable and disable (with who did it)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="log")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=RuleLogKind.choices)
    day = models.DateField(null=True, blank=True)
    message = models.CharField(max_length=500)
    numbers = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "campaign", "day"], condition=Q(kind="held"), name="rulelog_one_hold_a_day"
            ),
        ]
        indexes = [models.Index(fields=["rule", "-created_at"], name="rulelog_rule_created")]

    def __str__(self) -> str:
        return self.message
