"""A small real OpenID Connect provider for the sign-in tests (django-oauth-toolkit).

Its own Django project, run in a subprocess by ``tests/accounts/provider.py`` on the loopback
interface: authorization-code flow with PKCE, RS256 ID tokens signed by a key generated at
start, the userinfo and JWKS endpoints, and RP-initiated logout. Its users and their
``registry_roles`` / ``groups`` claims come from the environment (``PROVIDER_USERS``).
"""
