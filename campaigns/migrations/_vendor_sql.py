"""`VendorSQL`, the migration operation that runs SQL per database vendor (what the ORM does not model).

Frozen: migrations 0003 and 0006 run through it, so what it does must never change (a fresh database would
then be built differently from one migrated years ago). Need something else? Write a new operation class. The
leading underscore keeps Django's migration loader from taking this module for a migration. Nothing outside
`campaigns/migrations/` imports it."""

from django.db import migrations


class VendorSQL(migrations.operations.base.Operation):
    """SQL per database vendor ({vendor: [statements]}, run in order; vendors not named run nothing)."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, forwards: dict, backwards: dict, description: str):
        self.forwards, self.backwards, self.description = forwards, backwards, description

    def state_forwards(self, app_label, state):
        pass

    def _run(self, schema_editor, statements):
        for statement in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement, params=None)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, self.forwards)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, self.backwards)

    def describe(self):
        return self.description
