"""Writes of the reports app, one module per concern; the public API is re-exported here so callers use
`from reports import services` / `services.reports_create(...)`.

- snapshots: freezing a campaign's close report (`reports_create`, `snapshot_build`)
- final_pull: a connected campaign's final pull, then the freeze, or a visible wait (`reports_close`)
- pdf_store: the stored PDFs of a report, one per audience
- lessons: lessons learned and their revisions
- sharing: share links, their secrets and unlock cookies, counting their views
- feedback: feedback through links or from members, and feedback requests
- branding: an account's display name, logo, accent and footer on shared pages, PDFs and emails (issue 18)
- timeline: notes added after close, and keeping the cached report fresh when one changes (issue 18)
- delivery: the report mailed to an account's and a report's recipients, each with a personal link (issue 18)
- plan_next: the next campaign planned from an ended one's report (issue 18)

Only `feedback`, `delivery`, `pdf_store` and `timeline` import `reports.tasks` (to mail or render after a change);
tasks import services inside their bodies, the one allowed edge back."""

from .branding import (
    BrandingError,
    PreparedLogo,
    accent_check,
    account_branding_remove,
    account_branding_save,
    contrast_ratio,
    logo_prepare,
)
from .delivery import (
    DELIVERY_MAX_ATTEMPTS,
    account_recipient_add,
    account_recipient_remove,
    delivery_send,
    recipient_for_unsubscribe_token,
    recipient_unsubscribe,
    report_deliver,
    report_deliveries_due,
    report_deliveries_send,
    report_recipient_add,
    report_recipient_remove,
    report_recipients_sync,
    reports_deliver_at_close,
    unsubscribe_token,
)
from .errors import ReportError
from .feedback import (
    EMAIL_SPLIT,
    FEEDBACK_COMMENTS_SHOWN,
    FEEDBACK_REQUEST_MAX_EMAILS,
    feedback_create,
    feedback_none,
    feedback_request,
    feedback_set_hidden,
    feedback_summary,
    invitation_open,
    invitation_seal,
    invitation_text,
)
from .final_figures import reports_final_due, reports_finalize
from .final_pull import reports_close
from .lessons import LESSON_FIELDS, lessons_save
from .pdf_store import pdf_extras, report_pdf_bytes, report_pdfs_refresh_on_commit, report_pdfs_render
from .plan_next import PlanProposal, plan_next_create, plan_next_propose
from .sharing import (
    SHARE_SECRET_BYTES,
    SHARE_SECRET_MAX_LENGTH,
    SHARE_UNLOCK_SECONDS,
    share_link_create,
    share_link_for_secret,
    share_link_revoke,
    share_link_rotate,
    share_links_revoke,
    share_password_check,
    share_secret_hash,
    share_unlock_token,
    share_unlock_valid,
    share_url,
    share_view_record,
    share_views_write,
    user_agent_family,
)
from .snapshots import campaigns_just_ended, report_create, reports_create, snapshot_build
from .timeline import report_notes_added_after_close, report_timeline_changed

__all__ = [
    "BrandingError",
    "PreparedLogo",
    "accent_check",
    "account_branding_remove",
    "account_branding_save",
    "contrast_ratio",
    "logo_prepare",
    "report_notes_added_after_close",
    "report_timeline_changed",
    "reports_final_due",
    "reports_finalize",
    "DELIVERY_MAX_ATTEMPTS",
    "account_recipient_add",
    "account_recipient_remove",
    "delivery_send",
    "recipient_for_unsubscribe_token",
    "recipient_unsubscribe",
    "report_deliver",
    "report_deliveries_due",
    "report_deliveries_send",
    "report_recipient_add",
    "report_recipient_remove",
    "report_recipients_sync",
    "reports_deliver_at_close",
    "unsubscribe_token",
    "EMAIL_SPLIT",
    "FEEDBACK_COMMENTS_SHOWN",
    "FEEDBACK_REQUEST_MAX_EMAILS",
    "LESSON_FIELDS",
    "SHARE_SECRET_BYTES",
    "SHARE_SECRET_MAX_LENGTH",
    "SHARE_UNLOCK_SECONDS",
    "ReportError",
    "campaigns_just_ended",
    "feedback_create",
    "feedback_request",
    "feedback_set_hidden",
    "feedback_none",
    "feedback_summary",
    "invitation_open",
    "invitation_seal",
    "invitation_text",
    "lessons_save",
    "PlanProposal",
    "plan_next_create",
    "plan_next_propose",
    "report_create",
    "pdf_extras",
    "report_pdf_bytes",
    "report_pdfs_refresh_on_commit",
    "report_pdfs_render",
    "reports_close",
    "reports_create",
    "share_link_create",
    "share_link_for_secret",
    "share_link_revoke",
    "share_link_rotate",
    "share_links_revoke",
    "share_password_check",
    "share_secret_hash",
    "share_unlock_token",
    "share_unlock_valid",
    "share_url",
    "share_view_record",
    "share_views_write",
    "snapshot_build",
    "user_agent_family",
]
