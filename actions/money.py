"""Formatting of money held as integer minor units (never floats)."""

# ISO 4217 minor-unit exponents for the currencies the bank handles; 2 otherwise.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "TND": 3}


def format_money(amount_minor: int, currency: str) -> str:
    """Render `amount_minor` of `currency` as text, e.g. 100000 EUR -> "1,000.00 EUR"."""
    exponent = _EXPONENTS.get(currency.upper(), 2)
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**exponent)
    text = f"{major:,}"
    if exponent:
        text += f".{minor:0{exponent}d}"
    return f"{sign}{text} {currency.upper()}"


def mask_account_number(number: str) -> str:
    """Show only the last four characters of an account number."""
    return f"•••• {number[-4:]}" if len(number) > 4 else number


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def minor_to_decimal(amount_minor: int, currency: str) -> str:
    """The plain decimal string of an amount in minor units: (125050, "EUR") -> "1250.50"."""
    from decimal import Decimal

    digits = exponent(currency)
    return str(Decimal(amount_minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def to_minor(amount: str, currency: str) -> int:
    """Parse a decimal string ("50", "1250.5") into integer minor units of `currency`.

    Raises ValueError for anything that is not a plain non-negative decimal with no more
    fraction digits than the currency has.
    """
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"not an amount: {amount!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"too many decimal places for {currency}: {amount!r}")
    return int(scaled)
