"""Domain errors of the campaigns services: each message is written for the user who asked."""


class CampaignError(Exception):
    """A rule was broken; the message is written for the user who asked."""


class TransitionNotAllowed(CampaignError):
    pass


class ReasonRequired(CampaignError):
    pass


class NotPermitted(CampaignError):
    pass


class ScheduleError(CampaignError):
    pass
