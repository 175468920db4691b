"""An account's holdings: the first of them with the account, all of them a page at a time."""

from decimal import Decimal

from django.utils import timezone
from stdnum import isin as stdnum_isin

from hub.api.participants import HOLDINGS_INLINE
from hub.registry.models import CSD, Holding, SecuritiesAccount, Security

from ..settlement.messages import STRATE_ACCOUNT

OWN = "DEMARUMM-OWN"


def _isin(n: int) -> str:
    body = f"RU{n:09d}"
    return body + stdnum_isin.calc_check_digit(body)


def give_holdings(number: str, count: int) -> list[str]:
    """``count`` more securities held in account ``number``: their ISINs, in order."""
    nsd = CSD.objects.get(code="NSD")
    securities = Security.objects.bulk_create(
        Security(isin=_isin(n), issuer_csd=nsd, description=f"bond {n}") for n in range(count)
    )
    account = SecuritiesAccount.objects.get(number=number)
    Holding.objects.bulk_create(
        Holding(account=account, security=s, quantity=Decimal(n + 1), as_of=timezone.now())
        for n, s in enumerate(securities)
    )
    return sorted(s.isin for s in securities)


def holdings_in_list(client, number: str) -> dict:
    return next(a for a in client.get("/api/v1/accounts/").json() if a["number"] == number)


def test_an_account_with_few_holdings_lists_them_all_and_says_so(nsd_broker):
    account = holdings_in_list(nsd_broker, OWN)
    isins = [h["isin"] for h in account["holdings"]]
    assert isins and isins == sorted(isins)
    assert account["holdings_complete"] is True
    assert nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/").json() == account["holdings"]


def test_an_account_with_many_holdings_lists_the_first_and_pages_through_all(nsd_broker):
    before = [h["isin"] for h in holdings_in_list(nsd_broker, OWN)["holdings"]]
    added = give_holdings(OWN, HOLDINGS_INLINE + 5)
    every = sorted(before + added)

    account = holdings_in_list(nsd_broker, OWN)
    assert [h["isin"] for h in account["holdings"]] == every[:HOLDINGS_INLINE]
    assert account["holdings_complete"] is False
    # the other account of the same page keeps all of its own
    assert holdings_in_list(nsd_broker, "DEMARUMM-CLIENT")["holdings_complete"] is True

    seen, after = [], ""
    while True:
        query = f"?limit=40&after={after}" if after else "?limit=40"
        page = nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/{query}").json()
        if not page:
            break
        seen += [h["isin"] for h in page]
        after = page[-1]["isin"]
    assert seen == every
    assert [h["isin"] for h in nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/?limit=1").json()] == every[
        :1
    ]
    page = nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/?after={added[0][:-1]}&limit=1").json()
    assert page == [{"isin": added[0], "quantity": "1.000000", "as_of": page[0]["as_of"]}]


def test_another_participants_account_or_an_unknown_one_is_not_found(nsd_broker, strate_broker):
    assert strate_broker.get(f"/api/v1/accounts/{OWN}/holdings/").status_code == 404
    assert nsd_broker.get(f"/api/v1/accounts/{STRATE_ACCOUNT}/holdings/").status_code == 404
    assert nsd_broker.get("/api/v1/accounts/NO-SUCH/holdings/").status_code == 404
    assert nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/").status_code == 200


def test_bad_holdings_parameters_get_a_400_that_names_them(nsd_broker):
    for query in ("limit=0", "limit=501", "limit=x", "after=%00", f"after={'X' * 13}"):
        response = nsd_broker.get(f"/api/v1/accounts/{OWN}/holdings/?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json(), query


def test_holdings_need_a_token(client, demo):
    response = client.get(f"/api/v1/accounts/{OWN}/holdings/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
