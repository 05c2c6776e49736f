"""llm-client (or python -m llm_client) --stack <endpoint stack> <command> ...

  submit FILE | --prompt TEXT [--wait] [--out PATH] [--timeout S]
  wait ID [--out PATH] [--timeout S]
  status ID
  replay ID [--wait]
  invoke --prompt TEXT [--stream] [--max-new-tokens N]     (real-time endpoints)

Region and credentials come from the usual AWS environment (profile, variables).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .client import (AsyncEndpoint, Job, JobFailed, JobTimeout, RealtimeEndpoint,
                     print_progress, stack_outputs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="llm-client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", required=True, help="the endpoint's stack name")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit")
    s.add_argument("file", nargs="?")
    s.add_argument("--prompt")
    s.add_argument("--max-new-tokens", type=int, default=256)
    s.add_argument("--content-type", default="application/json")
    for parser in (s, sub.add_parser("wait"), sub.add_parser("replay")):
        if parser is not s:
            parser.add_argument("id")
        if parser.prog.endswith(("submit", "replay")):
            parser.add_argument("--wait", action="store_true")
        parser.add_argument("--out", help="write the result here instead of stdout")
        parser.add_argument("--timeout", type=float, default=None)
    sub.add_parser("status").add_argument("id")
    i = sub.add_parser("invoke")
    i.add_argument("--prompt", required=True)
    i.add_argument("--stream", action="store_true")
    i.add_argument("--max-new-tokens", type=int, default=256)
    args = p.parse_args(argv)

    try:
        if args.command == "invoke":
            return _invoke(args)
        endpoint = AsyncEndpoint.from_stack(args.stack)
        if args.command == "status":
            print(json.dumps(endpoint.status(args.id), indent=2, sort_keys=True))
            return 0
        if args.command == "submit":
            if (args.file is None) == (args.prompt is None):
                p.error("submit takes a FILE or --prompt")
            job = endpoint.submit(args.file, prompt=args.prompt,
                                  parameters={"max_new_tokens": args.max_new_tokens},
                                  content_type=args.content_type)
        elif args.command == "replay":
            job = endpoint.replay(args.id)
        else:
            job = Job(endpoint, inference_id=args.id, input_location="")
        if args.command == "wait" or args.wait:
            print(f"job {job.inference_id}", file=sys.stderr)
            return _emit(job.result(timeout=args.timeout, progress=print_progress), args.out)
        if job._watch is not None:
            job._watch.close()
        print(job.inference_id)  # the id, alone on stdout, for scripts
        return 0
    except JobFailed as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
        return 2
    except (JobTimeout, KeyError, ValueError) as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1


def _invoke(args: argparse.Namespace) -> int:
    endpoint = RealtimeEndpoint(stack_outputs(args.stack)["EndpointName"])
    params = {"max_new_tokens": args.max_new_tokens}
    if args.stream:
        for token in endpoint.stream(args.prompt, params):
            print(token, end="", flush=True)
        print()
    else:
        print(json.dumps(endpoint.invoke(args.prompt, params), indent=2))
    return 0


def _emit(data: bytes, out: str | None) -> int:
    print(file=sys.stderr)
    if out:
        Path(out).write_bytes(data)
        print(f"saved {len(data)} bytes to {out}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8", errors="replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
