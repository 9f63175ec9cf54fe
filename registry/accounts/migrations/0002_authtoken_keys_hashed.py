"""The API keys issued before named tokens (DRF's authtoken, one per user, stored in clear)
become named tokens, stored hashed: the same keys keep working for the clients that hold
them, with every scope and no expiry, as before; the clear keys are then deleted.
Frozen: the hashing and the scopes are written here, not imported."""

import hashlib

from django.db import migrations


def carry_over(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in Token.objects.all():
        ApiToken.objects.create(
            user_id=token.user_id,
            name="API token (before named tokens)",
            prefix=token.key[:8],
            key_hash=hashlib.sha256(token.key.encode()).hexdigest(),
            scopes="read export write",
            expires_at=None,
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
