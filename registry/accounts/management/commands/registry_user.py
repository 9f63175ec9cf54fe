"""``manage.py registry_user``: accounts for provisioning scripts, through the same services
as the pages (so every change is audited, naming ``--actor`` when given).

    registry_user create USERNAME --email E --department CODE --role ROLE [--password-stdin]
    registry_user invite EMAIL --department CODE --role ROLE
    registry_user set-role USERNAME ROLE
    registry_user add USERNAME --department CODE
    registry_user remove USERNAME --department CODE
    registry_user reset-2fa USERNAME
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.accounts import services
from registry.models import Department


class Command(BaseCommand):
    help = "Create, invite, change the role of, remove users, or reset their second factor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--actor", help="the administrator's user name, for the audit trail")
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--email", default="")
        create.add_argument("--department")
        create.add_argument("--role", choices=services.ROLES)
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (else: no local password, "
            "the user signs in through the identity provider)",
        )
        invite = sub.add_parser("invite")
        invite.add_argument("email")
        invite.add_argument("--department", required=True)
        invite.add_argument("--role", required=True, choices=services.ROLES)
        set_role = sub.add_parser("set-role")
        set_role.add_argument("username")
        set_role.add_argument("role", choices=services.ROLES)
        for name in ("add", "remove"):
            p = sub.add_parser(name)
            p.add_argument("username")
            p.add_argument("--department", required=True)
        reset = sub.add_parser("reset-2fa")
        reset.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._user(options["actor"]) if options["actor"] else None
        action = options["action"]
        try:
            if action == "create":
                password = sys.stdin.readline().rstrip("\n") if options["password_stdin"] else None
                services.user_create(
                    username=options["username"],
                    email=options["email"],
                    password=password,
                    department=self._department(options["department"])
                    if options["department"]
                    else None,
                    role=options["role"],
                    actor=actor,
                )
            elif action == "invite":
                invitation = services.member_invite(
                    department=self._department(options["department"]),
                    email=options["email"],
                    role=options["role"],
                    actor=actor,
                )
                self.stdout.write(services.invitation_link(invitation))
            elif action == "set-role":
                services.member_set_role(
                    user=self._user(options["username"]),
                    role=options["role"],
                    actor=actor,
                    department=None,
                )
            elif action == "add":
                services.member_add(
                    user=self._user(options["username"]),
                    department=self._department(options["department"]),
                    actor=actor,
                )
            elif action == "remove":
                services.member_remove(
                    user=self._user(options["username"]),
                    department=self._department(options["department"]),
                    actor=actor,
                )
            elif action == "reset-2fa":
                services.second_factor_reset(user=self._user(options["username"]), actor=actor)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"{action}: done"))

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user

    def _department(self, code: str) -> Department:
        department = Department.objects.filter(code=code).first()
        if department is None:
            raise CommandError(f"No department {code!r}.")
        return department
