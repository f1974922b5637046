"""Sort keys of the list that SQL has to compute (issue 3): budget remaining, the same figure as
`Campaign.budget_remaining`, written for each database."""

from django.db import models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest


class DaysBetween(models.Func):
    """Whole days from the first date to the second (both DateFields), on SQLite and PostgreSQL."""

    output_field = models.IntegerField()
    arity = 2

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        # date - date is an integer number of days in PostgreSQL.
        return self.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra)


def budget_remaining_expression():
    """The same figure as `Campaign.budget_remaining`, in SQL (for sorting the list by it): the lifetime budget,
    or daily budget × planned days, minus spend so far, never below zero; NULL when a daily campaign has no
    end date."""
    money = models.DecimalField(max_digits=16, decimal_places=2)

    def left(planned):
        return Greatest(planned - F("total_spend"), Value(0), output_field=money)

    # Explicit cases, not GREATEST(NULL, 0): PostgreSQL's GREATEST skips NULLs, SQLite's returns NULL.
    return Case(
        When(budget_mode="lifetime", then=left(F("budget_amount"))),
        When(
            end_date__isnull=False,
            then=left(F("budget_amount") * (DaysBetween(F("end_date"), F("start_date")) + 1)),
        ),
        default=Value(None),
        output_field=money,
    )
