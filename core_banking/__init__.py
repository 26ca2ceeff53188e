"""core_banking: customers, accounts and the double-entry ledger behind the assistant."""
