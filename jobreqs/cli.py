"""The ``jobreqs`` command.

Each subcommand lives beside the code it drives, in a module with ``add_arguments(parser)`` and
``run(args) -> int``; this file only maps names to modules, so that ``jobreqs --help`` stays fast
(a module is imported only when its command runs).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "run": ("jobreqs.runner", "run the daily DAG for a date (default today) and print a summary"),
    "sandbox-month": ("jobreqs.sandbox_month", "run (or re-run) 30 dates on the sandboxes and show their trends"),
    "dates": ("jobreqs.dates", "list which dates have data (raw snapshots, postings, last run), e.g. after a backfill"),
    "migrate": ("jobreqs.warehouse_cli", "apply the warehouse migrations"),
    "warehouse-url": ("jobreqs.warehouse_cli", "print how to connect a SQL client to the warehouse"),
    "stop-embedded": ("jobreqs.embedded_pg", "stop the embedded Postgres of .state/pg (make clean-state)"),
    "ui": ("jobreqs.ui", "start the Airflow UI (airflow standalone) with the project's DAGs and plugins"),
    "indeed-parse": ("scrapers.indeed.cli", "parse saved Indeed search or job pages to JSON Lines"),
    "upwork-authorize": ("scrapers.upwork.authorize", "authorize the Upwork OAuth app once (authorization-code flow)"),
    "classify": ("transforms.classify_cli", "keep the technology paragraphs of JSON Lines postings"),
    "train-classifier": ("models.classifier.train", "rebuild the data, train and evaluate the classifier"),
    "extract": ("transforms.extract.cli", "extract canonical technologies from JSON Lines postings"),
    "eval-extract": ("transforms.extract.evaluate", "score an extraction backend on a gold file"),
    "promote-term": ("transforms.clean_up_cli", "promote a reviewed unmapped term into the taxonomy"),
    "export": ("transforms.export", "export trend data as CSV or Parquet"),
}


def _module(name: str):
    module_name, _ = COMMANDS[name]
    return importlib.import_module(module_name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="jobreqs", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (_, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        # also after the command (`make run ARGS=-v`); SUPPRESS keeps the global flag's value
        command_parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                    help="log at DEBUG level, with every warning")
        if name == chosen:  # import only the module of the command being run
            _module(name).add_arguments(command_parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return _module(args.command).run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
