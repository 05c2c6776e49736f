#!/usr/bin/env bash
# The deploy-risk guard as the pipeline runs it (stacks/pipeline.py, before the first wave):
# the commit last deployed to every stage (the SSM parameter $DEPLOYED_COMMIT_PARAMETER,
# written after the last wave) against this checkout, with `make risk`. Rules are accepted
# by `Accept-Risk: <rule>` trailers of the commits in between. The step fails on a finding
# not accepted, and when the guard cannot judge (it fails closed).
set -euo pipefail

base=$(aws ssm get-parameter --name "$DEPLOYED_COMMIT_PARAMETER" \
  --query Parameter.Value --output text 2>/dev/null || echo none)
if [ "$base" = none ]; then
  echo "Nothing deployed by this pipeline yet ($DEPLOYED_COMMIT_PARAMETER is not set): no comparison"
  exit 0
fi
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  git fetch --quiet --unshallow 2>/dev/null || true  # a shallow clone: fetch the history
fi
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "error: the deployed commit $base is not in this clone: the guard cannot judge" >&2
  exit 2
fi
accept=$(git log --format='%(trailers:key=Accept-Risk,valueonly,separator=%x2C)' \
  "$base..HEAD" | paste -sd, -)
echo "Comparing with the deployed commit $base; accepted: ${accept:-nothing}"
make risk BASE="$base" ACCEPT="$accept"
