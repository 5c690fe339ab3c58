#!/usr/bin/env python3
"""The peers of `make bench-peers`: the bench's seeded totesys source moved into schema `peer` of
an empty Postgres database by dlt or by Sling, the way each tool's documentation recommends for a
fast Postgres-to-Postgres copy. `etl bench --peers` runs this once per tool and mode, times the
process and checks the row counts it leaves behind.

  dlt:   the sql_database source with the pyarrow backend, Parquet loaded through ADBC
         (adbc-driver-postgresql); incremental on `last_updated`, merged on the primary key.
  sling: one replication of every table; full-refresh, then incremental with
         update_key `last_updated` and the primary key.

Usage: peers.py {dlt,sling} {full,incremental} --source URL --target URL --workdir DIR
                --table NAME:PRIMARY_KEY [--table ...]
Prints one JSON line: {"tool", "mode", "peak_rss_mb"}.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import urllib.parse


def run_dlt(args, tables):
    import dlt
    from dlt.destinations._adbc_jobs import has_adbc_driver
    from dlt.destinations.impl.postgres.factory import get_adbc_driver_location
    from dlt.sources.sql_database import sql_database

    # Without the driver dlt quietly falls back to INSERT statements: not the peer we mean.
    found, why = has_adbc_driver(get_adbc_driver_location())
    if not found:
        sys.exit(f"dlt cannot load Parquet through ADBC here: {why}")

    source = sql_database(
        # psycopg2, which dlt's postgres extra brings (SQLAlchemy 2.1 would pick psycopg 3).
        credentials=args.source.replace("postgresql://", "postgresql+psycopg2://", 1),
        schema="public",
        table_names=list(tables),
        backend="pyarrow",
        reflection_level="full_with_precision",
    )
    for name, key in tables.items():
        getattr(source, name).apply_hints(
            primary_key=key,
            incremental=dlt.sources.incremental("last_updated"),
            write_disposition="replace" if args.mode == "full" else "merge",
        )
    target = urllib.parse.urlsplit(args.target)
    if target.password is None:
        # dlt refuses credentials without a password; a trust-auth server ignores it.
        netloc = f"{target.username or 'postgres'}:unused@{target.hostname}:{target.port}"
        target = target._replace(netloc=netloc)
    pipeline = dlt.pipeline(
        pipeline_name="etl_bench_peer",
        destination=dlt.destinations.postgres(credentials=urllib.parse.urlunsplit(target)),
        dataset_name="peer",
        pipelines_dir=os.path.join(args.workdir, "dlt"),
    )
    pipeline.run(source, loader_file_format="parquet")


def sling_binary():
    # The sling-linux-amd64 wheel carries the binary (requirements/bench.in).
    from sling_linux_amd64 import SLING_BIN

    return SLING_BIN


def sslmode(url):
    # Sling's Postgres driver insists on TLS unless told; the bench's server is on loopback.
    return "" if "sslmode=" in url else ("&" if "?" in url else "?") + "sslmode=disable"


def run_sling(args, tables):
    lines = [
        "source: ETL_BENCH_SOURCE",
        "target: ETL_BENCH_TARGET",
        "defaults:",
        "  object: peer.{stream_table}",
        "  update_key: last_updated" if args.mode == "incremental" else "",
        "  mode: " + ("full-refresh" if args.mode == "full" else "incremental"),
        "streams:",
    ]
    for name, key in tables.items():
        lines.append(f"  public.{name}:")
        lines.append(f"    primary_key: [{key}]")
    path = os.path.join(args.workdir, f"sling-{args.mode}.yaml")
    with open(path, "w") as f:
        f.write("\n".join(line for line in lines if line) + "\n")
    env = dict(
        os.environ,
        ETL_BENCH_SOURCE=args.source + sslmode(args.source),
        ETL_BENCH_TARGET=args.target + sslmode(args.target),
        SLING_HOME_DIR=os.path.join(args.workdir, "sling"),
        SLING_DISABLE_TELEMETRY="true",
    )
    done = subprocess.run(
        [sling_binary(), "run", "-r", path],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:])
        sys.exit(f"sling {args.mode} failed (exit {done.returncode})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["dlt", "sling"])
    parser.add_argument("mode", choices=["full", "incremental"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--table", action="append", required=True)
    args = parser.parse_args()
    tables = dict(t.split(":", 1) for t in args.table)
    # SQLAlchemy (dlt's source) knows only the postgresql:// spelling; Sling takes both.
    args.source = args.source.replace("postgres://", "postgresql://", 1)
    args.target = args.target.replace("postgres://", "postgresql://", 1)
    os.makedirs(args.workdir, exist_ok=True)
    (run_dlt if args.tool == "dlt" else run_sling)(args, tables)
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"tool": args.tool, "mode": args.mode, "peak_rss_mb": peak_kb / 1024}))


if __name__ == "__main__":
    main()
