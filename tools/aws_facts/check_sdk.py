import json, sys
from sagemaker.core import image_uris
t = json.load(open(sys.argv[1]))
fw = {"tgi": "huggingface-llm", "vllm": "vllm", "sglang": "sglang", "lmi": "djl-lmi",
      "hf_vllm": "huggingface-vllm", "hf_sglang": "huggingface-sglang"}
n = bad = 0
for kind, e in t.items():
    if kind.startswith("_"): continue
    for v, ve in e["versions"].items():
        for region, acct in ve["registries"].items():
            if kind == "pytorch":
                for dev, it in (("gpu", "ml.g5.xlarge"), ("cpu", "ml.m5.xlarge")):
                    uri = image_uris.retrieve("huggingface", region, version=v, image_scope="inference",
                        base_framework_version="pytorch" + ve["pytorch_version"], instance_type=it)
                    n += 1
                    if not uri.startswith(f"{acct}.dkr.ecr.{region}.") or not uri.endswith(f"/{e['repository']}:{ve['tag'][dev]}"):
                        bad += 1; print("MISMATCH", kind, v, region, uri)
                continue
            uri = image_uris.retrieve(fw[kind], region, version=v, image_scope="inference", instance_type="ml.g5.xlarge")
            n += 1
            if not uri.startswith(f"{acct}.dkr.ecr.{region}.") or not uri.endswith(f"/{e['repository']}:{ve['tag']}"):
                bad += 1; print("MISMATCH", kind, v, region, uri)
print(n, "URIs compared with image_uris.retrieve,", bad, "differ")
