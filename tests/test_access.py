"""The authorization matrix, from the URLconf itself: every named URL pattern must have a row in ACCESS, so a new
URL cannot be added without saying who may use it. Each row is requested as anonymous, viewer, editor, manager,
a manager of another account, and staff (no membership), with GET and POST.

Levels:
  public   anyone, no login (share links, ICS feeds: they carry their own secret)
  login    any logged-in user (pages that list only what the user may see)
  viewer / editor / manager   a member of the object's account with at least this role
  staff    Django admin
  none     the method is not allowed (405; anonymous users of non-public pages are sent to log in first)

Expected status: anonymous → redirect to the login page; a logged-in user without membership of the object's
account → 404 (objects of other accounts are indistinguishable from missing ones); a member below the level →
403; allowed → anything but 403/404/405/500 and not a login redirect.
"""

import dataclasses

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from campaigns import services
from campaigns.models import Action, EndReason, Role, Source, Status
from tests.factories import CampaignFactory, ContentItemFactory, DailyMetricFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@dataclasses.dataclass(frozen=True)
class Access:
    get: str
    post: str
    scoped: bool = True  # object of one account: outsiders get 404
    any_account: bool = False  # the role is checked against any of the user's accounts (e.g. creating)
    non_member: object = None  # what a non-member of the object's account gets, when not the usual 404

    @property
    def public(self) -> bool:
        return "public" in (self.get, self.post)


ACCESS: dict[str, Access] = {
    "home": Access(get="login", post="none", scoped=False),  # the home page (issue 16)
    "login": Access(get="public", post="public", scoped=False),
    "logout": Access(get="none", post="public", scoped=False),
    "healthz": Access(get="public", post="none", scoped=False),
    "campaigns:list": Access(get="login", post="none", scoped=False),
    "campaigns:detail": Access(get="viewer", post="none"),
    "reports:index": Access(get="login", post="none", scoped=False),
    # Campaigns UI (issue 3)
    # Bulk actions take many ids: ones the user cannot see are reported "not found" (never named), not a 404.
    "campaigns:bulk_action": Access(get="none", post="editor", non_member="ok"),
    "campaigns:end_confirm": Access(get="manager", post="none"),
    # Home, row menus and accounts (issue 16)
    "campaigns:action_confirm": Access(get="editor", post="none"),
    "campaigns:home_badge": Access(get="login", post="none", scoped=False),
    "campaigns:accounts": Access(get="login", post="none", scoped=False),
    "campaigns:schedule": Access(get="none", post="manager"),
    "campaigns:unschedule": Access(get="none", post="manager"),
    # Timeline notes (issue 18): editors add; the author or a manager changes (the matrix's note has no author)
    "campaigns:annotation_add": Access(get="none", post="editor"),
    "campaigns:annotation_edit": Access(get="none", post="manager"),
    "campaigns:annotation_delete": Access(get="none", post="manager"),
    "campaigns:create": Access(get="manager", post="manager", scoped=False, any_account=True),
    "campaigns:edit": Access(get="manager", post="manager"),
    # Content-rights expiry (issue 17): an item's rights on the campaign page; the account's settings
    "campaigns:content_rights": Access(get="none", post="editor"),
    "campaigns:account_rights": Access(get="none", post="manager"),
    "campaigns:calendar": Access(get="login", post="none", scoped=False),
    "campaigns:ics_token": Access(get="none", post="manager"),
    "campaigns:ics": Access(get="public", post="none", scoped=False),
    # Post-close reports (issue 4)
    "reports:compare": Access(get="login", post="none", scoped=False),
    "reports:detail": Access(get="viewer", post="none"),
    "reports:build": Access(get="none", post="manager"),
    "reports:lessons": Access(get="viewer", post="none"),
    "reports:lessons_edit": Access(get="editor", post="editor"),
    "reports:export_daily": Access(get="viewer", post="none"),
    "reports:export_content": Access(get="viewer", post="none"),
    "reports:export_metrics": Access(get="viewer", post="none"),
    "reports:export_pdf": Access(get="viewer", post="none"),
    # Platform sync and imports (issue 7); their `pk` is the account's
    "campaigns:account_detail": Access(get="viewer", post="none"),
    "campaigns:account_sync": Access(get="none", post="editor"),
    "campaigns:import_upload": Access(get="none", post="editor"),
    "campaigns:import_preview": Access(get="viewer", post="none"),
    "campaigns:import_commit": Access(get="none", post="editor"),
    "campaigns:import_discard": Access(get="none", post="editor"),
    "campaigns:retry_sync": Access(get="none", post="editor"),
    "campaigns:resend_end": Access(get="none", post="manager"),
    # Guardrail rules (issue 17); their `pk` is the account's
    "campaigns:rules": Access(get="viewer", post="none"),
    "campaigns:rule_log": Access(get="viewer", post="none"),
    "campaigns:rule_create": Access(get="manager", post="manager"),
    "campaigns:rule_edit": Access(get="manager", post="manager"),
    "campaigns:rule_enabled": Access(get="none", post="manager"),
    # Wind-down and notifications (issue 6)
    "campaigns:winddown_list": Access(get="login", post="none", scoped=False),
    "campaigns:winddown": Access(get="viewer", post="none"),
    "campaigns:winddown_start": Access(get="none", post="editor"),
    "campaigns:winddown_step": Access(get="none", post="editor"),
    "campaigns:winddown_content": Access(get="none", post="editor"),
    "campaigns:watch": Access(get="none", post="viewer"),
    "campaigns:unwatch": Access(get="none", post="viewer"),
    "campaigns:notifications": Access(get="login", post="none", scoped=False),
    "campaigns:notifications_bell": Access(get="login", post="none", scoped=False),
    "campaigns:notifications_read_all": Access(get="none", post="login", scoped=False),
    "campaigns:notification_read": Access(get="none", post="login", scoped=False),  # only the user's own
    "campaigns:notification_preferences": Access(get="login", post="login", scoped=False),
    # --- Sharing and feedback (issue 5): the public pages carry their own secret ---
    "share:page": Access(get="public", post="none", scoped=False),
    "share:unlock": Access(get="public", post="public", scoped=False),
    "share:feedback": Access(get="public", post="public", scoped=False),
    "share:daily_csv": Access(get="public", post="none", scoped=False),
    "share:content_csv": Access(get="public", post="none", scoped=False),
    "share:pdf": Access(get="public", post="none", scoped=False),
    "reports:share_create": Access(get="none", post="manager"),
    "reports:feedback_request": Access(get="none", post="manager"),
    "reports:share_rotate": Access(get="none", post="manager"),
    "reports:share_revoke": Access(get="none", post="manager"),
    "reports:feedback_create": Access(get="none", post="viewer"),
    "reports:feedback_hide": Access(get="none", post="manager"),
    # --- Stakeholder delivery (issue 18); the unsubscribe page carries its own token ---
    "reports:delivery_send": Access(get="none", post="manager"),
    "reports:recipient_add": Access(get="none", post="manager"),
    "reports:recipient_remove": Access(get="none", post="manager"),
    "reports:account_recipients": Access(get="viewer", post="manager"),
    "reports:account_recipient_remove": Access(get="none", post="manager"),
    "report_unsubscribe": Access(get="public", post="public", scoped=False),
    # --- Plan the next campaign (issue 18): who may create campaigns in the ended one's account ---
    "reports:plan_next": Access(get="manager", post="manager"),
    # Branding (issue 18): the logo and the accent's stylesheet are public files named by their content
    "reports:account_branding": Access(get="viewer", post="manager"),
    "reports:account_branding_remove": Access(get="none", post="manager"),
    "branding:logo": Access(get="public", post="none", scoped=False),
    "branding:theme": Access(get="public", post="none", scoped=False),
}

# Values for URL kwargs, by name; {campaign} and {account} are filled per test.
KWARGS = {
    "pk": "{campaign}",
    "campaign_id": "{campaign}",
    "account_id": "{account}",
    "item_pk": "{item}",
    "kind": "calendar_updated",
    "import_pk": "{metric_import}",
    "rule_pk": "{rule}",
    "token": "{ics_token}",
    "secret": "{secret}",  # issue 5
    "link_id": "{link}",
    "feedback_id": "{feedback}",
    "recipient_id": "{recipient}",  # issue 18
    "note_pk": "{note}",  # issue 18
}
# Query strings and form data the views need to know which object is meant.
QUERY_BY_NAME = {
    "campaigns:end_confirm": {"ids": "{campaign}"},
    "campaigns:action_confirm": {"ids": "{campaign}", "action": "pause"},
}
POST_BY_NAME = {
    "campaigns:ics_token": {"account": "{account}"},
    "campaigns:bulk_action": {"ids": "{campaign}", "action": "pause"},
}
# URLs whose `pk` is not a campaign's.
KWARGS_BY_NAME = {
    name: {"pk": "{account}"}
    for name in (
        "campaigns:account_detail",
        "campaigns:account_sync",
        "campaigns:import_upload",
        "campaigns:import_preview",
        "campaigns:import_commit",
        "campaigns:import_discard",
        "campaigns:rules",
        "campaigns:rule_log",
        "campaigns:rule_create",
        "campaigns:rule_edit",
        "campaigns:rule_enabled",
        "campaigns:account_rights",
    )
} | {
    "reports:account_recipient_remove": {"recipient_id": "{account_recipient}"},
    "report_unsubscribe": {"token": "{unsubscribe}"},
    "branding:logo": {"sha256": "{logo}"},
    "branding:theme": {"accent": "0b63c4", "text": "light"},
}

ROLES = {"viewer": Role.VIEWER, "editor": Role.EDITOR, "manager": Role.MANAGER}
LEVEL_RANK = {"viewer": 1, "editor": 2, "manager": 3}


def named_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django admin checks is_staff itself; covered in test_admin.py
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_patterns(pattern, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def test_every_named_url_has_an_access_rule():
    names = {name for name, _ in named_patterns()}
    assert names - set(ACCESS) == set(), "add these URL names to ACCESS in tests/test_access.py"
    assert set(ACCESS) - names == set(), "remove stale rows from ACCESS"


@pytest.fixture
def world(account, other_account, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # An ended campaign (through the real service, so it has its report and wind-down checklist): the pages
    # that act on live campaigns must still answer its members normally (a message, not an error).
    campaign = CampaignFactory(account=account, status=Status.ACTIVE)
    item = ContentItemFactory(campaign=campaign)
    DailyMetricFactory(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_transition(
            campaign_ids=[campaign.pk],
            action=Action.END,
            actor=None,
            source=Source.COMMAND,
            reason_code=EndReason.OBJECTIVES_MET,
            enforce_role=False,
        )
    campaign.refresh_from_db()
    users = {"anonymous": None, "staff": UserFactory(username="staffer", is_staff=True, is_superuser=True)}
    for name, role in ROLES.items():
        user = UserFactory(username=f"matrix-{name}")
        MembershipFactory(user=user, account=account, role=role)
        users[name] = user
    users["outsider"] = UserFactory(username="matrix-outsider")
    MembershipFactory(user=users["outsider"], account=other_account, role=Role.MANAGER)
    upload = SimpleUploadedFile("export.csv", f"Campaign name,By Day,Cost\n{campaign.name},2026-05-01,1.00\n".encode())
    metric_import = services.metric_import_preview(account=account, upload=upload, actor=None)
    ics_token = services.ics_token_create(account=account, actor=None)
    from campaigns.rules.services import rule_create

    rule = rule_create(
        account=account, actor=None, values={"name": "Matrix", "condition": "end_date_passed", "action": "notify"}
    )
    # --- Sharing and feedback (issue 5) ---
    from reports.services import feedback_create, share_link_create

    link, secret = share_link_create(report=campaign.close_report, actor=None, label="Matrix")
    feedback = feedback_create(
        report=campaign.close_report, link=None, author=None, role="stakeholder", rating=4, would_take_part_again=True
    )
    # --- Stakeholder delivery (issue 18) ---
    from reports.services import account_recipient_add, report_recipient_add, unsubscribe_token

    account_recipient = account_recipient_add(account=account, actor=None, email="default@client.example")
    recipient = report_recipient_add(report=campaign.close_report, actor=None, email="one@client.example")
    # --- Branding (issue 18) ---
    from reports.services import account_branding_save, logo_prepare
    from tests.reports.test_branding import png_bytes

    branding = account_branding_save(account=account, actor=None, display_name="Matrix", logo=logo_prepare(png_bytes()))
    note = services.annotation_create(
        campaign=campaign, actor=None, day=campaign.start_date, text="Matrix", enforce_role=False
    )
    return {
        "note": note,
        "logo": branding.logo_sha256,
        "account_recipient": account_recipient,
        "recipient": recipient,
        "unsubscribe": unsubscribe_token(recipient),
        "campaign": campaign,
        "account": account,
        "item": item,
        "metric_import": metric_import,
        "rule": rule,
        "ics_token": ics_token,
        "users": users,
        "secret": secret,
        "link": link,
        "feedback": feedback,
    }


def url_for(name, pattern, world):
    kwargs = {}
    keys = list(pattern.pattern.converters)
    if name.startswith("share:"):  # issue 5: the secret is captured by the including pattern, `s/<secret>/`
        keys.append("secret")
    for key in keys:
        template = KWARGS_BY_NAME.get(name, {}).get(key) or KWARGS.get(key, "0")
        kwargs[key] = template.format(
            campaign=world["campaign"].pk,
            account=world["account"].pk,
            item=world["item"].pk,
            metric_import=world["metric_import"].pk,
            rule=world["rule"].pk,
            ics_token=world["ics_token"],
            secret=world["secret"],
            link=world["link"].pk,
            feedback=world["feedback"].pk,
            recipient=world["recipient"].pk,
            account_recipient=world["account_recipient"].pk,
            unsubscribe=world["unsubscribe"],
            logo=world["logo"],
            note=world["note"].pk,
        )
    return reverse(name, kwargs=kwargs)


def fill(values, world):
    return {k: v.format(campaign=world["campaign"].pk, account=world["account"].pk) for k, v in values.items()}


def expected(level, who, rule):
    """'ok', 'login', 403, 404 or 405 for this level and user."""
    if level == "none":
        return "login" if who == "anonymous" and not rule.public else 405
    if level == "public":
        return "ok"
    if who == "anonymous":
        return "login"
    if level == "login":
        return "ok"
    if level == "staff":
        return "ok" if who == "staff" else 403
    if who == "outsider" and rule.any_account:
        return "ok"  # a manager of their own account
    if who in ("outsider", "staff"):
        if rule.non_member is not None:
            return rule.non_member
        return 404 if rule.scoped else 403
    return "ok" if LEVEL_RANK[who] >= LEVEL_RANK[level] else 403


WHO = ("anonymous", "viewer", "editor", "manager", "outsider", "staff")


def check(client, world, name, method, who) -> str | None:
    """One request; returns a description of what was wrong, or None."""
    pattern = dict(named_patterns())[name]
    url = url_for(name, pattern, world)
    rule = ACCESS[name]
    client.logout()
    user = world["users"][who]
    if user is not None:
        client.force_login(user)
    if method == "get":
        response = client.get(url, fill(QUERY_BY_NAME.get(name, {}), world))
    else:
        response = client.post(url, fill(POST_BY_NAME.get(name, {}), world))

    want = expected(getattr(rule, method), who, rule)
    got = response.status_code
    location = response.headers.get("Location", "")
    said = f"{method.upper()} {url} as {who}: expected {want}, got {got} {location}".strip()
    if want == "login":
        return None if got == 302 and "/accounts/login/" in location else said
    if want == "ok":
        if got in (403, 404, 405, 500):
            return said
        # (Logging out rightly lands on the login page.)
        if getattr(rule, method) != "public" and got == 302 and "/accounts/login/" in location:
            return said
        return None
    return None if got == want else said


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_access_matrix(client, world, name):
    """Every user × method for one URL (one world per URL: the matrix stays fast). GETs first, so that a POST
    which changes state (revoke, rotate) cannot change what a later GET of the same URL sees."""
    problems = [
        problem
        for method in ("get", "post")
        for who in WHO
        if (problem := check(client, world, name, method, who)) is not None
    ]
    assert problems == []
