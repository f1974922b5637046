"""Reports' line on the home page's "needs attention": new feedback on the user's reports. Registered with
`campaigns.selectors_home.attention_source_register` in ReportsConfig.ready(), so campaigns never imports reports."""

import datetime as dt
from collections.abc import Sequence

from django.db.models import QuerySet
from django.urls import reverse

from campaigns.selectors_home import AttentionSource, attention_columns, limited

from .models import Feedback

NEW_FEEDBACK_DAYS = 7


def new_feedback_rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
    """Visible feedback of the last `NEW_FEEDBACK_DAYS` days on reports of these accounts, newest first (the
    feedback_report_created index per report; a LIMITed read)."""
    recent = Feedback.objects.filter(
        report__account_id__in=account_ids,
        hidden_at__isnull=True,
        created_at__gte=now - dt.timedelta(days=NEW_FEEDBACK_DAYS),
    )
    return limited(recent, "-created_at").values(
        **attention_columns(
            kind="new_feedback",
            campaign_id="report__campaign_id",
            name="report__campaign_name",
            account_id="report__account_id",
            at="created_at",
            n1="rating",
            text="role",
        )
    )


def _note(row: dict, scope) -> str:
    return f"{int(row['attn_n1'] or 0)}/5 from a {row['attn_text'].replace('_', ' ')}"


NEW_FEEDBACK = AttentionSource(
    key="new_feedback",
    position=60,
    singular="new feedback",
    plural="new feedback",
    help=f"Feedback from share links and the team in the last {NEW_FEEDBACK_DAYS} days.",
    rows=new_feedback_rows,
    item_url=lambda row: reverse("reports:detail", kwargs={"campaign_id": row["attn_campaign"]}) + "#feedback",
    item_note=_note,
    all_url=lambda rows, scope: reverse("reports:index"),
    all_label="All reports",
)
