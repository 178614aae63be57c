"""``jobreqs migrate``, ``jobreqs warehouse-url`` and ``jobreqs rebuild-marts``."""

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
    elif args.command == "rebuild-marts":
        # Publish keeps the marts up to date date by date; this derives them again from all of
        # history, for when a mart's definition (or the taxonomy's categories) changed.
        from transforms.marts import refresh_marts

        warehouse.migrate()
        with warehouse.connect() as conn:
            report = refresh_marts(conn)
        for name, mart in report["marts"].items():
            print(f"{name:26s} {mart['rows']:>10d} rows")
        print(f"rebuilt in {report['seconds']:.1f}s")
    else:
        conninfo = warehouse.migrate() and warehouse.warehouse_conninfo() or warehouse.warehouse_conninfo()
        print(f"pipeline: {warehouse.describe(conninfo)}")
        print(f"read-only SQL clients: {reader_conninfo(conninfo)}")
    return 0
