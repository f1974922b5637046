"""Money is always written with its currency, and never added across currencies.

`money_text` is how the campaign pages, the list, emails and notifications write an amount ("1,234.50 USD");
the frozen reports write theirs with `reports.formatting.fmt_money` ("USD 1,234.50"), unchanged since reports
were first frozen. Sums over several accounts are kept per currency (`listing.summary.totals_by_currency`)."""

from decimal import Decimal, InvalidOperation

DASH = "—"


def money_text(amount, currency: str, *, places: int = 2) -> str:
    """ "1,234.50 USD"; "—" for None (or something that is not a number)."""
    if amount is None or amount == "":
        return DASH
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return DASH
    return f"{value:,.{places}f} {currency}".strip()


def money_cell(amount, currency: str) -> str:
    """`money_text` for a table cell: the amount and its currency kept on one line (an escaped currency code
    expected; digits otherwise)."""
    if amount is None:
        return DASH
    figure, _, code = money_text(amount, currency).partition(" ")
    # The code in a smaller face: the list fits at 1,366 px; its text stays "1,234.00\u00a0EUR".
    return f'{figure}\u00a0<span class="cur">{code}</span>' if code else figure
