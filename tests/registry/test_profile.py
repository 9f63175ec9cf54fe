"""The user's profile: interface language (over the browser's) and the digest opt-in."""

from __future__ import annotations

from django.urls import reverse

from registry.models import Profile


def test_the_browser_language_is_used_when_the_profile_has_none(client, radiologist):
    client.force_login(radiologist)
    response = client.get(reverse("case-create"), HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "fr"
    assert "Nouveau cas" in response.content.decode()


def test_the_profile_language_wins_over_the_browser(client, radiologist):
    Profile.objects.create(user=radiologist, language="en")
    client.force_login(radiologist)
    response = client.get(reverse("case-create"), HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "en"
    assert "New case" in response.content.decode()


def test_the_profile_page_saves_language_opt_in_and_email(client, radiologist):
    client.force_login(radiologist)
    response = client.post(
        reverse("profile"), {"language": "fr", "digest_opt_in": "on", "email": "rad@example.org"}
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=radiologist)
    assert (profile.language, profile.digest_opt_in) == ("fr", True)
    radiologist.refresh_from_db()
    assert radiologist.email == "rad@example.org"
    assert client.get(reverse("profile"))["Content-Language"] == "fr"


def test_the_digest_needs_an_email(client, radiologist):
    client.force_login(radiologist)
    response = client.post(reverse("profile"), {"language": "", "digest_opt_in": "on", "email": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["The digest needs an e-mail address."]


def test_the_language_switcher_keeps_the_choice_and_returns_to_the_page(client, radiologist):
    client.force_login(radiologist)
    response = client.post(reverse("profile-language"), {"language": "fr", "next": "/worklist/"})
    assert response.status_code == 302 and response.url == "/worklist/"
    assert Profile.objects.get(user=radiologist).language == "fr"


def test_the_language_switcher_never_redirects_off_site(client, radiologist):
    client.force_login(radiologist)
    response = client.post(
        reverse("profile-language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response.url == reverse("home")
