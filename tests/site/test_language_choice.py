"""A learner's chosen language: the header's buttons and the profile keep it on a
logged-in learner's profile (for the e-mails sent outside a request) and in Django's
language cookie (for the pages); an anonymous visitor gets the cookie only."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from accounts.languages import remember
from accounts.models import Profile
from core.languages import is_language, language_of

COOKIE = settings.LANGUAGE_COOKIE_NAME
PASSWORD = "pw-learner-123"  # tests.factories.UserFactory's


def stored(user) -> str | None:
    return Profile.objects.filter(user=user).values_list("language", flat=True).first()


def profile_form(learner, **changes) -> dict:
    return {
        "first_name": "",
        "last_name": "",
        "email": learner.email,
        "time_zone": "Asia/Shanghai",
        **changes,
    }


def test_the_header_buttons_keep_a_logged_in_learners_choice(site, learner):
    assert reverse("set_language") == "/i18n/setlang/"  # where Django's include had it
    response = site.post(reverse("set_language"), {"language": "en", "next": "/my/orders/"})
    assert response.status_code == 302 and response.url == "/my/orders/"
    assert response.cookies[COOKIE].value == "en"
    assert stored(learner) == "en"

    site.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert stored(learner) == "zh-hans"
    assert site.get(reverse("profile")).context["form"]["language"].value() == "zh-hans"


def test_an_anonymous_visitors_choice_is_a_cookie_only(client, learner):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302 and response.cookies[COOKIE].value == "en"
    assert not Profile.objects.exists()
    assert client.get("/").content.decode().startswith('<!doctype html>\n<html lang="en">')


@pytest.mark.parametrize("code", ["xx", "", "../../etc", "<script>"])
def test_a_language_the_site_doesnt_speak_changes_nothing(site, learner, code):
    remember(learner, "zh-hans")
    response = site.post(reverse("set_language"), {"language": code, "next": "/"})
    assert response.status_code == 302 and COOKIE not in response.cookies
    assert stored(learner) == "zh-hans"
    assert site.get(reverse("set_language")).status_code == 302  # a GET changes nothing either
    assert stored(learner) == "zh-hans"


def test_a_regional_variant_is_kept_as_the_language_the_pages_are_in(site, learner):
    response = site.post(reverse("set_language"), {"language": "en-gb", "next": "/"})
    assert response.cookies[COOKIE].value == "en-gb"  # Django's cookie, as it was
    assert stored(learner) == "en"
    assert site.get("/")["Content-Language"] == "en"
    site.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})
    assert stored(learner) == "zh-hans" == site.get("/")["Content-Language"]


def test_the_profile_keeps_the_language_and_sets_the_cookie(site, learner):
    page = site.get(reverse("profile"))
    assert page.context["form"]["language"].value() == ""
    assert "The site&#x27;s language (简体中文)" in page.content.decode()

    saved = site.post(reverse("profile"), profile_form(learner, language="zh-hans"))
    assert saved.status_code == 302 and saved.cookies[COOKIE].value == "zh-hans"
    assert stored(learner) == "zh-hans"
    # The next page is in the chosen language, whatever the browser asks for (English here).
    after = site.get(saved.url)
    assert after["Content-Language"] == "zh-hans"
    assert "个人资料已保存。" in after.content.decode()  # "Your profile was saved."

    back = site.post(reverse("profile"), profile_form(learner, language=""))
    assert stored(learner) == ""
    assert back.cookies[COOKIE].value == "" and back.cookies[COOKIE]["max-age"] == 0  # dropped
    assert site.get(back.url)["Content-Language"] == "en"  # the browser's again


def test_saving_the_profile_without_a_choice_leaves_the_cookie_alone(site, learner):
    site.post(reverse("set_language"), {"language": "en", "next": "/"})
    Profile.objects.filter(user=learner).update(language="")  # chosen before logging in, say
    saved = site.post(reverse("profile"), profile_form(learner, email="new@example.com", language=""))
    assert saved.status_code == 302 and COOKIE not in saved.cookies
    assert site.cookies[COOKIE].value == "en"


def test_an_unknown_language_on_the_profile_is_a_form_error(site, learner):
    refused = site.post(reverse("profile"), profile_form(learner, language="klingon"))
    assert refused.status_code == 200
    assert refused.context["form"].errors["language"] == ["Choose a language from the list."]
    assert COOKIE not in refused.cookies and stored(learner) is None


def test_language_of_is_the_choice_else_the_sites(learner, settings, django_assert_num_queries):
    assert language_of(learner) == "zh-hans"  # no profile
    assert language_of(AnonymousUser()) == language_of(None) == "zh-hans"
    remember(learner, "en")
    assert language_of(learner) == "en"
    settings.LANGUAGE_CODE = "en"
    remember(learner, "")
    assert language_of(get_user_model().objects.get(pk=learner.pk)) == "en"  # the site's, now English

    Profile.objects.filter(user=learner).update(language="zh-hans")
    loaded = get_user_model().objects.select_related("profile").get(pk=learner.pk)
    with django_assert_num_queries(0):
        assert language_of(loaded) == "zh-hans"

    Profile.objects.filter(user=learner).update(language="fr")  # no longer in LANGUAGES
    assert language_of(get_user_model().objects.get(pk=learner.pk)) == "en"
    assert is_language("en") and not is_language("EN") and not is_language("") and not is_language(None)
    with pytest.raises(ValueError):
        remember(learner, "fr")


def test_logging_in_on_a_new_browser_brings_the_chosen_language(client, learner):
    remember(learner, "en")
    response = client.post(reverse("login"), {"username": learner.username, "password": PASSWORD})
    assert response.status_code == 302 and response.cookies[COOKIE].value == "en"
    assert client.get("/").content.decode().startswith('<!doctype html>\n<html lang="en">')


def test_logging_in_without_a_chosen_language_leaves_the_browsers_cookie(client, learner):
    client.cookies[COOKIE] = "en"
    response = client.post(reverse("login"), {"username": learner.username, "password": PASSWORD})
    assert response.status_code == 302 and COOKIE not in response.cookies
    assert client.get("/").content.decode().startswith('<!doctype html>\n<html lang="en">')
