"""Command-line tools: ``python -m chalicelib.cli keys create --role admin --name NAME``.

The token is printed once, on the last line, and never stored in clear.
"""

from __future__ import annotations

import argparse
import sys

from chalicelib.domain.common import Role
from chalicelib.domain.keys import CreateKey


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print its token once")
    create.add_argument("--role", choices=[role.value for role in Role], required=True)
    create.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    from chalicelib.deps import get_deps
    from chalicelib.domain.errors import Conflict

    try:
        created = get_deps().keys.create(CreateKey(name=args.name, role=Role(args.role)), created_by="cli")
    except Conflict as exc:  # key names are unique: say so, not a traceback
        print(exc.message, file=sys.stderr)
        return 1
    print(f"Created {created.role.value} key {created.id} ({created.name}). Its token, shown only now:")
    print(created.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
