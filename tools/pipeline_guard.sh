#!/usr/bin/env bash
# The deploy-risk guard as the pipeline runs it (stacks/pipeline.py, before the first wave):
# the commit last deployed to every stage (the SSM parameter $DEPLOYED_COMMIT_PARAMETER,
# written after the last wave) against this checkout, with `make risk`: the stages of
# $PIPELINE_FILE as they deploy (placed and overridden) at both commits. Rules are accepted
# by `Accept-Risk: <rule>` trailers of the commits in between. The step fails on a finding
# not accepted, and when the guard cannot judge (it fails closed).
set -euo pipefail
: "${DEPLOYED_COMMIT_PARAMETER:?set by the pipeline}" "${PIPELINE_FILE:?set by the pipeline}"

here=$(cd "$(dirname "$0")" && pwd)
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

# Only "the parameter does not exist" means nothing was deployed yet: any other failure
# (AccessDenied, throttling, no network; the CLI exits 254 or 255 for all of them) is a
# guard that cannot judge, not a first run.
if ! base=$(aws ssm get-parameter --name "$DEPLOYED_COMMIT_PARAMETER" \
    --query Parameter.Value --output text 2>"$errors"); then
  if grep -q ParameterNotFound "$errors"; then
    echo "Nothing deployed by this pipeline yet ($DEPLOYED_COMMIT_PARAMETER is not set): no comparison"
    exit 0
  fi
  echo "error: cannot read $DEPLOYED_COMMIT_PARAMETER, so the guard cannot judge: $(cat "$errors")" >&2
  exit 2
fi
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  git fetch --quiet --unshallow 2>/dev/null || true  # a shallow clone: fetch the history
fi
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "error: the deployed commit $base is not in this clone: the guard cannot judge" >&2
  exit 2
fi

# A trailer naming no rule is dropped with a warning: history cannot be edited, so an
# error would block every later run (a pull request's labels can be fixed: they stay strict).
known=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import deploy_risk
print(" ".join(deploy_risk.RULES))' "$here")
accept=""
while IFS= read -r value; do
  if [[ " $known " == *" $value "* ]]; then
    accept="${accept:+$accept,}$value"
  else
    echo "warning: ignoring 'Accept-Risk: $value': not a rule (known: ${known// /, }); a later commit's trailer can name the right one" >&2
  fi
done < <(git log --format='%(trailers:key=Accept-Risk,valueonly,separator=%x2C)' "$base..HEAD" \
  | tr ' ' ',' | tr ',' '\n' | sed '/^$/d' | sort -u)
echo "Comparing with the deployed commit $base; accepted: ${accept:-nothing}"
# The stages of $PIPELINE_FILE as deployed, at both commits: no other config, no other place.
make risk BASE="$base" ACCEPT="$accept" RISK_PIPELINE="$PIPELINE_FILE"
