"""``printgate backup --to DIR``: a consistent snapshot of the database (SQLite online
backup, or ``pg_dump`` for PostgreSQL) and the configuration file, taken while the
gateway runs. How to restore is in ``accounting.backup``; ``--restore-from DIR`` does it
(stop the gateway first)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

from gateway.cli.accounts import NoDataDirectory, database_url, gateway_config, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("backup", help="snapshot the database and configuration (or restore one)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", help="a new or empty directory")
    where.add_argument("--restore-from", help="a backup directory; the gateway must be stopped")
    parser.set_defaults(handler=run)


@reports_errors
def run(args) -> int:
    from accounting.backup import backup_database, restore_database
    from accounting.database import Database, migrate
    from accounting.private_files import private_directory

    config = gateway_config(args)
    url = database_url(config)
    if args.restore_from:
        if not config.database_url:
            private_directory(config.data_dir)
        restore_database(args.restore_from, url)
        database = Database(url)
        try:
            migrate(database.writer)
        finally:
            database.dispose()
        print(f"restored {args.restore_from}")
        return 0
    if not config.database_url and not (config.data_dir / "printgate.sqlite3").exists():
        raise NoDataDirectory(config)
    database = Database(url)
    try:
        path = backup_database(database, args.to, config_file=args.config)
    finally:
        database.dispose()
    print(f"backup written to {path}")
    return 0
