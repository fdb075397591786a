"""CPU per row of an import's two stages, in-process: ``prepare_chunk`` and the writer.

    python -m bench.writer_harness [--rows 50000] [--profile out.pstats]

Runs the import benchmark's rows (same generator, same seed, same mappings) through
``imports.job.prepare_chunk`` and then ``profiles.writer.write_many``, a chunk per write
transaction as the worker does, into a fresh SQLite store. Measures process CPU time (steadier
than wall time on a shared machine) and prints microseconds per row of each stage; with
``--profile``, the writing stage runs under cProfile and its statistics are saved and summed up.
"""

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.import_bench import COLUMNS, LOYALTY, MAPPINGS, profile_rows
from convmem.accounts.service import create_account
from convmem.background import jobs
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, Store
from convmem.imports.job import Column, prepare_chunk
from convmem.kit.clock import WriteClock
from convmem.profiles.context import load_context
from convmem.profiles.writer import write_many
from convmem.stores.service import create_store
from convmem.traitgroups.schemas import TraitGroupRequest
from convmem.traitgroups.service import create_group
from convmem.web.auth import Principal

SOURCE = "import:mem_import_01m82j3nmres3btezb5x9vjkbf"


def fresh_store(data_dir: Path) -> tuple[Database, int]:
    db = Database(f"sqlite:///{data_dir / 'harness.db'}")
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "harness")
        account = session.scalar(select(Account).where(Account.sid == credentials.account_sid))
        store = create_store(session, Principal(account.id, account.sid), "harness", None)
        create_group(session, store, TraitGroupRequest.model_validate(LOYALTY))
        store_pk = store.id
    return db, store_pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--profile", type=Path, help="save the writing stage's cProfile statistics here")
    args = parser.parse_args()
    chunk_size = Settings().job_chunk_size

    db, store_pk = fresh_store(Path(tempfile.mkdtemp(prefix="convmem-harness-")))
    with db.reading() as session:
        ctx = load_context(session, session.get(Store, store_pk))
    columns = [Column(name, COLUMNS.index(name), *MAPPINGS[name].split(".")) for name in COLUMNS]
    rows = list(enumerate(profile_rows(args.rows), start=2))

    started = time.process_time()
    chunks = [prepare_chunk(ctx, columns, rows[at : at + chunk_size]) for at in range(0, len(rows), chunk_size)]
    prepare_cpu = time.process_time() - started
    assert not any(chunk.row_errors for chunk in chunks)
    # As the worker does after its first chunk; here the prepared chunks are out of sight too.
    jobs.settle_heap()

    clock, profiler = WriteClock(), cProfile.Profile() if args.profile else None
    started = time.process_time()
    for chunk in chunks:
        with db.writing() as session:
            if profiler:
                profiler.enable()
            outcomes = write_many(session, ctx, chunk.writes, source=SOURCE, clock=clock)
            if profiler:
                profiler.disable()
        assert all(not isinstance(outcome, Exception) and outcome.created for outcome in outcomes)
    write_cpu = time.process_time() - started

    print(json.dumps({
        "rows": args.rows,
        "prepare_us_per_row": round(prepare_cpu / args.rows * 1e6, 1),
        "write_us_per_row": round(write_cpu / args.rows * 1e6, 1),
        "profiled": bool(profiler),
    }, indent=2))
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    db.dispose()


if __name__ == "__main__":
    main()
