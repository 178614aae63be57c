"""``jobreqs migrate`` and ``jobreqs warehouse-url``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from jobreqs import airflow_env

    airflow_env.apply()
    from jobreqs import warehouse
    from jobreqs.summary import reader_conninfo

    if args.command == "migrate":
        applied = warehouse.migrate()
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    else:
        conninfo = warehouse.migrate() and warehouse.warehouse_conninfo() or warehouse.warehouse_conninfo()
        print(f"pipeline: {warehouse.describe(conninfo)}")
        print(f"read-only SQL clients: {reader_conninfo(conninfo)}")
    return 0
