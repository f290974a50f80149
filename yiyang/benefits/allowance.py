"""The service allowance balance (服务补贴余额) as benefits shows it, without importing the services app.

A programme paid as a voucher (服务补贴) is not paid to a bank: approving its roll credits the lines to the
elders' allowances (`signals.roll_approved`; the services app keeps that ledger and spends it on orders).
What is left of a month's allowance is the services app's to say. To show it on the benefits pages (the
family's benefits page, the elder page's section), the domain that keeps the ledger registers a reader in its
AppConfig.ready():

    from yiyang.benefits.allowance import BALANCE_READERS
    BALANCE_READERS.append(selectors.allowance_totals_by_elder)
    # (elders, month) -> {elder id: {"credited", "debited", "balance", …}}, one query for all of them

Until one is registered, the pages show what benefits itself knows: the amounts credited.
"""

BALANCE_READERS: list = []


def balances(elders, month) -> dict:
    """The elders' allowances for the month of `month` from the first registered reader ({elder id: totals}),
    or {} if there is none. A reader answers for several elders at once, so a page of elders reads once."""
    for reader in BALANCE_READERS:
        found = reader(list(elders), month)
        if found is not None:
            return found
    return {}


def balance(elder, month) -> dict | None:
    """The elder's allowance for the month of `month` from the registered reader, or None if there is none."""
    return balances([elder], month).get(elder.pk)
