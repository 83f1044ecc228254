# Sourced by the loom program's tests; needs $loom (the program) and $work (a scratch folder).
# expect_error PATTERN ARGS...: `loom ARGS...` must exit with code 2 and print at most
# $error_lines lines on stderr (1 unless the test sets it: CLI11's own parse errors add a
# pointer to --help), one of them matching PATTERN. Otherwise it says what it got and exits 1.
error_lines=${error_lines:-1}
expect_error() {
  local pattern="$1"
  shift
  local code=0
  "$loom" "$@" > "$work/out" 2> "$work/err" || code=$?
  if [ "$code" -ne 2 ]; then echo "loom $*: exit code $code, expected 2"; exit 1; fi
  if [ "$(wc -l < "$work/err")" -gt "$error_lines" ] || ! grep -q -- "$pattern" "$work/err"; then
    echo "loom $*: expected at most $error_lines line(s) of error matching '$pattern', got:"
    cat "$work/err"
    exit 1
  fi
}
