"""Run WearView's main job end to end on the embedded defaults."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wearview.demo.processes import ProcessFailed
from wearview.demo.run import Demo, DemoFailed, DemoOptions, FlowFailed


class Command(BaseCommand):
    help = (
        "Run the main job end to end: dev store, web server and workers, install, sync, "
        "classify, generate, review and (with --auto-approve) publish."
    )

    def add_arguments(self, parser):
        samples = settings.BASE_DIR / "samples"
        parser.add_argument(
            "--csv",
            type=Path,
            default=samples / "catalog.csv",
            help="Product CSV in Shopify's import format (default: the repository's sample).",
        )
        parser.add_argument(
            "--images",
            type=Path,
            default=samples / "images",
            help="Folder whose files match the CSV's Image Src file names.",
        )
        parser.add_argument(
            "--auto-approve",
            action="store_true",
            help="Approve the best passing candidate of each job and publish it.",
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="Use only the first N products of the CSV."
        )
        parser.add_argument(
            "--keep-running",
            action="store_true",
            help="Leave the dev store, web server and workers running until Ctrl-C.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=540.0,
            help="Seconds the whole run may take before it stops with an error.",
        )
        parser.add_argument(
            "--port", type=int, default=None, help="Port of the web server (default: a free one)."
        )
        parser.add_argument(
            "--webhook-flow",
            action="store_true",
            help="Afterwards, create, update and delete products in the dev store as a merchant "
            "and check that the webhooks drive the app's work.",
        )

    def handle(self, *args, **options):
        for option in ("csv", "images"):
            if not options[option].exists():
                raise CommandError(
                    f"--{option} {options[option]} does not exist; pass a path that does."
                )
        demo = Demo(
            DemoOptions(
                csv_path=options["csv"],
                images_dir=options["images"],
                auto_approve=options["auto_approve"],
                limit=options["limit"],
                keep_running=options["keep_running"],
                timeout=options["timeout"],
                web_port=options["port"],
                webhook_flow=options["webhook_flow"],
            ),
            out=self.stdout,
        )
        try:
            summary = demo.run()
        except (DemoFailed, FlowFailed, ProcessFailed) as exc:
            demo.stop()
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            demo.stop()
            raise CommandError("Interrupted; every process the demo started was stopped.") from None

        self._print_table(summary)
        self.stdout.write(f"Admin review queue: {demo.web_url}/admin/studio/candidate/")
        self.stdout.write(f"Embedded app: {demo.web_url}/app/")
        for problem in summary.problems:
            self.stderr.write(f"Check failed: {problem}")
        if options["keep_running"]:
            self.stdout.write("Servers keep running; press Ctrl-C to stop them.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                demo.stop()
        self.stdout.write(summary.as_json())
        if summary.failed or summary.problems:
            raise CommandError(
                f"{summary.failed} failures and {len(summary.problems)} failed checks; "
                f"see the lines above and the logs in {settings.VAR_DIR / 'demo-logs'}."
            )

    def _print_table(self, summary) -> None:
        rows = [
            ("products", summary.products),
            ("images", summary.images),
            ("classified", summary.classified),
            ("needing on-model photos", summary.needs_on_model),
            ("jobs", summary.jobs),
            ("candidates", summary.candidates),
            ("approved", summary.approved),
            ("published", summary.published),
            ("failed", summary.failed),
            ("seconds", f"{summary.seconds:.1f}"),
        ]
        width = max(len(name) for name, _ in rows)
        self.stdout.write("")
        for name, value in rows:
            self.stdout.write(f"  {name.ljust(width)}  {value}")
        self.stdout.write("")
