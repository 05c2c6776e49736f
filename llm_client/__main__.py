"""llm-client (or python -m llm_client) [--region R] [--profile P] --stack <endpoint stack>
<command> ...

  submit FILE | --prompt TEXT [--wait] [--out PATH] [--timeout SECONDS]
  submit-batch FOLDER|GLOB [--out DIR] [--timeout SECONDS]
  wait ID [--out PATH] [--timeout SECONDS]
  status ID
  replay ID [--wait]
  invoke --prompt TEXT [--component NAME] [--stream] [--max-new-tokens N]   (real-time)

Region and credentials: --region/--profile, else the usual AWS environment.

A wait sees a result when its notification arrives, or at most 5 s (--check-every) after
the job ledger records it: the ledger is read every 5 s, one read unit per job waiting.

Exit codes: 0 done; 1 a problem before or around the job (usage, AWS, a file, no such job);
2 the job (in a batch: any job) failed; 3 the wait timed out; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (BotoCoreError, ClientError, NoCredentialsError,
                                 NoRegionError, ProfileNotFound)

from . import batch as files
from .client import (AsyncEndpoint, JobFailed, JobTimeout, Outcome, RealtimeEndpoint,
                     component_names, print_progress, stack_outputs)
from .waiting import CHECK_EVERY

DONE, PROBLEM, JOB_FAILED, TIMED_OUT, INTERRUPTED = 0, 1, 2, 3, 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", required=True,
                   help="the endpoint's stack name (e.g. llm-dev-endpoint-batch)")
    p.add_argument("--region", help="AWS region of the stack (default: your AWS config)")
    p.add_argument("--profile", help="AWS profile to use (default: your AWS config)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _submit_parsers(sub)
    sub.add_parser("status", help="a job's ledger entry, as JSON").add_argument(
        "id", help="the job id")
    i = sub.add_parser("invoke", help="call a real-time endpoint or one of its inference "
                                      "components")
    i.add_argument("--prompt", required=True, help="the prompt")
    i.add_argument("--component", metavar="NAME",
                   help="the inference component to call, by its name in the config (e.g. "
                        "naver-news) or its InferenceComponentName; needed on an endpoint "
                        "with several components (default: the only one)")
    i.add_argument("--stream", action="store_true", help="print tokens as they come")
    i.add_argument("--max-new-tokens", type=int, default=256,
                   help="tokens to generate (default: 256)")
    return p


def _submit_parsers(sub: Any) -> None:
    s = sub.add_parser("submit", help="upload a request; the runtime submits it")
    s.add_argument("file", nargs="?", help="a request file to upload as it is")
    s.add_argument("--prompt", help="a prompt, sent as {inputs, parameters} JSON")
    s.add_argument("--max-new-tokens", type=int, default=256,
                   help="tokens to generate, with --prompt (default: 256)")
    b = sub.add_parser("submit-batch", help="upload many requests, wait for all, write "
                                            "each output beside its input")
    b.add_argument("inputs", metavar="FOLDER|GLOB",
                   help="a folder (its files, not subfolders) or a quoted glob such as "
                        "'requests/*.json' ('**' recurses); .out and .error files are skipped")
    for command in (s, b):
        command.add_argument("--content-type", default="application/json",
                             help="content type of the uploads (default: application/json)")
    w = sub.add_parser("wait", help="wait for a job's result")
    w.add_argument("id", help="the job id submit printed")
    r = sub.add_parser("replay", help="submit a failed job's request again")
    r.add_argument("id", help="the id of the failed job")
    for command in (s, r):
        command.add_argument("--wait", action="store_true", help="wait for the result")
    for command in (s, w, r):
        command.add_argument("--out", metavar="PATH",
                             help="write the result to this file instead of stdout")
    b.add_argument("--out", metavar="DIR",
                   help="write <name>.out / <name>.error into this folder (made if missing) "
                        "instead of beside each input")
    for command in (s, w, r, b):
        command.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                             help="seconds to wait at most (default: no limit)")
        command.add_argument("--check-every", type=_at_least_one_second, default=CHECK_EVERY,
                             metavar="SECONDS",
                             help="read the job ledger this often while waiting, in case "
                                  "a notification is missed: the longest a finished job can "
                                  f"go unseen (default: {CHECK_EVERY:g}; each read costs one "
                                  "DynamoDB read unit per job still waiting)")


def _at_least_one_second(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds >= 1:
        raise argparse.ArgumentTypeError(f"{text} s: the ledger is read at most once a second")
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "submit" and (args.file is None) == (args.prompt is None):
        p.error("submit takes a FILE or --prompt")
    try:
        return _run(args, _session(args))
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except JobFailed as exc:
        return _fail(str(exc), JOB_FAILED)
    except JobTimeout as exc:
        return _fail(str(exc), TIMED_OUT)
    except (KeyError, ValueError, OSError) as exc:
        return _fail(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc), PROBLEM)
    except (BotoCoreError, ClientError) as exc:
        return _fail(_aws_problem(exc, args), PROBLEM)


def _session(args: argparse.Namespace) -> Any:
    if args.region is None and args.profile is None:
        return None  # boto3's default session: the usual environment
    return boto3.Session(region_name=args.region, profile_name=args.profile)


def _run(args: argparse.Namespace, session: Any) -> int:
    if args.command == "invoke":
        return _invoke(args, session)
    endpoint = AsyncEndpoint.from_stack(args.stack, session=session)
    if args.command == "status":
        print(json.dumps(endpoint.status(args.id), indent=2, sort_keys=True))
        return DONE
    if args.command == "submit-batch":
        return _submit_batch(args, endpoint)
    wait = args.command == "wait" or args.wait
    if args.command == "submit":
        job = endpoint.submit(args.file, prompt=args.prompt,
                              parameters={"max_new_tokens": args.max_new_tokens},
                              content_type=args.content_type, watch=wait)
    elif args.command == "replay":
        job = endpoint.replay(args.id, watch=wait)
    else:
        job = endpoint.job(args.id)  # an unknown id fails here, at once
    try:
        if wait:
            print(f"job {job.inference_id}", file=sys.stderr)
            return _emit(job.result(timeout=args.timeout, progress=print_progress,
                                    check_every=args.check_every), args.out)
    finally:
        job.close()  # no queue or subscription left behind, on any path
    print(job.inference_id)  # the id, alone on stdout, for scripts
    return DONE


def _submit_batch(args: argparse.Namespace, endpoint: AsyncEndpoint) -> int:
    paths = files.inputs(args.inputs)
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    jobs = endpoint.submit_many(paths, content_type=args.content_type, watch=True,
                                progress=files.upload_line)
    print(f"\nbatch {jobs.batch_id}: {len(jobs)} jobs under {jobs.location}", file=sys.stderr)
    try:
        with files.ResultFiles(jobs, out) as writer:
            outcomes = endpoint.wait_all(jobs, timeout=args.timeout,
                                         progress=files.progress_line, on_finished=writer.add,
                                         check_every=args.check_every)
    finally:
        jobs.close()  # wait_all has, unless it never started
    return _batch_report(outcomes, writer.written)


def _batch_report(outcomes: list[Outcome], written: dict[str, Path]) -> int:
    """One line per job on stdout (id, status, file written); a summary and the exit code."""
    for o in outcomes:
        print(f"{o.job.inference_id}\t{o.status}\t{written.get(o.job.inference_id, '')}")
    failed = sum(o.status == "failed" for o in outcomes)
    waiting = sum(not o.finished for o in outcomes)
    print(f"\n{len(outcomes) - failed - waiting} done, {failed} failed (see their .error "
          f"files), {waiting} still running", file=sys.stderr)
    return JOB_FAILED if failed else TIMED_OUT if waiting else DONE


def _aws_problem(exc: Exception, args: argparse.Namespace) -> str:
    """One line with the fix, for the AWS failures a user meets."""
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION (or a region in your profile)"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: pass --profile, or configure them (aws configure, SSO)"
    if isinstance(exc, ProfileNotFound):
        return f"{exc}: pass a profile of your AWS config"
    if isinstance(exc, ClientError) and "does not exist" in str(exc):
        where = f" in {args.region}" if args.region else ""
        return (f"no stack {args.stack!r}{where}: check --stack and --region "
                "(npx cdk list shows the stack names)")
    return f"AWS: {exc}"


def _fail(message: str, code: int) -> int:
    print(f"\n{message}", file=sys.stderr)
    return code


def _invoke(args: argparse.Namespace, session: Any) -> int:
    outputs = stack_outputs(args.stack, session)
    endpoint = RealtimeEndpoint(outputs["EndpointName"], session,
                                component=_component(args, outputs))
    params = {"max_new_tokens": args.max_new_tokens}
    if args.stream:
        for token in endpoint.stream(args.prompt, params):
            print(token, end="", flush=True)
        print()
    else:
        print(json.dumps(endpoint.invoke(args.prompt, params), indent=2))
    return DONE


def _component(args: argparse.Namespace, outputs: dict[str, str]) -> str | None:
    """The InferenceComponentName to call: --component's, or a components stack's only one."""
    names = component_names(outputs)
    if args.component is None:
        if len(names) > 1:
            raise ValueError(f"stack {args.stack} serves {len(names)} inference components: "
                             f"pass --component ({', '.join(sorted(names))})")
        return next(iter(names.values()), None)
    if args.component in names.values():
        return str(args.component)
    if args.component in names:
        return names[args.component]
    known = ", ".join(sorted(names)) or "none: its endpoint has no inference components"
    raise ValueError(f"stack {args.stack} has no inference component {args.component!r} "
                     f"({known})")


def _emit(data: bytes, out: str | None) -> int:
    print(file=sys.stderr)
    if out:
        Path(out).write_bytes(data)
        print(f"saved {len(data)} bytes to {out}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8", errors="replace") + "\n")
    return DONE


if __name__ == "__main__":
    sys.exit(main())
