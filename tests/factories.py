import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from campaigns.models import (
    AdAccount,
    BudgetMode,
    Campaign,
    ContentItem,
    DailyMetric,
    Membership,
    Objective,
    Role,
    Status,
)

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    advertiser_id = factory.Sequence(lambda n: f"70000000000{n:05d}")
    currency = "USD"
    timezone = "Europe/Berlin"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.VIEWER


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    account = factory.SubFactory(AccountFactory)
    platform_id = factory.Sequence(lambda n: f"18000000{n:08d}")
    name = factory.Sequence(lambda n: f"Campaign {n}")
    objective = Objective.VIDEO_VIEWS
    status = Status.ACTIVE
    budget_mode = BudgetMode.DAILY
    budget_amount = Decimal("100.00")
    start_date = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=30))
    end_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=30))


class ContentItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentItem

    campaign = factory.SubFactory(CampaignFactory)
    title = factory.Sequence(lambda n: f"Video {n}")
    url = factory.Sequence(lambda n: f"https://www.tiktok.com/@brand/video/{n}")


class DailyMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyMetric

    campaign = factory.SubFactory(CampaignFactory)
    date = factory.Sequence(lambda n: dt.date.today() - dt.timedelta(days=n + 1))
    spend = Decimal("10.00")
    impressions = 1000
    reach = 800
    clicks = 20
    video_views = 500
    likes = 40
    comments = 5
    shares = 3
    follows = 2
    profile_visits = 7
