"""``printgate secrets set|list``: passwords the gateway uses (the SMTP relay's, a
directory bind's), kept encrypted in the database with the key in
``<data-dir>/secrets.key`` (AES-256-GCM, see ``accounting.secrets``).

``set NAME`` reads the value from standard input (one line), so that it never appears in
a command line, a shell history or the configuration file; on a terminal it is asked for
twice without echo. The configuration refers to a secret by name: ``[mail]
password_secret`` (default ``smtp/password``), ``[directory] password_secret`` (default
``directory/bind``). Names are ``group/name``; ``smtp.password`` is the same as
``smtp/password``."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

from gateway.cli.accounts import open_core, reports_errors
from gateway.cli.prompts import read_secret_input


def register(subparsers) -> None:
    parser = subparsers.add_parser("secrets", help="passwords the gateway uses, stored encrypted")
    commands = parser.add_subparsers(dest="secrets_command", required=True)
    put = commands.add_parser("set", help="store a secret read from standard input (e.g. smtp/password)")
    put.add_argument("name")
    put.set_defaults(handler=set_secret)
    listing = commands.add_parser("list", help="the names of the stored secrets (never their values)")
    listing.set_defaults(handler=list_secrets)


def secret_name(text: str) -> str:
    """``smtp.password`` and ``smtp/password`` name the same secret."""
    return text.strip().replace(".", "/", 1) if "/" not in text else text.strip()


@reports_errors
def set_secret(args) -> int:
    name = secret_name(args.name)
    value = read_secret_input("secret", from_stdin=False)
    open_core(args).secrets.set(name, value, actor="cli")
    print(f"secret {name} stored")
    return 0


@reports_errors
def list_secrets(args) -> int:
    for name in open_core(args, create=False).secrets.names():
        print(name)
    return 0
