"""Files of ``llm-client submit-batch``: which inputs a folder or glob names, and where each
job's output (``<name>.out``) or error (``<name>.error``) is written."""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .client import TRANSFERS_AT_ONCE, Job, Outcome, unique_names

#: Suffixes of what a batch writes: never read back as inputs.
RESULT_SUFFIXES = (".out", ".error")


def inputs(source: str) -> list[Path]:
    """The files of a folder (not its subfolders) or of a glob (``**`` recurses), sorted;
    hidden files and earlier results (``.out``, ``.error``) left out."""
    folder = Path(source)
    found = folder.iterdir() if folder.is_dir() else map(Path, glob.glob(source, recursive=True))
    files = sorted(p for p in found if p.is_file() and not p.name.startswith(".")
                   and not p.name.endswith(RESULT_SUFFIXES))
    if not files:
        raise ValueError(f"{source}: no input files (give a folder or a glob such as "
                         "'requests/*.json'; .out and .error files are results, not inputs)")
    return files


class ResultFiles:
    """Writes each finished job's file as it finishes, a few downloads at a time: beside
    its input, or in ``out`` under the name the batch gave it."""

    def __init__(self, jobs: Sequence[Job], out: Path | None) -> None:
        names = unique_names([j.source or Path(j.input_location) for j in jobs])
        self.base = {j.inference_id: (out / n if out else (j.source or Path(n)))
                     for j, n in zip(jobs, names, strict=True)}
        self.written: dict[str, Path] = {}
        self.pool = ThreadPoolExecutor(TRANSFERS_AT_ONCE)
        self.pending: list[Future[None]] = []

    def add(self, outcome: Outcome) -> None:
        self.pending.append(self.pool.submit(self._write, outcome))

    def _write(self, outcome: Outcome) -> None:
        base = self.base[outcome.job.inference_id]
        done, stale = base.with_name(base.name + ".out"), base.with_name(base.name + ".error")
        if outcome.status == "succeeded":
            done.write_bytes(outcome.read())
        else:
            done, stale = stale, done
            done.write_text(json.dumps({
                "inference_id": outcome.job.inference_id, "error": outcome.error,
                "failure_location": outcome.failure_location,
                "input_location": outcome.job.input_location}, indent=2) + "\n")
        stale.unlink(missing_ok=True)  # from an earlier run of the same inputs
        self.written[outcome.job.inference_id] = done

    def __enter__(self) -> ResultFiles:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        """Wait for every write; after a failure or Ctrl-C, for those under way only.
        Then raise the first write's problem, if the wait itself went well."""
        self.pool.shutdown(wait=True, cancel_futures=error is not None)
        if error is None:
            for future in self.pending:
                future.result()


def upload_line(uploaded: int, total: int) -> None:
    print(f"\ruploading {uploaded}/{total}", end="", file=sys.stderr, flush=True)


def progress_line(done: int, failed: int, waiting: int, elapsed: float) -> None:
    print(f"\r{done} done, {failed} failed, {waiting} waiting ({elapsed:.0f} s)", end="",
          file=sys.stderr, flush=True)
