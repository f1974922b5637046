"""Annotations (issue 18): a dated note on a campaign's timeline ("creator posted", "paused for budget review"),
shown as a marker on the campaign's chart and frozen into its close report. Imported at the end of
`campaigns.models` (Django registers it there); written only by `campaigns.services.annotations`, read through
`campaigns.selectors_annotations` (which merges in the status changes: those are never copied into notes)."""

from django.conf import settings
from django.db import models

ANNOTATION_TEXT_MAX = 200


class Annotation(models.Model):
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="annotations")
    day = models.DateField(help_text="The day on the campaign's timeline (in the account's time zone).")
    text = models.CharField(max_length=ANNOTATION_TEXT_MAX)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "created_at", "id"]
        indexes = [models.Index(fields=["campaign", "day"], name="annotation_campaign_day")]
        constraints = [models.CheckConstraint(condition=~models.Q(text=""), name="annotation_text_not_empty")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day}: {self.text[:40]}"
