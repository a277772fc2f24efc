"""The question templates on the ``finance`` database (clients, accounts and transactions)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import CITIES, YEARS, Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "finance_running_balance",
        "finance",
        ("window", "order_limit"),
        (
            "List the transactions of account {account} with id, date, amount and the running "
            "total of amounts (2 decimals), in date order (ties by id).",
            "For account {account}: every transaction's id, date, amount and cumulative sum of "
            "amounts so far (rounded to 2 decimals), ordered by date then id.",
            "Running total of account {account}'s transactions (id, txn_date, amount, running "
            "sum to 2 decimals), chronological, ties by id.",
        ),
        "SELECT id, txn_date, amount, ROUND(SUM(amount) OVER (ORDER BY txn_date, id), 2) "
        "AS running FROM transactions WHERE account_id = {account} ORDER BY txn_date, id",
        {"account": tuple(str(i) for i in range(1, 41))},
    ),
    Template(
        "finance_segment_kinds",
        "finance",
        ("join", "aggregate"),
        (
            "For clients in the {segment} segment, what is the total transaction amount per "
            "kind (2 decimals)? Kind and total.",
            "Sum of transaction amounts by kind over accounts of {segment} clients (kind, total "
            "rounded to 2 decimals).",
            "Per transaction kind, the total amount (2 decimals) moved by {segment} clients.",
        ),
        "SELECT t.kind, ROUND(SUM(t.amount), 2) AS total FROM transactions t "
        "JOIN accounts a ON a.id = t.account_id JOIN clients c ON c.id = a.client_id "
        "WHERE c.segment = '{segment}' GROUP BY t.kind",
        {"segment": ("retail", "premium", "business")},
    ),
    Template(
        "finance_big_withdrawals",
        "finance",
        ("filter", "date", "order_limit"),
        (
            "What were the {n} largest withdrawals of {year}? Give id, account id and amount, "
            "largest first (amounts are negative; ties by id).",
            "The {n} biggest {year} withdrawals (most negative amount first, then by id): id, "
            "account_id, amount.",
            "Show id, account id and amount of the {n} largest withdrawals made in {year} (most "
            "negative first, ties by id).",
        ),
        "SELECT id, account_id, amount FROM transactions WHERE kind = 'withdrawal' "
        "AND substr(txn_date, 1, 4) = '{year}' ORDER BY amount, id LIMIT {n}",
        {"n": ("3", "5"), "year": YEARS},
    ),
    Template(
        "finance_merchant_totals",
        "finance",
        ("null", "aggregate"),
        (
            "Total {kind} amount per merchant, with missing merchants grouped as 'unknown' (2 "
            "decimals). Merchant and total.",
            "Sum the amounts of {kind} transactions by merchant; use 'unknown' where the "
            "merchant is NULL. Round to 2 decimals.",
            "Per merchant (NULL merchants reported as 'unknown'), the total of {kind} amounts, "
            "to 2 decimals.",
        ),
        "SELECT COALESCE(merchant, 'unknown') AS merchant, ROUND(SUM(amount), 2) AS total "
        "FROM transactions WHERE kind = '{kind}' GROUP BY COALESCE(merchant, 'unknown')",
        {"kind": ("deposit", "withdrawal", "payment", "transfer")},
    ),
    Template(
        "finance_rich_clients",
        "finance",
        ("nested", "having", "join"),
        (
            "Which clients from {city} hold more in total balance than the average account "
            "balance? Name and total balance (2 decimals).",
            "Name and summed balance (2 decimals) of {city} clients whose accounts total above "
            "the mean balance of all accounts.",
            "List {city} clients (name, total balance rounded to cents) with total balance over "
            "the overall average account balance.",
        ),
        "SELECT c.name, ROUND(SUM(a.balance), 2) AS total FROM clients c JOIN accounts a "
        "ON a.client_id = c.id WHERE c.city = '{city}' GROUP BY c.id, c.name "
        "HAVING SUM(a.balance) > (SELECT AVG(balance) FROM accounts)",
        {"city": CITIES},
    ),
    Template(
        "finance_record_deposit",
        "finance",
        ("insert",),
        (
            "Record a deposit of {amount} into account {account} on {date} (no merchant, next "
            "free transaction id).",
            "Insert a new deposit transaction: account {account}, date {date}, amount {amount}, "
            "merchant unknown (NULL), id = the next free id.",
            "Add a {amount} deposit to account {account} dated {date}; merchant NULL, next id.",
        ),
        "INSERT INTO transactions (id, account_id, txn_date, amount, kind, merchant) "
        "VALUES ((SELECT MAX(id) + 1 FROM transactions), {account}, '{date}', {amount}, "
        "'deposit', NULL)",
        {
            "amount": ("250.0", "1000.0"),
            "account": ("3", "8", "12"),
            "date": ("2025-01-15", "2025-02-01"),
        },
        kind="write",
    ),
)
