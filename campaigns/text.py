"""Words for counts, written once: "1 campaign", "2 campaigns", "99+ campaigns". Python messages call `counted`;
templates use the `counted` filter of `campaign_tags` (`{{ n|counted:"campaign" }}`)."""


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The noun for `count`: `singular` for exactly 1, else `plural_form` (default: `singular` + "s")."""
    return singular if count == 1 else (plural_form or f"{singular}s")


def counted(count: int, singular: str, plural_form: str | None = None, *, at_most: int | None = None) -> str:
    """ "1 campaign", "1,204 campaigns"; with `at_most`, a count above it reads "99+ campaigns"."""
    if at_most is not None and count > at_most:
        return f"{at_most:,}+ {plural_form or singular + 's'}"
    return f"{count:,} {plural(count, singular, plural_form)}"


def day_text(day) -> str:
    """A date as pages and messages write it: "2 Dec 2026"."""
    return f"{day.day} {day:%b %Y}"


def rights_text(*, title: str, creator: str, day, expired: bool) -> str:
    """ "Usage rights of “Glow reel” (creator Ana Ruiz) expired on 2 Dec 2026" (or "expire on", before the day)."""
    who = f" (creator {creator})" if creator else ""
    verb = "expired" if expired else "expire"
    return f"Usage rights of “{title}”{who} {verb} on {day_text(day)}"
