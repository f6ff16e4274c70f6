import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_pages_need_a_login(client):
    response = client.get(reverse("pipelines:list"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
