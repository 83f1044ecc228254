// Appended to a copy of a report by report_charts.sh, run by headless Chromium: one line per chart
// (svg.chart) on what the browser drew, in <pre id="chart-probe"> for report_charts.sh to collect.
// A chart fails when it has no size, no series, a series with fewer or more points drawn than it
// has finite values, a series whose values differ but whose line spans under 2 px (flat at the
// bottom of an axis scaled for something else), or a best-epoch mark (data-best) without its line.
(() => {
  const lines = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    const problems = [], parts = [];
    if (!(box.width > 0 && box.height > 0)) problems.push('not rendered');
    const series = svg.querySelectorAll('polyline.series');
    if (series.length === 0) problems.push('no series');
    for (const line of series) {
      const name = line.dataset.name;
      const values = line.dataset.values.split(' ').map(Number).filter(Number.isFinite);
      const distinct = new Set(values).size;
      const points = line.points.numberOfItems;
      const span = line.getBoundingClientRect().height;
      if (points !== values.length) problems.push(`${name}: ${points} points drawn for ${values.length} values`);
      if (distinct > 1 && span < 2) problems.push(`${name}: ${distinct} distinct values drawn within ${span.toFixed(2)} px`);
      parts.push(`${name} ${points} points, ${distinct} distinct, span ${span.toFixed(0)} px`);
    }
    if (svg.dataset.best) {
      const mark = svg.querySelector('line.best');
      if (!mark || !(mark.getBoundingClientRect().height > 0)) problems.push('the best epoch is not marked');
      else parts.push(`best epoch ${svg.dataset.best}`);
    }
    const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
    lines.push(`${problems.length ? 'FAIL' : 'ok'} ${svg.getAttribute('aria-label')} (${size}): ` +
               (problems.length ? problems : parts).join('; '));
  }
  const out = document.createElement('pre');
  out.id = 'chart-probe';
  out.textContent = lines.join('\n');
  document.body.appendChild(out);
})();
