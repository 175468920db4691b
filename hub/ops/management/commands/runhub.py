"""Start the web server, a Celery worker, Celery beat and the local reference CSDs together; Ctrl-C
stops them all.

This is the process launcher behind ``make run``. A reference CSD is started for each CSD whose
``adapter_config["base_url"]`` points at 127.0.0.1 (``manage.py reference_csds export`` sets them), on its
own database under ``$HUB_VAR_DIR/reference_csd``. If any process exits, the others are stopped too and
the command exits non-zero, so a broken start is never mistaken for a running hub.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from hub.ops.services import demo_operator_ensure
from hub.registry.reference_csds import reference_csd_dir, reference_csd_processes


class Command(BaseCommand):
    help = "Run web, Celery worker, Celery beat and the local reference CSDs on 127.0.0.1 until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--demo-admin", default="admin", help="username of the demo superuser (DEBUG only)"
        )
        parser.add_argument(
            "--no-reference-csds", action="store_true", help="do not start the local reference CSDs"
        )
        parser.add_argument(
            "--simulate",
            type=int,
            default=0,
            metavar="COUNT",
            help="once the hub is up, send COUNT demo trades through its message API (manage.py simulate)",
        )
        parser.add_argument("--simulate-rate", type=float, default=5.0, help="trades per second")

    def handle(
        self,
        *args,
        host: str,
        port: int,
        demo_admin: str,
        no_reference_csds: bool,
        simulate: int,
        simulate_rate: float,
        **options,
    ) -> None:
        if settings.DEBUG:
            password = os.environ.get("HUB_DEMO_ADMIN_PASSWORD", "admin")
            if demo_operator_ensure(username=demo_admin, password=password):
                self.stdout.write(
                    f"created demo superuser {demo_admin!r} (password from HUB_DEMO_ADMIN_PASSWORD)"
                )
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
            "worker": [python, "-m", "celery", "-A", "hub", "worker", "-l", "info", "-n", "worker@%h"],
            "beat": [python, "-m", "celery", "-A", "hub", "beat", "-l", "info", "--pidfile="],
        }
        if not no_reference_csds:
            for process in reference_csd_processes(directory=reference_csd_dir(), python=python):
                commands[process.name] = process.command
                seeded = (
                    f"seed {process.seed_file}" if process.seed_file else "no seed file: see reference_csds"
                )
                self.stdout.write(f"{process.name}: {process.base_url}/ ({seeded})")
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        # before the first child starts: a SIGTERM or SIGINT while they start would otherwise end runhub at
        # once and leave the ones already started running, with nothing left to stop them
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        children: dict[str, subprocess.Popen] = {}
        one_offs: list[subprocess.Popen] = []
        failed = None
        try:
            for name, cmd in commands.items():
                if stopping:
                    break
                children[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR)
            if not stopping:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"hub running: http://{host}:{port}/  (admin: http://{host}:{port}/admin/, "
                        f"health: http://{host}:{port}/health/). Ctrl-C stops everything."
                    )
                )
            if simulate and not stopping:
                # a one-off: it ends by itself when its trades are done, and the hub stays up
                one_offs.append(
                    subprocess.Popen(
                        [
                            python,
                            "manage.py",
                            "simulate",
                            "--count",
                            str(simulate),
                            "--rate",
                            str(simulate_rate),
                            "--base-url",
                            f"http://{host}:{port}",
                            "--startup-wait",
                            "60",
                        ],
                        cwd=settings.BASE_DIR,
                    )
                )
            while not stopping:
                failed = next((name for name, child in children.items() if child.poll() is not None), None)
                if failed:
                    self.stderr.write(
                        f"{failed} exited with code {children[failed].returncode}; stopping the hub"
                    )
                    break
                time.sleep(0.5)
        finally:
            # also when starting a child failed: the ones started before it are stopped
            _stop_all([*children.values(), *one_offs])
        self.stdout.write("hub stopped")
        if failed:
            sys.exit(1)


def _stop_all(processes: list[subprocess.Popen], *, grace_seconds: float = 15) -> None:
    """Ask every process to stop, give them ``grace_seconds`` together, then kill any still running."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
