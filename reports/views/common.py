"""What several report screens share: finding the report (404 otherwise), the report page's context, and
download responses."""

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import Campaign, Role
from campaigns.selectors import campaign_get_for_user

from .. import exports, presenters, public_cache, selectors, services
from ..forms import FeedbackForm, FeedbackRequestForm, RecipientForm, ShareLinkForm
from ..models import CloseReport, PdfAudience


def report_or_404(request, campaign_id, *, page: bool = False) -> tuple[Campaign, CloseReport]:
    """The user's campaign and its report; 404 for someone else's campaign and for a campaign without one.
    `page=True` when the view may render the report page (`detail_context`): see `report_for_campaign`."""
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    report = selectors.report_for_campaign(campaign=campaign, page=page)
    if report is None:
        raise Http404("This campaign has no report yet.")
    return campaign, report


def can_edit(role) -> bool:
    return role is not None and role.allows(Role.EDITOR)


def plan_next_allowed(*, role: Role | None, campaign) -> bool:
    """Whether a member with `role` in `campaign`'s account may plan the next campaign after it: the people who
    may create campaigns there by hand (`campaigns.selectors.accounts_for_creating`: managers, in an account
    without a platform connection). No query (the account is loaded with the campaign)."""
    return role is not None and role.allows(Role.MANAGER) and not campaign.account.is_connected


def lessons_context(*, campaign, report, can_edit: bool, **extra) -> dict:
    """What the lessons partial (`report_detail.html#lessons`) needs."""
    lessons, revisions = selectors.lessons_for_report(report=report)
    return {
        "campaign": campaign,
        "report": report,
        "lessons": lessons,
        "revisions": revisions,
        "can_edit": can_edit,
        **extra,
    }


def sharing_context(*, request, report, role) -> dict:
    """What the report page's share panel, delivery and feedback sections need. One query for the links (managers
    only), two for the feedback summary (with each recipient's feedback), two for the delivery state; none for
    a section `report_page_for_user` found empty (`selectors.page_has`)."""
    is_manager = role is not None and role.allows(Role.MANAGER)
    links = (
        list(report.share_links.select_related("created_by", "recipient").order_by("-created_at", "-id"))
        if is_manager and selectors.page_has(report, "share_links")
        else []
    )
    if selectors.page_has(report, "feedback"):
        feedback = services.feedback_summary(report=report, include_hidden=is_manager)
    else:
        feedback = services.feedback_none()
    return {
        "is_manager": is_manager,
        "share_links": links,
        "share_form": ShareLinkForm(prefix="share"),
        "request_form": FeedbackRequestForm(prefix="ask"),
        "feedback": feedback,
        "feedback_form": FeedbackForm(prefix_id="fbi"),
        "now": timezone.now(),
        # Delivery (issue 18): every member sees the state, managers edit (two queries).
        "delivery": selectors.report_delivery_rows(report=report, feedback_by_recipient=feedback["by_recipient"]),
        "recipient_form": RecipientForm(prefix="recipient"),
    }


def detail_context(request, campaign, report, role) -> dict:
    """The whole report page: the frozen body, late attribution, the comparison, lessons, sharing and feedback.
    `report` comes from `selectors.report_for_campaign(page=True)`: the body is rendered once per report, sort and
    options and then served from the cache (`public_cache.body_html`, the one the shared page uses), so the page
    never decodes the whole snapshot."""
    currency = report.frozen_currency
    return {
        **lessons_context(campaign=campaign, report=report, can_edit=can_edit(role)),
        "role": role,
        "can_plan_next": plan_next_allowed(role=role, campaign=campaign),
        "body_html": public_cache.body_html(request, report, public_cache.TEAM_OPTIONS),
        "since_close": presenters.since_close(frozen_totals=report.frozen_totals, currency=currency, campaign=campaign),
        "final": presenters.final_figures(
            report=report, frozen_totals=report.frozen_totals, currency=currency, zone=campaign.account.timezone
        ),
        "comparison": presenters.comparison(figures=selectors.report_comparison(report=report), currency=currency),
    } | sharing_context(request=request, report=report, role=role)


def _filename(campaign_name: str, suffix: str, extension: str) -> str:
    return f"{slugify(campaign_name) or 'campaign'}-{suffix}.{extension}"


def csv_download(campaign_name: str, suffix: str, header, rows) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exports.csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(campaign_name, suffix, "csv")}"'
    return response


def pdf_download(report: CloseReport, audience: str = PdfAudience.TEAM) -> HttpResponse:
    """The report's PDF for `audience` (the team's by default; a share link asks for its own)."""
    response = HttpResponse(services.report_pdf_bytes(report=report, audience=audience), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report.campaign_name, "report", "pdf")}"'
    return response
