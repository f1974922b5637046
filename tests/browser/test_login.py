import pytest

from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_member_logs_in_and_sees_their_campaigns_only(login_page, live_server, account, viewer, other_campaign, axe):
    CampaignFactory(account=account, name="Spring Glow")

    page = login_page(viewer)

    assert page.url == f"{live_server.url}/"  # the home page is where a login lands (issue 16)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    assert page.url.startswith(f"{live_server.url}/campaigns/")
    assert page.get_by_role("link", name="Spring Glow").is_visible()
    assert page.get_by_text("Secret Other Launch").count() == 0
    assert axe(page) == []


def test_wrong_password_shows_a_clear_error(page, live_server, viewer):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url
