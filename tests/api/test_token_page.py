"""The API tokens settings page: create (shown once), list, revoke; HTMX and plain POSTs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import check_token, issue_token

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_the_page_needs_a_login(client):
    response = client.get("/settings/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_create_shows_the_token_once_and_stores_only_its_hash(auth_client, user):
    response = auth_client.post("/settings/tokens/", {"name": "CI", "role": "write"}, headers=HTMX)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "<html" not in body  # the HTMX answer is the tokens part alone
    token = ApiToken.objects.get(user=user)
    start = body.index(f"ydp_{token.prefix}_")
    text = body[start : start + 56]
    assert check_token(text) == token and token.role == "write"
    again = auth_client.get("/settings/tokens/").content.decode()
    assert text not in again and f"ydp_{token.prefix}_…" in again


def test_bad_input_is_shown_on_the_form(auth_client):
    response = auth_client.post("/settings/tokens/", {"name": "", "role": "read"})
    assert "Give the token a name." in response.content.decode()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = auth_client.post(
        "/settings/tokens/", {"name": "x", "role": "read", "expires_on": yesterday}
    )
    assert "Choose a day after today." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoke_stops_the_token_and_only_the_owner_can(auth_client, user, django_user_model):
    token, text = issue_token(user, name="CI")
    response = auth_client.post(f"/settings/tokens/{token.pk}/revoke/", headers=HTMX)
    assert response.status_code == 200 and "revoked" in response.content.decode()
    assert check_token(text) is None
    other = django_user_model.objects.create_user("bob", password="pw-bob-123")
    theirs, their_text = issue_token(other, name="bob's")
    response = auth_client.post(f"/settings/tokens/{theirs.pk}/revoke/")
    assert response.status_code == 404 and check_token(their_text) is not None


def test_the_list_shows_only_mine_in_fixed_queries(auth_client, user, django_user_model):
    other = django_user_model.objects.create_user("bob", password="pw-bob-123")
    issue_token(other, name="bob's secret CI")
    for i in range(3):
        issue_token(user, name=f"mine {i}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        body = auth_client.get("/settings/tokens/").content.decode()
    assert "mine 2" in body and "bob's secret CI" not in body
    for i in range(3, 8):
        issue_token(user, name=f"mine {i}")
    with CaptureQueriesContext(connection) as more:
        auth_client.get("/settings/tokens/")
    assert len(few) == len(more)
