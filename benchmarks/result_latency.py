#!/usr/bin/env python3
"""How late a waiting client learns that its job finished: ``Job.result()`` against seed
001's S3 polling, with and without the notification reaching the client.

Run after setup: ``.venv/bin/python benchmarks/result_latency.py [--trials 10]
[--poll-interval 60]``. Everything runs in one process against moto (no AWS account, no
network, no endpoint). What it measures is the time from the moment the result exists for
the client (t0) to the moment the client has the output (t1), in three cases:

* notified: ``AsyncEndpoint.submit(watch=True)`` (a queue subscribed to the topics,
  filtered to the job), the invoker's handler submits the upload, then, while
  ``Job.result()`` waits, the success notification is published (t0: just before the
  publish). The client's queue receives it.
* notification missed: the same, but the notification reaches only the runtime's own
  subscription (simulating SNS's documented delay of up to 15 minutes before a new
  filter policy takes effect: a client's fresh subscription can miss it); the recorder's
  handler writes the result to the ledger (t0: the write done). The client sees it at its
  next ledger read: it reads every 5 s between long polls, so t1 - t0 is at most about
  5 s; the trials put t0 at evenly spread points of that 5 s cycle.
* seed polling: the seed's loop (``get_object`` on the output location; on a miss,
  ``sleep(60)``) started at t=0; the output appears at t0, evenly spread over one polling
  interval across the trials (the phase a real job lands at). Trials run concurrently.

What it does not simulate: SageMaker's inference time (the same for every case), network
round trips (moto answers in-process: real SNS -> SQS delivery adds tens of milliseconds,
each AWS call a few), Lambda's start-up and its event source mapping's polling (the
recorder runs here as soon as t0 comes). Wall times; CPU seconds of the whole run beside.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable

import boto3
from batch_jobs import BUCKET, Calls, World, moto_world  # the same runtime, in moto
from moto import mock_aws

from llm_client import CHECK_EVERY


def trial(world: World, deliver: Callable[[str, str], None], delay: float) -> float:
    """Submit one job, start waiting, make its result exist ``delay`` seconds later (via
    ``deliver``); the seconds from then to the output in the client's hands."""
    job = world.endpoint().submit(prompt="hello", watch=True)
    world.submit_uploads()
    (submitted,) = world.submitted
    world.submitted = []
    exists_at: list[float] = []

    def result_exists() -> None:
        deliver(*submitted)
        exists_at.append(time.perf_counter())
    timer = threading.Timer(delay, result_exists)
    timer.start()
    job.result(timeout=60)
    done = time.perf_counter()
    timer.join()
    return done - exists_at[0]


def notified(world: World) -> Callable[[str, str], None]:
    def deliver(job: str, location: str) -> None:
        world.finish(job, location)  # t0 taken after the publish: a floor for this case
    return deliver


def missed(world: World) -> Callable[[str, str], None]:
    def deliver(job: str, location: str) -> None:
        world.finish(job, location, to_client=False)
        world.record_results()  # t0: the ledger has it
    return deliver


def polling_trial(offset: float, interval: float, results: list[float], n: int) -> None:
    """Seed 001: get the output object; on a miss sleep ``interval`` and try again."""
    s3 = boto3.client("s3")
    key = f"output/poll-{n}.out"
    start = time.perf_counter()
    threading.Timer(offset, lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")).start()
    while True:
        try:
            s3.get_object(Bucket=BUCKET, Key=key)
            break
        except s3.exceptions.NoSuchKey:
            time.sleep(interval)
    results.append(time.perf_counter() - start - offset)


def polled(trials: int, interval: float) -> list[float]:
    results: list[float] = []
    offsets = [interval * (i + 0.5) / trials for i in range(trials)]
    threads = [threading.Thread(target=polling_trial, args=(o, interval, results, i))
               for i, o in enumerate(offsets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<34} n={len(values):<3} mean {statistics.mean(values):7.3f} s  "
            f"median {statistics.median(values):7.3f} s  max {max(values):7.3f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10, help="per case (default 10)")
    ap.add_argument("--poll-interval", type=float, default=60.0,
                    help="the seed's polling interval, seconds (default 60)")
    args = ap.parse_args()
    started = time.perf_counter()
    with mock_aws():
        world = moto_world(Calls().as_("uncounted"))
        fast = [trial(world, notified(world), 0.5) for _ in range(args.trials)]
        phases = [0.5 + CHECK_EVERY * (i + 0.5) / args.trials for i in range(args.trials)]
        late = [trial(world, missed(world), p) for p in phases]
        seed = polled(args.trials, args.poll_interval)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("seconds from the result existing (t0) to the client having the output (t1); "
          "moto, in-process")
    print(summary("notified (the client's queue)", fast))
    print(summary(f"notification missed (ledger, {CHECK_EVERY:g} s)", late))
    print(summary(f"seed: S3 polling every {args.poll_interval:g} s", seed))
    print(f"run: {time.perf_counter() - started:.1f} s wall, "
          f"{usage.ru_utime + usage.ru_stime:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
