"""``manage.py reference_csds export``: seed files for the reference CSDs and their endpoints in the registry."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from hub.registry.reference_csds import (
    DEFAULT_BASE_URL,
    DEFAULT_PORTS,
    reference_csd_dir,
    reference_csds_export,
)


def _port(value: str) -> tuple[str, int]:
    code, sep, port = value.partition("=")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--port takes CODE=PORT (e.g. NSD=9101), not {value!r}")
    return code.upper(), int(port)


class Command(BaseCommand):
    help = "Write one seed file per reference CSD from the registry and record each CSD's base URL and key."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help=self.help)
        export.add_argument(
            "--dir",
            type=Path,
            help="folder of the seed files and databases (default: $HUB_VAR_DIR/reference_csd)",
        )
        export.add_argument(
            "--port",
            action="append",
            default=[],
            metavar="CODE=PORT",
            help="port of one CSD's reference CSD (default: "
            + ", ".join(f"{code} {port}" for code, port in DEFAULT_PORTS.items())
            + ")",
        )
        export.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help="base URL template, with {code} (lower case) and {port} (default: %(default)s)",
        )

    def handle(self, *args, action: str, **options) -> None:
        directory = options["dir"] or reference_csd_dir()
        ports = dict(_port(value) for value in options["port"])
        try:
            exported = reference_csds_export(directory=directory, ports=ports, base_url=options["base_url"])
        except ValidationError as exc:  # a --base-url the CSD row refuses
            raise CommandError("; ".join(exc.messages)) from exc
        except (ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        for csd in exported:
            if csd.reset:
                self.stdout.write(self.style.WARNING(csd.reset))
            self.stdout.write(str(csd))
        self.stdout.write(self.style.SUCCESS(f"{len(exported)} reference CSDs exported to {directory}"))
