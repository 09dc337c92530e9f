"""``printgate mail test|queue``: the gateway's mail sender (``[mail]``).

The relay's password is the secret ``[mail] password_secret`` names, stored with
``printgate secrets set smtp/password`` (never in the config file). ``test ADDRESS`` sends one message now through the configured relay and says whether it
was delivered; ``queue`` lists what waits to be sent (and why)."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json
import sys

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("mail", help="the mail relay: test message, queue")
    commands = parser.add_subparsers(dest="mail_command", required=True)
    test = commands.add_parser("test", help="send a test message now and wait for the answer")
    test.add_argument("address")
    test.set_defaults(handler=send_test)
    queue = commands.add_parser("queue", help="messages waiting to be sent")
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(handler=show_queue)


@reports_errors
def send_test(args) -> int:
    from email.message import EmailMessage

    from twisted.internet import reactor

    from accounting.errors import UnknownSecret
    from gateway.mail.sender import MailSender
    from spooler.config import load_config

    config = load_config(args.config, args.data_dir)
    core = open_core(args)

    def secret(name):
        try:
            return core.secrets.reveal(name)
        except UnknownSecret:
            return None

    config.mail.give_up_hours = 0.0  # one attempt: the admin wants the answer now
    sender = MailSender(reactor, config.mail, data_dir=config.data_dir, secret=secret)
    message = EmailMessage()
    message["To"] = args.address
    message["Subject"] = "Printgate test message"
    message.set_content("This message was sent by `printgate mail test`: mail from the gateway works.\n")
    outcome = {}

    async def run():
        entry_id = await sender.send(message)
        outcome["delivered"] = await sender.outcome(entry_id)

    def finished(result):
        outcome.setdefault("error", None if not hasattr(result, "getErrorMessage") else result.getErrorMessage())
        sender.stop()
        reactor.stop()

    from twisted.internet.defer import ensureDeferred

    reactor.callWhenRunning(lambda: ensureDeferred(run()).addBoth(finished))
    reactor.run()
    if outcome.get("delivered"):
        print(f"delivered to {args.address} via {config.mail.host}:{config.mail.smtp_port}")
        return 0
    events = sender.log.events()
    reason = outcome.get("error") or (events[-1].get("error") if events else "unknown")
    print(f"printgate: not delivered: {reason}", file=sys.stderr)
    return 1


@reports_errors
def show_queue(args) -> int:
    from pathlib import Path

    from gateway.mail.queue import MailQueue
    from spooler.config import load_config

    config = load_config(args.config, args.data_dir)
    entries = MailQueue(Path(config.data_dir) / "mail" / "queue").entries()
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return 0
    if not entries:
        print("the mail queue is empty")
    for e in entries:
        print(f"{e.id}  to {', '.join(e.recipients)}  {e.subject!r}  attempts {e.attempts}  {e.last_error}")
    return 0
