"""Worked examples of the default ruleset, end to end over the HTTP API, on both databases."""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, reconcile
from zentra.kit.db import Database

HEADER = "row_id,provider_reference,type,amount,currency,booked_at,fee,counterparty,group_key"


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _matches(client: ApiClient, run_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(f"/reconciliation/runs/{run_id}/matches").json()["data"]
    return data


def _exceptions(client: ApiClient, run_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(
        "/reconciliation/exceptions", params={"run_id": run_id}
    ).json()["data"]
    return data


def test_payout_equals_the_sum_of_its_charges_net_of_fees(db: Database, client: ApiClient) -> None:
    import_movements(
        client,
        [
            {**movement("mv_1", "pi_1", 10000), "metadata": {"payout_id": "po_77"}},
            {**movement("mv_2", "pi_2", 25050), "metadata": {"payout_id": "po_77"}},
            {**movement("mv_3", "re_3", 5000, kind="refund"), "metadata": {"payout_id": "po_77"}},
            {**movement("fee_1", "fe_1", 1050, kind="fee"), "metadata": {"payout_id": "po_77"}},
        ],
    )
    run = reconcile(client, db, _csv("r1,po_77,payout,-290.00,EUR,2026-04-26,,,"))
    (match,) = _matches(client, run["id"])
    assert match["rule"] == "payout_by_group_key"
    assert match["kind"] == "1:N"
    assert sorted(match["movement_ids"]) == ["fee_1", "mv_1", "mv_2", "mv_3"]
    assert match["deltas"]["amount"] == 0
    assert _exceptions(client, run["id"]) == []


def test_payout_short_of_its_charges_is_an_amount_mismatch(db: Database, client: ApiClient) -> None:
    import_movements(
        client,
        [
            {**movement("mv_1", "pi_1", 10000), "metadata": {"payout_id": "po_78"}},
            {**movement("mv_2", "pi_2", 20000), "metadata": {"payout_id": "po_78"}},
        ],
    )
    run = reconcile(client, db, _csv("r1,po_78,payout,-299.00,EUR,2026-04-26,,,"))
    assert _matches(client, run["id"]) == []
    (exception,) = _exceptions(client, run["id"])
    assert exception["type"] == "amount_mismatch"
    detail = client.get(f"/reconciliation/exceptions/{exception['id']}").json()
    assert sorted(detail["evidence"]["details"]["candidates"]) == ["mv_1", "mv_2"]


def test_two_equal_candidates_make_an_ambiguous_match_not_a_guess(
    db: Database, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 4242), movement("mv_2", "pi_2", 4242)])
    run = reconcile(client, db, _csv("r1,,charge,42.42,EUR,2026-04-26,,,"))
    assert _matches(client, run["id"]) == []
    (exception,) = _exceptions(client, run["id"])
    assert exception["type"] == "ambiguous_match"
    detail = client.get(f"/reconciliation/exceptions/{exception['id']}").json()
    assert detail["evidence"]["details"]["candidates"] == ["mv_1", "mv_2"]


def test_the_counterparty_tells_two_equal_amounts_apart(db: Database, client: ApiClient) -> None:
    import_movements(
        client,
        [
            {**movement("mv_1", "pi_1", 4242), "metadata": {"counterparty": "Acme GmbH Berlin"}},
            {**movement("mv_2", "pi_2", 4242), "metadata": {"counterparty": "Initech Ltd"}},
        ],
    )
    run = reconcile(client, db, _csv("r1,,charge,42.42,EUR,2026-04-26,,ACME GmbH,"))
    (match,) = _matches(client, run["id"])
    assert (match["rule"], match["movement_ids"]) == ("counterparty_fuzzy", ["mv_1"])
    (missing,) = _exceptions(client, run["id"])
    assert (missing["type"], missing["movement_id"]) == ("missing_from_settlement", "mv_2")


def test_unmatched_row_explains_its_nearest_candidates(db: Database, client: ApiClient) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1990), movement("mv_2", "pi_2", 2010)])
    run = reconcile(
        client,
        db,
        _csv(
            "r1,pi_1,charge,19.90,EUR,2026-04-26,,,", "r2,pi_ghost,charge,20.00,EUR,2026-04-26,,,"
        ),
    )
    ghost = next(e for e in _exceptions(client, run["id"]) if e["provider_reference"] == "pi_ghost")
    detail = client.get(f"/reconciliation/exceptions/{ghost['id']}").json()
    nearest = detail["evidence"]["details"]["nearest"]
    assert [(c["id"], c["amount_delta"]) for c in nearest] == [("mv_2", -10)]
