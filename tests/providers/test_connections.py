"""``/providers`` on both databases: creation with a secret shown once, listing, tenancy."""

from __future__ import annotations

import base64

from tests.conftest import make_tenant
from tests.fixtures.api import ApiClient
from tests.providers.conftest import ADYEN_DOCS_HMAC_KEY, count, create_connection
from zentra.kit.db import Database


def test_create_generates_a_standard_webhooks_secret(db: Database, client: ApiClient) -> None:
    created = create_connection(client, "stripe", name="rail_primary")
    assert created["id"].startswith("prv_")
    assert created["callback_url"] == f"/callbacks/{created['id']}"
    assert (created["name"], created["kind"]) == ("rail_primary", "stripe")
    secret = created["signing_secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert count(db, "audit_events", "action = 'provider_connection.created'") == 1


def test_get_and_list_never_show_the_secret(db: Database, client: ApiClient) -> None:
    created = create_connection(client, "sandbox")
    one = client.get(f"/providers/{created['id']}")
    assert one.status_code == 200
    assert "signing_secret" not in one.json()
    listed = client.get("/providers").json()
    assert [c["id"] for c in listed["data"]] == [created["id"]]
    assert all("signing_secret" not in c for c in listed["data"])


def test_adyen_key_is_given_not_generated(db: Database, client: ApiClient) -> None:
    missing = client.post("/providers", json={"name": "adyen", "kind": "adyen"})
    assert missing.status_code == 422
    not_hex = client.post(
        "/providers", json={"name": "adyen", "kind": "adyen", "signing_secret": "xyz"}
    )
    assert not_hex.status_code == 422
    given = create_connection(client, "adyen", secret=ADYEN_DOCS_HMAC_KEY)
    assert given["signing_secret"] == ADYEN_DOCS_HMAC_KEY


def test_invalid_requests(db: Database, client: ApiClient) -> None:
    create_connection(client, "stripe", name="rail")
    again = client.post("/providers", json={"name": "rail", "kind": "sandbox"})
    assert again.status_code == 409
    assert client.post("/providers", json={"name": "x", "kind": "paypal"}).status_code == 422
    bad_secret = client.post(
        "/providers",
        json={"name": "sw", "kind": "standard_webhooks", "signing_secret": "whsec_@@@"},
    )
    assert bad_secret.status_code == 422
    assert count(db, "provider_connections") == 1


def test_another_tenants_connection_is_not_found(db: Database, client: ApiClient) -> None:
    other = client.with_key(make_tenant(db, "globex").api_key)
    theirs = create_connection(other, "stripe")
    assert client.get(f"/providers/{theirs['id']}").status_code == 404
    assert client.get("/providers").json()["data"] == []
    assert client.with_key(None).get("/providers").status_code == 401
