"""Demo data for `make run`: two accounts, a user per role, ~60 campaigns with content and plausible metrics.

Idempotent: users and accounts are created once; campaigns are only generated for an account that has none.
Campaigns that end go through the real transition service, so their audit rows, wind-down checklists and
post-close reports come about exactly as they would in use.
"""

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Action,
    AdAccount,
    BudgetMode,
    Campaign,
    ContentItem,
    ContentKind,
    DailyMetric,
    EndReason,
    Membership,
    Objective,
    Role,
    Source,
    Status,
    StatusChange,
)
from campaigns.text import counted

DEMO_PASSWORD = "closeout-demo"  # noqa: S105 — printed by `make run`; demo data only
DEMO_USERS = [
    ("manager", Role.MANAGER, "Mia", "Manager"),
    ("editor", Role.EDITOR, "Eli", "Editor"),
    ("viewer", Role.VIEWER, "Vic", "Viewer"),
]
ACCOUNTS = [
    ("Glow Cosmetics", "EUR", "Europe/Berlin", "7100000000000000001"),
    ("Urban Eats", "USD", "America/New_York", "7100000000000000002"),
]
NAMES = [
    "Spring Glow",
    "Summer Skin",
    "Night Routine",
    "Lip Lab",
    "Fresh Face",
    "Sun Guard",
    "Glow Up Challenge",
    "Bestie Bundle",
    "Holiday Sparkle",
    "New Year Reset",
    "Clean Beauty",
    "Creator Collab",
    "Serum Drop",
    "Back to School",
    "Black Friday",
    "Cyber Monday",
    "Valentine Edit",
    "Mother's Day",
    "Festival Looks",
    "Travel Minis",
    "Duet Challenge",
    "Taste Test",
    "Late Night Bites",
    "Brunch Club",
    "Spicy Week",
    "Vegan Month",
    "Family Feast",
    "Street Food Tour",
    "Chef's Table",
    "Dessert Drop",
]
OBJECTIVES = [
    Objective.VIDEO_VIEWS,
    Objective.ENGAGEMENT,
    Objective.REACH,
    Objective.TRAFFIC,
    Objective.WEB_CONVERSIONS,
]
END_REASONS = [
    (EndReason.OBJECTIVES_MET, ""),
    (EndReason.BUDGET_CONSTRAINTS, "Q3 budget moved to retail."),
    (EndReason.STRATEGY_CHANGE, "Shifting to creator-led content."),
    (EndReason.TECHNICAL_ISSUE, "Landing page outage during launch week."),
    (EndReason.OTHER, "Influencer contract ended early."),
]
WEEKDAY_FACTOR = [0.9, 0.85, 0.9, 1.0, 1.15, 1.3, 1.2]  # Mon..Sun: weekends do better on TikTok


class Command(BaseCommand):
    help = "Load demo accounts, users (password: closeout-demo) and campaigns. Safe to run again."

    def handle(self, *args, **options):
        rng = random.Random(42)  # noqa: S311 — demo data, not security
        users = self._users()
        created = 0
        for index, (name, currency, tz, advertiser_id) in enumerate(ACCOUNTS):
            account, _ = AdAccount.objects.get_or_create(
                name=name, defaults={"currency": currency, "timezone": tz, "advertiser_id": advertiser_id}
            )
            for username, role, *_ in DEMO_USERS:
                Membership.objects.get_or_create(user=users[username], account=account, defaults={"role": role})
            if not account.campaigns.exists():
                names = NAMES[index * 15 : index * 15 + 15]
                created += self._campaigns(account, names, users, rng)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({counted(created, 'campaign')} created)."))
        self.stdout.write(f"Log in as manager, editor or viewer (password {DEMO_PASSWORD}); admin for /admin/.")

    def _users(self):
        User = get_user_model()
        users = {}
        for username, _role, first, last in DEMO_USERS:
            user, made = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@closeout.example"},
            )
            if made:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user
        admin, made = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@closeout.example"}
        )
        if made:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        return users

    @transaction.atomic
    def _campaigns(self, account, names, users, rng) -> int:
        today = timezone.localdate()
        plans = []
        for i, base in enumerate(names):
            for wave in (1, 2):
                fate = [Status.ACTIVE, Status.ACTIVE, Status.PAUSED, Status.ENDED, Status.ACTIVE][(i + wave) % 5]
                days = rng.randint(30, 90)
                start = today - dt.timedelta(days=days)
                planned_days = days + rng.randint(10, 40)
                campaign = Campaign.objects.create(
                    account=account,
                    platform_id=f"18{account.pk:02d}{i:03d}{wave}{rng.randint(100000, 999999)}",
                    name=f"{base} {today.year if wave == 1 else today.year - 1}",
                    objective=rng.choice(OBJECTIVES),
                    budget_mode=rng.choice([BudgetMode.DAILY, BudgetMode.LIFETIME]),
                    budget_amount=Decimal(rng.choice([50, 80, 120, 200, 300])),
                    start_date=start,
                    end_date=start + dt.timedelta(days=planned_days),
                    audience=rng.choice(
                        [
                            "Women 18–34, beauty interests, DE/AT/CH",
                            "Food lovers 18–44 in NYC, LA and Chicago",
                            "Gen Z students, lookalike of site visitors",
                            "Broad 18+, interest: skincare",
                        ]
                    ),
                    owner=users["manager"],
                    target_views=rng.choice([200_000, 500_000, 1_000_000]),
                    target_followers=rng.choice([500, 1500, 4000]),
                    target_engagement_rate=Decimal(rng.choice(["4.00", "6.00", "8.50"])),
                )
                # A cost-per-result goal in the range of what the objective's result costs (a view is
                # cents, a click or a follower tens of cents), so some are met and some missed.
                cost_per_result = {"video_views": ["0.0120", "0.0180"], "reach": ["0.0060", "0.0100"]}.get(
                    campaign.objective, ["0.3500", "0.6000"]
                )
                campaign.target_cost_per_result = Decimal(rng.choice(cost_per_result))
                if campaign.budget_mode == BudgetMode.LIFETIME:
                    # Enough for the planned days at the daily pace, with some headroom: unused budget shows.
                    campaign.budget_amount = (campaign.budget_amount * planned_days * Decimal("1.15")).quantize(
                        Decimal("1")
                    )
                campaign.save(update_fields=["target_cost_per_result", "budget_amount"])
                plans.append((campaign, fate, days))
        self._content_and_metrics(plans, rng)
        self._history(plans, users, rng)
        services.campaign_totals_refresh(campaign_ids=[c.pk for c, _, _ in plans])
        return len(plans)

    def _content_and_metrics(self, plans, rng):
        items_by_campaign = {}
        for campaign, _fate, _days in plans:
            kinds = [ContentKind.VIDEO] * rng.randint(2, 4) + [ContentKind.POST, ContentKind.HASHTAG][
                : rng.randint(0, 2)
            ]
            items_by_campaign[campaign.pk] = ContentItem.objects.bulk_create(
                [
                    ContentItem(
                        campaign=campaign,
                        kind=kind,
                        title=f"{campaign.name.split()[0]} {kind.label.lower()} #{n + 1}"
                        if kind != ContentKind.HASHTAG
                        else f"#{campaign.name.split()[0].lower()}{campaign.start_date.year}",
                        url=f"https://www.tiktok.com/@demo/video/{campaign.pk}{n:02d}"
                        if kind == ContentKind.VIDEO
                        else "",
                    )
                    for n, kind in enumerate(kinds)
                ]
            )
        metrics = []
        for campaign, fate, days in plans:
            pause_gap = self._pause_gap(campaign, fate, days)
            quality = rng.uniform(0.6, 1.6)
            daily_budget = (
                float(campaign.budget_amount)
                if campaign.budget_mode == BudgetMode.DAILY
                else float(campaign.budget_amount) / 1.15 / ((campaign.end_date - campaign.start_date).days)
            )
            end_offset = days if fate != Status.ENDED else days - rng.randint(3, 10)
            campaign._demo_end_offset = end_offset
            campaign._demo_pause_gap = pause_gap
            items = items_by_campaign[campaign.pk]
            for offset in range(end_offset):
                day = campaign.start_date + dt.timedelta(days=offset)
                if pause_gap and pause_gap[0] <= offset < pause_gap[1]:
                    continue
                factor = WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.8, 1.2)
                spend = round(daily_budget * rng.uniform(0.7, 1.0), 2)
                impressions = int(spend * 160 * factor * quality)
                views = int(impressions * rng.uniform(0.25, 0.45))
                row = {
                    "spend": Decimal(str(spend)),
                    "impressions": impressions,
                    "reach": int(impressions * rng.uniform(0.6, 0.85)),
                    "clicks": int(impressions * rng.uniform(0.004, 0.015)),
                    "video_views": views,
                    "likes": int(views * rng.uniform(0.03, 0.08) * quality),
                    "comments": int(views * rng.uniform(0.002, 0.006)),
                    "shares": int(views * rng.uniform(0.002, 0.01)),
                    "follows": int(views * rng.uniform(0.001, 0.004) * quality),
                    "profile_visits": int(views * rng.uniform(0.005, 0.015)),
                }
                metrics.append(DailyMetric(campaign=campaign, date=day, **row))
                weights = [rng.uniform(0.5, 2.0) for _ in items]
                total_weight = sum(weights)
                for item, weight in zip(items, weights, strict=True):
                    share = weight / total_weight
                    metrics.append(
                        DailyMetric(
                            campaign=campaign,
                            content_item=item,
                            date=day,
                            spend=(row["spend"] * Decimal(str(round(share, 4)))).quantize(Decimal("0.01")),
                            **{k: int(v * share) for k, v in row.items() if k != "spend"},
                        )
                    )
        DailyMetric.objects.bulk_create(metrics, batch_size=2000)

    @staticmethod
    def _pause_gap(campaign, fate, days):
        """(first, last) day offsets with no delivery: a past pause that was resumed, or the current pause."""
        if fate == Status.PAUSED:
            return (days - 6, days + 1)
        if campaign.pk % 3 == 0 and days > 40:
            return (days // 2, days // 2 + 5)
        return None

    def _history(self, plans, users, rng):
        """Backdated pause/resume history for past pauses; real service calls for current pauses and ends."""
        entries = []
        for campaign, fate, _days in plans:
            gap = campaign._demo_pause_gap
            if gap and fate != Status.PAUSED:
                for offset, action, frm, to in (
                    (gap[0], Action.PAUSE, Status.ACTIVE, Status.PAUSED),
                    (gap[1], Action.RESUME, Status.PAUSED, Status.ACTIVE),
                ):
                    entries.append((campaign, offset, action, frm, to))
        for campaign, offset, action, frm, to in entries:
            change = StatusChange.objects.create(
                campaign=campaign,
                action=action,
                from_status=frm,
                to_status=to,
                actor=users["editor"],
                source=Source.UI,
            )
            when = self._at(campaign.start_date + dt.timedelta(days=offset))
            StatusChange.objects.filter(pk=change.pk).update(created_at=when)

        for campaign, fate, _days in plans:
            if fate == Status.PAUSED:
                services.campaigns_transition(
                    campaign_ids=[campaign.pk],
                    action=Action.PAUSE,
                    actor=users["editor"],
                    source=Source.UI,
                    enforce_role=False,
                )
                when = self._at(campaign.start_date + dt.timedelta(days=campaign._demo_pause_gap[0]))
                self._backdate(campaign, when)
            elif fate == Status.ENDED:
                reason, note = rng.choice(END_REASONS)
                services.campaigns_transition(
                    campaign_ids=[campaign.pk],
                    action=Action.END,
                    actor=users["manager"],
                    source=Source.UI,
                    reason_code=reason,
                    reason_note=note,
                    enforce_role=False,
                )
                when = self._at(campaign.start_date + dt.timedelta(days=campaign._demo_end_offset))
                self._backdate(campaign, when, ended=True)

    @staticmethod
    def _at(day):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 30)), dt.UTC)

    @staticmethod
    def _backdate(campaign, when, ended=False):
        last = StatusChange.objects.filter(campaign=campaign).order_by("-id").values_list("pk", flat=True).first()
        StatusChange.objects.filter(pk=last).update(created_at=when)
        fields = {"status_changed_at": when}
        if ended:
            fields |= {"ended_at": when, "end_date": when.date()}
        Campaign.objects.filter(pk=campaign.pk).update(**fields)
