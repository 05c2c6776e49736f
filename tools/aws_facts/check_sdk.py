#!/usr/bin/env python3
"""Cross-check the generated image table against the SageMaker SDK's own URI builder.

    python tools/aws_facts/check_sdk.py [llm_constructs/data/dlc_images.json]

Needs ``sagemaker-core`` installed (a venv of its own: it pulls many dependencies); calls
``sagemaker.core.image_uris.retrieve`` for every (backend, version, region) of the table, and
for the PyTorch DLC for both its GPU and CPU build, and compares account, repository and tag.
Slow (retrieve resolves endpoints each call): about 6 minutes for 3,350 URIs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sagemaker.core import image_uris

FRAMEWORK = {"tgi": "huggingface-llm", "vllm": "vllm", "sglang": "sglang", "lmi": "djl-lmi",
             "hf_vllm": "huggingface-vllm", "hf_sglang": "huggingface-sglang"}
DEVICE_INSTANCE = {"gpu": "ml.g5.xlarge", "cpu": "ml.m5.xlarge"}


def sdk_uri(kind: str, version: str, entry: dict, region: str, device: str) -> str:
    if kind == "pytorch":
        return image_uris.retrieve("huggingface", region, version=version, image_scope="inference",
                                   base_framework_version="pytorch" + entry["pytorch_version"],
                                   instance_type=DEVICE_INSTANCE[device])
    return image_uris.retrieve(FRAMEWORK[kind], region, version=version, image_scope="inference",
                               instance_type=DEVICE_INSTANCE[device])


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else (Path(__file__).resolve().parents[2] / "llm_constructs"
                                       / "data" / "dlc_images.json")
    table = json.loads(path.read_text())
    compared, differ = 0, 0
    for kind, backend in table.items():
        if kind.startswith("_"):  # _about, _source
            continue
        for version, entry in backend["versions"].items():
            tags = entry["tag"] if isinstance(entry["tag"], dict) else {"gpu": entry["tag"]}
            for region, account in entry["registries"].items():
                for device, tag in tags.items():
                    uri = sdk_uri(kind, version, entry, region, device)
                    compared += 1
                    if not (uri.startswith(f"{account}.dkr.ecr.{region}.")
                            and uri.endswith(f"/{backend['repository']}:{tag}")):
                        differ += 1
                        print(f"differs: {kind} {version} {region} {device}: SDK {uri}")
    print(f"{compared} URIs compared with image_uris.retrieve, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
