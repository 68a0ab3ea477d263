"""``claimwatch batch …`` (run, import) and ``claimwatch export posts``: the batch engine's commands.

Registered by :mod:`claimwatch.cli` at its end, built on its helpers (store opening, one-line
errors), so no traceback reaches a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from claimwatch.batch.export import check_part_rows, export_posts
from claimwatch.batch.importer import import_results
from claimwatch.batch.inputs import checked_files
from claimwatch.batch.local import WorkerFailed, default_workers, run_local
from claimwatch.batch.matcher import IndexMoved, plan
from claimwatch.batch.on_ray import RayMissing, RayRunFailed, require_ray, run_ray
from claimwatch.batch.schema import POSTS, RESULTS, BatchInputError
from claimwatch.claims.retrieval import STREAM_BATCH
from claimwatch.cli import (
    CwModelOpt,
    DbOpt,
    ModelOpt,
    MultilingualOpt,
    _fail,
    _open,
    _progress,
    _say,
    _user_errors,
    err,
)

batch_app = typer.Typer(
    help="Match posts in bulk from Parquet files, here or on a Ray cluster, and import the results.",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Export stored data for other tools.", no_args_is_help=True)


class Engine(StrEnum):
    local = "local"
    ray = "ray"


@contextmanager
def _batch_errors() -> Iterator[None]:
    """The batch engine's refusals end as one line, like every other command's."""
    with _user_errors():
        try:
            yield
        except (BatchInputError, IndexMoved, RayMissing, RayRunFailed, WorkerFailed) as exc:
            _fail(str(exc))
        except BrokenProcessPool:
            _fail("a batch worker process died (out of memory?); run the same command again to resume")


@export_app.command("posts")
def export_posts_cmd(
    parquet: Annotated[
        Path,
        typer.Option("--parquet", help="The Parquet file to write, or the folder with --part-rows (must not exist)."),
    ],
    db: DbOpt = None,
    pending: Annotated[
        bool, typer.Option(help="Only posts not yet matched against the current index version.")
    ] = False,
    part_rows: Annotated[
        int | None,
        typer.Option(
            help="Write a folder of part files of this many posts (a multiple of 1,024): Ray then reads one block "
            "per part and cuts the chunks the local runner and `match` cut."
        ),
    ] = None,
) -> None:
    """Write the posts a batch run needs (ids, text as matching reads it, text hash, date) to Parquet."""
    if parquet.exists():
        _fail(f"--parquet {parquet} exists; give a new name (an export never overwrites a file or folder)")
    with _batch_errors():
        if part_rows is not None:
            check_part_rows(part_rows)
    ws = _open(db, read_only=True)
    with _batch_errors():
        n = export_posts(ws, parquet, pending=pending, part_rows=part_rows)
    _say(f"exported {n:,} posts to {parquet}" + (" (part files)" if part_rows else ""))


@batch_app.command("run")
def run(
    posts: Annotated[
        Path, typer.Argument(help="A Parquet file of posts (see `claimwatch export posts`), or a folder of them.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the results (Parquet part files).")],
    db: DbOpt = None,
    engine: Annotated[
        Engine, typer.Option(help="local: this machine's cores; ray: Ray Data (the 'ray' extra).")
    ] = Engine.local,
    address: Annotated[
        str | None, typer.Option(help="With --engine ray: the Ray cluster to join, e.g. ray://head:10001.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes / Ray actors (default: this machine's cores).")
    ] = None,
    object_store_mb: Annotated[
        int | None, typer.Option("--object-store-mb", min=80, help="With a local Ray: cap its object store (MB).")
    ] = None,
    topics: Annotated[Path | None, typer.Option(help="Topic definitions (YAML), as for `claimwatch match`.")] = None,
    model: ModelOpt = None,
    cw_model: CwModelOpt = None,
    multilingual_model: MultilingualOpt = None,
) -> None:
    """Match posts from Parquet into result files, with the store's fact-checks, index and settings
    (the store is only read); `claimwatch batch import` writes the results into it."""
    n = workers or default_workers()
    with _batch_errors():  # bad input and a missing Ray are refused before a store or model is opened
        checked_files(posts, POSTS)
        if engine is Engine.ray:
            require_ray()
    ws = _open(db, read_only=True, model=model, checkworthiness_model=cw_model, multilingual_model=multilingual_model)
    with _batch_errors():
        spec = plan(ws, topics=str(topics) if topics else None)
        if engine is Engine.ray:
            rep = run_ray(
                posts, out, spec, workers=n, batch_size=STREAM_BATCH, address=address, object_store_mb=object_store_mb
            )
        else:
            with _progress() as prog:
                task = prog.add_task("matching posts", total=None)
                rep = run_local(
                    posts,
                    out,
                    spec,
                    workers=n,
                    batch_size=STREAM_BATCH,
                    progress=lambda done: prog.update(task, completed=done),
                )
    for problem in rep.problems:
        _say(problem, to=err)
    for note in rep.notes:
        _say(f"note: {note}")
    _say(rep.summary(n, engine.value))
    if rep.problems:
        raise typer.Exit(1)


@batch_app.command("import")
def import_cmd(
    results: Annotated[Path, typer.Argument(help="The --out folder of `claimwatch batch run` (or one part file).")],
    db: DbOpt = None,
    allow_other_version: Annotated[
        bool,
        typer.Option(help="Import results made with another index version (those posts are re-matched by `match`)."),
    ] = False,
) -> None:
    """Write batch results into the store as `claimwatch match` would; importing twice changes nothing."""
    with _batch_errors():
        checked_files(results, RESULTS)
    ws = _open(db)
    with _batch_errors(), _progress() as prog:
        task = prog.add_task("importing results", total=None)
        rep = import_results(
            ws, results, allow_other_version=allow_other_version, progress=lambda n: prog.update(task, completed=n)
        )
    for problem in rep.problems:
        _say(problem, to=err)
    if rep.refused > len(rep.problems):
        _say(f"… and {rep.refused - len(rep.problems):,} more refused rows", to=err)
    _say(rep.summary())
    if rep.refused or rep.problems:
        raise typer.Exit(1)
