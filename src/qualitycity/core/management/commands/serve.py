"""``qualitycity serve``: the web server (gunicorn), static files, and a job worker."""

from __future__ import annotations

import atexit
import gc
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from gunicorn.glogging import Logger

from qualitycity.core import server as fair_workers
from qualitycity.core.logging import install_access_log_filter


class Command(BaseCommand):
    help = "Serve the platform with gunicorn (static files included) and start a job worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="web worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per web worker")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="do not start a job worker (production runs `qualitycity worker` separately)",
        )

    def handle(self, *args, host, port, workers, threads, no_worker, **options):
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("The database is not up to date: run `qualitycity migrate` first.")
        call_command("collectstatic", interactive=False, verbosity=0)
        connection.close()

        if not no_worker:
            worker = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
                [sys.executable, "-m", "qualitycity", "worker"],
                stdout=sys.stdout,
                stderr=sys.stderr,
            )
            atexit.register(_stop, worker)

        from gunicorn.app.base import BaseApplication

        from qualitycity.wsgi import application

        class Server(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", f"{host}:{port}")
                self.cfg.set("workers", workers)
                self.cfg.set("threads", threads)
                # gthread, taking connections fairly between the workers (core/server.py)
                self.cfg.set("worker_class", "qualitycity.core.server.FairThreadWorker")
                self.cfg.set("timeout", 120)
                self.cfg.set("accesslog", "-")
                self.cfg.set("logger_class", RedactingLogger)
                self.cfg.set("proc_name", "qualitycity")
                self.cfg.set("post_fork", _after_fork)

            def load(self):
                return application

        self.stdout.write(
            f"Serving on http://{host}:{port}/ ({settings.DATABASES['default']['ENGINE']})"
        )
        fair_workers.prepare(workers)
        Server().run()


class RedactingLogger(Logger):
    """gunicorn's logger with resident ID numbers redacted from access and error lines."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        install_access_log_filter(self)


def _after_fork(server, worker) -> None:
    """Keep the objects loaded before the fork (Django, the apps, the catalogues) out of the
    collector's full passes: they live as long as the worker, and scanning them stalls every
    request the worker is serving. See docs/benchmarks.md, check-before-act API."""
    gc.freeze()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
