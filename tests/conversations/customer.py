"""A demo customer's state as core_banking's API shows it (CONTRACT.md), to compare the
effect of a conversation with what the customer asked for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.conversations.spec import Effect


@dataclass(frozen=True)
class CustomerState:
    balances: dict[str, int]  # account type -> balance_minor
    transfer_ids: frozenset[str]
    payee_names: tuple[str, ...]
    card_statuses: dict[str, str]  # card id -> status
    gift_cards: dict[str, int]  # gift card id -> balance_minor


class CoreBanking:
    """core_banking's /v1 API with one customer's token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _data(self, path: str, **params: int) -> list[dict]:
        response = await self.client.get(path, params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    async def state(self) -> CustomerState:
        accounts = await self._data("/v1/accounts")
        transfers = await self._data("/v1/transfers", limit=100)
        payees = await self._data("/v1/payees")
        cards = await self._data("/v1/cards")
        gift_cards = await self._data("/v1/gift-cards")
        return CustomerState(
            balances={a["type"]: a["balance_minor"] for a in accounts},
            transfer_ids=frozenset(t["id"] for t in transfers),
            payee_names=tuple(p["name"] for p in payees),
            card_statuses={c["id"]: c["status"] for c in cards},
            gift_cards={g["id"]: g["balance_minor"] for g in gift_cards},
        )

    async def buy_gift_card(self, amount_minor: int) -> tuple[str, str]:
        """Set-up for a conversation about a gift card: (its id, its code)."""
        accounts = await self._data("/v1/accounts")
        checking = next(a for a in accounts if a["type"] == "checking")
        response = await self.client.post(
            "/v1/gift-cards",
            json={
                "from_account_id": checking["id"],
                "amount_minor": amount_minor,
                "currency": "EUR",
                "recipient_name": "Lena",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        response.raise_for_status()
        body = response.json()
        return str(body["id"]), str(body["code"])


def differences(
    expected: Effect, start: CustomerState, now: CustomerState, gift_card_id: str | None
) -> list[str]:
    """Each way `now` differs from `start` other than `expected` says (empty: as expected)."""
    problems = []
    if expected.balance_change is not None:
        change = {k: now.balances[k] - start.balances.get(k, 0) for k in now.balances}
        wanted = {k: expected.balance_change.get(k, 0) for k in change}
        if change != wanted:
            problems.append(f"balance change {change}, expected {wanted}")
    if expected.transfers_created is not None:
        created = len(now.transfer_ids - start.transfer_ids)
        if created != expected.transfers_created:
            problems.append(f"{created} transfer(s) created, expected {expected.transfers_created}")
    if expected.payee_count_change is not None:
        change_count = len(now.payee_names) - len(start.payee_names)
        if change_count != expected.payee_count_change:
            problems.append(
                f"payee count changed by {change_count} (payees now {list(now.payee_names)}), "
                f"expected {expected.payee_count_change}"
            )
    names = [n.lower() for n in now.payee_names]
    for fragment in expected.payee_exists:
        if not any(fragment.lower() in n for n in names):
            problems.append(f"no payee named like {fragment!r} in {list(now.payee_names)}")
    for fragment in expected.payee_absent:
        if any(fragment.lower() in n for n in names):
            problems.append(f"a payee named like {fragment!r} is still in {list(now.payee_names)}")
    if expected.card_status is not None:
        original = next(iter(start.card_statuses))  # demo customers start with one card
        status = now.card_statuses.get(original)
        if status != expected.card_status:
            problems.append(f"card status {status!r}, expected {expected.card_status!r}")
    if expected.gift_cards_bought is not None:
        bought = len(set(now.gift_cards) - set(start.gift_cards))
        if bought != expected.gift_cards_bought:
            problems.append(f"{bought} gift card(s) bought, expected {expected.gift_cards_bought}")
    if expected.gift_card_balance_minor is not None and gift_card_id is not None:
        balance = now.gift_cards.get(gift_card_id)
        if balance != expected.gift_card_balance_minor:
            problems.append(
                f"gift card balance {balance}, expected {expected.gift_card_balance_minor}"
            )
    return problems
