#!/usr/bin/env bash
# Renders reports in headless Chromium, each with chart_probe.js appended to a copy, and prints one
# line per chart on what was drawn ("PAGE: ok|FAIL TITLE (WxH): ..."). Fails when a page draws no
# chart, a chart fails, or a page logs a console error. Offline (file:// pages only), and one
# browser for all the pages: each is an iframe of one index page.
# Usage: report_charts.sh REPORT.html...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pages=("$@")
frames=""
for i in "${!pages[@]}"; do
  # A script after </html> joins the body (HTML parsing rules), so the report itself is untouched.
  { cat "${pages[$i]}"; printf '<script>'; cat "$here/chart_probe.js"; printf '</script>'; } > "$work/$i.html"
  frames+="<iframe width=\"1000\" height=\"700\" src=\"$i.html\"></iframe>"
done
# Once every frame has loaded: each frame's probe lines, prefixed with the frame's number.
cat > "$work/index.html" <<HTML
<!DOCTYPE html><html><body>$frames<script>
const self = document.currentScript;
window.addEventListener('load', () => {
  const lines = [];
  document.querySelectorAll('iframe').forEach((frame, i) => {
    const probe = frame.contentDocument && frame.contentDocument.getElementById('chart-probe');
    for (const line of probe ? probe.textContent.split('\n') : []) if (line) lines.push(i + ' ' + line);
  });
  const out = document.createElement('pre');
  out.id = 'charts';
  out.textContent = lines.join('\n');
  document.body.appendChild(out);
  self.remove();
});
</script></body></html>
HTML
timeout 120 chromium --headless=new --no-sandbox --disable-gpu --allow-file-access-from-files --enable-logging=stderr \
  --v=0 --dump-dom "file://$work/index.html" > "$work/dom.html" 2> "$work/log" || true
status=0
for i in "${!pages[@]}"; do
  charts=$(grep -oE "^(<pre id=\"charts\">)?$i (ok|FAIL) [^<]*" "$work/dom.html" | sed -E "s/^(<pre id=\"charts\">)?$i //") || true
  if [ -z "$charts" ]; then
    echo "${pages[$i]}: no chart was drawn"
    status=1
    continue
  fi
  while IFS= read -r line; do
    echo "${pages[$i]}: $line"
    [[ $line == FAIL* ]] && status=1
  done <<< "$charts"
done
if grep -E 'CONSOLE|Uncaught' "$work/log"; then
  echo "console errors above"
  status=1
fi
exit $status
