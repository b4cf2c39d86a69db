import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from riskcontrol.backtest import backtest
from riskcontrol.models import Rule
from riskcontrol.rules import KINDS


class Command(BaseCommand):
    help = "Replay the last N days of orders against a rule (saved or draft) and report its hits."

    def add_arguments(self, parser):
        parser.add_argument("--rule", help="name of a saved rule (enabled or not)")
        parser.add_argument("--kind", choices=sorted(KINDS), help="a draft rule's kind")
        parser.add_argument("--params", default="{}", help="a draft rule's parameters, as JSON")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--show", type=int, default=20, help="how many hit order numbers to list")

    def handle(self, *args, rule=None, kind=None, params="{}", days=30, show=20, **options):
        if bool(rule) == bool(kind):
            raise CommandError("Give either --rule NAME or --kind KIND [--params JSON].")
        if rule:
            saved = Rule.objects.filter(name=rule).first()
            if saved is None:
                raise CommandError(f"No rule named {rule!r}.")
            kind, parsed = saved.kind, saved.params
        else:
            try:
                parsed = json.loads(params)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--params is not JSON: {exc}") from exc
        if days < 1:
            raise CommandError("--days must be at least 1.")
        try:
            result = backtest(kind=kind, params=parsed, days=days)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{result.hits} of {result.checked} orders in the last {days} days would hit.")
        for order_no in result.hit_order_nos[:show]:
            self.stdout.write(f"  {order_no}")
