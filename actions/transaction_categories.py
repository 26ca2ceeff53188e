"""Spending categories, read from the merchant names on card payments and transfers
(core_banking stores no merchant category codes), and the merchants known by name."""

from actions.core_banking_api import Transaction

# Spending categories by the merchant names on card payments and transfers. Keyword
# matching on the description is what this bank's data allows (no merchant category
# codes are stored); the words a customer uses map to one category.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "groceries": (
        "tesco",
        "lidl",
        "aldi",
        "rewe",
        "edeka",
        "sainsbury",
        "carrefour",
        "spar",
        "migros",
        "coop",
        "asda",
        "morrisons",
        "waitrose",
        "supermarket",
    ),
    "fuel": ("shell", "bp ", "esso", "aral", "totalenergies", "texaco", "petrol", "fuel"),
    "travel": (
        "booking.com",
        "airbnb",
        "ryanair",
        "easyjet",
        "lufthansa",
        "expedia",
        "hotel",
        "airline",
        "deutsche bahn",
        "trainline",
    ),
    "subscriptions": ("netflix", "spotify", "disney", "apple.com", "prime video", "youtube"),
    "online shopping": ("amazon", "ebay", "zalando", "etsy", "aliexpress"),
    "cash withdrawals": ("atm", "cash withdrawal"),
    "utilities": ("electricity", "energy", "gas bill", "water", "utility", "internet"),
    "rent": ("rent", "housing", "landlord"),
    "home and furniture": ("ikea", "furniture", "hardware"),
}
CATEGORY_WORDS = {
    "groceries": "groceries",
    "grocery": "groceries",
    "supermarket": "groceries",
    "supermarkets": "groceries",
    "food": "groceries",
    "fuel": "fuel",
    "petrol": "fuel",
    "gas": "fuel",
    "diesel": "fuel",
    "travel": "travel",
    "travelling": "travel",
    "hotels": "travel",
    "hotel": "travel",
    "flights": "travel",
    "holidays": "travel",
    "holiday": "travel",
    "trips": "travel",
    "subscriptions": "subscriptions",
    "streaming": "subscriptions",
    "shopping": "online shopping",
    "online": "online shopping",
    "cash": "cash withdrawals",
    "atm": "cash withdrawals",
    "withdrawals": "cash withdrawals",
    "utilities": "utilities",
    "bills": "utilities",
    "electricity": "utilities",
    "energy": "utilities",
    "rent": "rent",
    "housing": "rent",
    "furniture": "home and furniture",
}
# Merchants known by name (one word), found in a question without "at" / "on".
_NOT_MERCHANTS = frozenset({"airline", "hardware", "internet", "landlord", "utility", "water"})
KNOWN_MERCHANTS = frozenset(
    k.strip()
    for keywords in CATEGORY_KEYWORDS.values()
    for k in keywords
    if " " not in k.strip() and "." not in k and k.strip() not in {*CATEGORY_WORDS, *_NOT_MERCHANTS}
)


def in_category(item: Transaction, category: str) -> bool:
    """The payment's description or counterparty names one of the category's merchants."""
    name = item.counterparty.name
    text = " ".join(v for v in (item.description, name) if v).lower() + " "
    return any(keyword in text for keyword in CATEGORY_KEYWORDS[category])
