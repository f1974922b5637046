"""The sign-in backend: Django's ModelBackend, whose user comes with the header bell's unread count (issue 19).

Every signed-in page showed the bell with a COUNT query of its own; the count now rides on the query that loads
the user from the session (a subquery on the `notification_unread` index), one round trip fewer per page.
`context_processors.notifications_bell` reads it from the user, and counts the usual way for a user loaded
otherwise (sessions made before this backend, which `django.contrib.auth.backends.ModelBackend`, listed after it
in AUTHENTICATION_BACKENDS, still serves)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from .models import Notification
from .selectors import rows_counted

UNREAD_ATTRIBUTE = "notifications_unread_count"


def _unread():
    return rows_counted(Notification.objects.filter(read_at__isnull=True), by="recipient")


class UserBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and username is not None and password is not None:
            # Wrong credentials end here: the ModelBackend after this one (kept for older sessions) would only
            # hash the password a second time. Django then reports the failure (user_login_failed, for axes).
            raise PermissionDenied
        return user

    def get_user(self, user_id):
        users = get_user_model()._default_manager.annotate(**{UNREAD_ATTRIBUTE: _unread()})
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
