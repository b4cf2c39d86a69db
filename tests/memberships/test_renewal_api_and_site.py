"""The renewal endpoint's refusals (every bad input a 4xx in the error shape), its place in
the OpenAPI schema, the renewal page and its include, and the e-mails in both languages."""

import pytest
from django.test import Client
from django.utils import translation

from memberships.models import Agreement
from memberships.services.renewal_mail import renewal_mail_render
from tests.factories import UserFactory
from tests.memberships.renewal_support import make_membership, make_plan, today_beijing


@pytest.fixture
def learner_api(api_client, membership):
    api_client.force_authenticate(membership.learner)
    return api_client


def url(membership_id) -> str:
    return f"/api/v1/memberships/{membership_id}/renewal/"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"on": "maybe"}, 400, "invalid"),
        ({"on": None}, 400, "invalid"),
        ({"on": [True]}, 400, "invalid"),
        ({"on": True, "channel": "sandbox"}, 400, "invalid"),  # a payment channel, not a withholding one
        ({"on": True, "channel": 7}, 400, "invalid"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(learner_api, membership, body, status, code):
    response = learner_api.post(url(membership.pk), body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Agreement.objects.exists()


def test_not_json_is_a_400(learner_api, membership):
    response = learner_api.post(url(membership.pk), b"{on: yes", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("membership_id", ["0", "99999999", "99999999999999999999999", "abc", "-1"])
def test_unknown_memberships_are_404s(learner_api, membership_id):
    response = learner_api.post(f"/api/v1/memberships/{membership_id}/renewal/", {"on": True}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("membership_not_found", "not_found")


def test_someone_elses_membership_is_a_404(api_client, membership):
    api_client.force_authenticate(UserFactory())
    response = api_client.post(url(membership.pk), {"on": False}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "membership_not_found"


def test_without_credentials_it_is_refused(api_client, membership):
    assert api_client.post(url(membership.pk), {"on": True}, format="json").status_code in (401, 403)


def test_state_conflicts_are_409s(api_client, db):
    membership = make_membership(plan=make_plan(renewal_allowed=False))
    api_client.force_authenticate(membership.learner)
    response = api_client.post(url(membership.pk), {"on": True}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "renewal_not_offered"


def test_turning_on_answers_the_signing_to_open(learner_api, membership):
    """The sandbox's signing link is signed by kpay, no call needed (it points at a closed
    port in these tests); the default channel is the first withholding channel."""
    response = learner_api.post(url(membership.pk), {"on": True}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "signing"
    assert response.json()["channel"] == "sandbox_withholding"


def test_the_schema_documents_the_endpoint_and_its_errors(api_client, db):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/memberships/{membership_id}/renewal/"]["post"]
    assert {"200", "400", "404", "409", "503"} <= set(operation["responses"])
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    body = schema["components"]["schemas"]["RenewalInput"]
    assert body["required"] == ["on"]


def test_the_renewal_page_offers_turning_it_on_and_shows_the_signing(db, membership):
    client = Client()
    client.force_login(membership.learner)
    page = client.get(f"/my/memberships/{membership.pk}/renewal/").content.decode()
    assert 'data-renewal-state="off"' in page and 'value="sandbox_withholding"' in page

    response = client.post(
        f"/my/memberships/{membership.pk}/renewal/",
        {"on": "1", "channel": "sandbox_withholding"},
        follow=True,
    )

    page = response.content.decode()
    assert 'data-renewal-state="signing"' in page and "<svg" in page
    agreement = Agreement.objects.get()
    assert agreement.action["code_url"].replace("&", "&amp;") in page


def test_the_renewal_page_is_the_learners_own(db, membership):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(f"/my/memberships/{membership.pk}/renewal/").status_code == 404
    assert client.post(f"/my/memberships/{membership.pk}/renewal/", {"on": "1"}).status_code == 404
    anonymous = Client().get(f"/my/memberships/{membership.pk}/renewal/")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


def test_a_bad_toggle_on_the_site_is_a_message_not_an_error(db, membership):
    client = Client()
    client.force_login(membership.learner)
    response = client.post(f"/my/memberships/{membership.pk}/renewal/", {"on": "yes"}, follow=True)
    assert response.status_code == 200 and not Agreement.objects.exists()
    response = client.post(
        f"/my/memberships/{membership.pk}/renewal/", {"on": "1", "channel": "nope"}, follow=True
    )
    assert response.status_code == 200 and not Agreement.objects.exists()


@pytest.mark.parametrize(
    ("language", "subject"),
    [("en", 'Your membership "Yearly" renews soon'), ("zh-hans", "您的会员“Yearly”即将自动续费")],
)
def test_renewal_emails_are_translated(db, language, subject):
    membership = make_membership(plan=make_plan(title="Yearly"))
    with translation.override(language):
        rendered = renewal_mail_render(
            "notice",
            {
                "membership": membership,
                "plan": membership.plan,
                "amount": 9900,
                "charge_on": today_beijing(),
                "channel": "Sandbox",
            },
        )
    assert rendered[0] == subject
    assert "¥99.00" in rendered[1]


@pytest.mark.parametrize("kind", ["notice", "succeeded", "failed", "lapsed"])
def test_every_renewal_email_has_both_languages(db, kind):
    membership = make_membership()
    context = {
        "membership": membership,
        "plan": membership.plan,
        "amount": 9900,
        "cap": 9900,
        "charge_on": today_beijing(),
        "next_attempt_on": today_beijing(),
        "grace_until": membership.ends_at,
        "access_ends": membership.ends_at,
        "period_starts_at": membership.ends_at,
        "order_no": "K1",
        "reason": "NOT_ENOUGH",
        "reason_code": "charge_failed",
        "channel": "Sandbox",
    }
    with translation.override("en"):
        english = renewal_mail_render(kind, context)
    with translation.override("zh-hans"):
        chinese = renewal_mail_render(kind, context)
    assert english[0] != chinese[0] and english[1] != chinese[1]
    assert all(text.strip() for text in (*english, *chinese))
