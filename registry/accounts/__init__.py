"""Accounts: sign-in (password, OpenID Connect), the second factor, idle sessions, login
history, scoped API tokens, and department membership managed in the registry's own pages.

Writes go through ``registry.accounts.services``; every change to an account is recorded
as an ``AccountEvent`` (the account side of the audit trail).
"""
