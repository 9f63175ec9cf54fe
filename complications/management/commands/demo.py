"""Create the demo department, one user per role, and the reference study's cohort."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from complications.demo import ensure_demo


class Command(BaseCommand):
    help = (
        "Create the demo department, users (printed with their passwords) and cohort. Idempotent."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with DEBUG=false (the demo passwords are public)",
        )

    def handle(self, *args, allow_production: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "The demo users have public passwords: refusing with DEBUG=false "
                "(use --allow-production for a throw-away server)."
            )
        # A database just migrated holds the catalogue frozen in the migrations, not the newest.
        call_command("registry_deploy", stdout=self.stdout, stderr=self.stderr)
        department, logins, counts = ensure_demo()
        if counts:
            self.stdout.write(
                f"Demo cohort created in {department.name}: {counts['patients']} patients, "
                f"{counts['procedures']} procedures, {counts['fractures']} fractures."
            )
        else:
            self.stdout.write(f"Demo cohort already present in {department.name}; nothing added.")
        self.stdout.write("\nLog in with:")
        width = max(len(u) for u, _, _ in logins)
        for username, password, description in logins:
            self.stdout.write(f"  {username:<{width}}  password: {password:<18} {description}")
