#!/usr/bin/env bash
# Runs one desktag command for the GitHub Action (action.yml).
#
# DESKTAG_ARGS and DESKTAG_PATHS hold one argument per line: each line is passed as it is, never
# split on spaces nor expanded as a glob (`--target FIN-*` reaches desktag as written, and an
# argument may contain spaces). Blank lines and the spaces around each line are dropped.
# With `--plan FILE` in the arguments, no paths are passed: a saved plan carries its manifests.
#
# Writes to GITHUB_OUTPUT: exit_code, markdown (the comment file: the plan or report in
# markdown) and report (apply's JSON report); desktag itself adds has_changes, blocked, failed.
set -euo pipefail

command=${DESKTAG_COMMAND:?}
case "$command" in
  validate | plan | apply) ;;
  *)
    echo "::error::desktag action: command must be validate, plan or apply, not '$command'"
    exit 1
    ;;
esac

# The non-blank lines of $1, trimmed, NUL-terminated (bash 3.2 on macOS has no namerefs).
lines() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [ -n "$line" ]; then printf '%s\0' "$line"; fi
  done <<<"$1"
}

args=()
while IFS= read -r -d '' arg; do args+=("$arg"); done < <(lines "${DESKTAG_ARGS:-}")
paths=()
while IFS= read -r -d '' path; do paths+=("$path"); done < <(lines "${DESKTAG_PATHS-.}")
for arg in ${args[@]+"${args[@]}"}; do
  case "$arg" in --plan | --plan=*) paths=() ;; esac
done

out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/desktag-${GITHUB_RUN_ID:-local}-$$"
mkdir -p "$out_dir"
markdown="$out_dir/comment.md"
report=""
extra=()
case "$command" in
  validate) extra=(--format github) ;;
  plan) extra=(--format markdown) ;;
  apply)
    report="$out_dir/report.json"
    extra=(--auto-approve --report-format markdown --report "$report")
    ;;
esac

set +e
"${DESKTAG_BIN:-desktag}" "$command" "${extra[@]}" ${args[@]+"${args[@]}"} ${paths[@]+"${paths[@]}"} |
  tee "$markdown"
code=${PIPESTATUS[0]}
set -e

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit_code=$code"
    if [ "$command" != validate ]; then echo "markdown=$markdown"; fi
    if [ -n "$report" ] && [ -f "$report" ]; then echo "report=$report"; fi
  } >>"$GITHUB_OUTPUT"
fi
# 2 (changes, with --detailed-exitcode) is a success; 1 (error) and 3 (blocked) fail the step.
if [ "$code" -eq 2 ]; then exit 0; fi
exit "$code"
