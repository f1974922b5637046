"""No index that another makes redundant (issue 19): every index of a table is paid by each write that touches
it, and a bulk END of 1,000 campaigns writes 1,000 campaign rows (every index, as status is indexed), 1,000
history rows and 7,000 wind-down steps. An index whose columns lead another index of the same table answers
nothing the longer one does not."""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

# The tables a bulk END writes, and the daily metrics every import and pull writes up to a million rows of.
WRITTEN_IN_BULK = ("campaigns_campaign", "campaigns_statuschange", "campaigns_winddownstep", "campaigns_dailymetric")


def _indexes(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        return {
            name: info
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if info["columns"]
            and (info["index"] or info["unique"] or info["primary_key"])
            and not info["foreign_key"]
            and not info["check"]
        }


def _partial(table: str) -> set[str]:
    """Names of the table's partial indexes (a condition: not redundant with a full one)."""
    names = set()
    for model in apps.get_app_config("campaigns").get_models():
        if model._meta.db_table == table:
            names |= {index.name for index in model._meta.indexes if index.condition is not None}
            names |= {c.name for c in model._meta.constraints if getattr(c, "condition", None) is not None}
    return names


@pytest.mark.parametrize("table", WRITTEN_IN_BULK)
def test_no_index_is_a_leading_part_of_another(table):
    indexes = _indexes(table)
    partial = _partial(table)
    assert len(indexes) > 2  # the introspection sees the table's indexes
    redundant = []
    for name, info in indexes.items():
        if info["unique"] or info["primary_key"] or name in partial:
            continue
        columns = info["columns"]
        for other, other_info in indexes.items():
            if other != name and other not in partial and other_info["columns"][: len(columns)] == columns:
                redundant.append(f"{name} {columns} leads {other} {other_info['columns']}")
    assert redundant == []


def test_mostly_empty_foreign_keys_are_indexed_only_where_set():
    with connection.cursor() as cursor:
        campaign = connection.introspection.get_constraints(cursor, "campaigns_campaign")
        steps = connection.introspection.get_constraints(cursor, "campaigns_winddownstep")
    on = {tuple(i["columns"]) for i in campaign.values() if i["index"]}
    assert ("planned_from_id",) in on and "campaign_planned_from" in campaign
    assert "campaigns_campaign_planned_from_id_1275c3cf" not in campaign
    assert "winddownstep_done_by" in steps and "campaigns_winddownstep_done_by_id_ac5d12fc" not in steps
