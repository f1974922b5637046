class ReportError(Exception):
    """A rule was broken; the message is written for the user who asked."""
