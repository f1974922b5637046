/* Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">
   (made by a view with json_script from campaigns/charts.py). Runs on load and after every htmx swap.
   `options.plugins.bands.ranges` = [[fromIndex, toIndex], ...] shades periods (e.g. pauses) behind the data;
   `options.plugins.markers.items` = [{index, number, label, kind, color}, ...] draws numbered vertical lines
   (timeline notes and status changes; the list beside the chart says what each number is). An
   `annotationsChanged` event ({chart: ID, markers: [...]}, sent by the server with HX-Trigger) redraws them. */
(function () {
  "use strict";

  const bandsPlugin = {
    id: "bands",
    beforeDatasetsDraw(chart, _args, opts) {
      const ranges = (opts && opts.ranges) || [];
      const x = chart.scales.x;
      const area = chart.chartArea;
      if (!x || !ranges.length) return;
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = opts.color || "rgba(255, 191, 71, 0.22)";
      for (const [from, to] of ranges) {
        const left = x.getPixelForValue(from) - (x.width / Math.max(chart.data.labels.length, 1)) / 2;
        const right = x.getPixelForValue(to) + (x.width / Math.max(chart.data.labels.length, 1)) / 2;
        ctx.fillRect(Math.max(left, area.left), area.top, Math.min(right, area.right) - Math.max(left, area.left), area.bottom - area.top);
      }
      ctx.restore();
    },
  };

  const markersPlugin = {
    id: "markers",
    afterDatasetsDraw(chart, _args, opts) {
      const items = (opts && opts.items) || [];
      const x = chart.scales.x;
      const area = chart.chartArea;
      if (!x || !items.length) return;
      const ctx = chart.ctx;
      const perDay = {};
      ctx.save();
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.textAlign = "center";
      for (const item of items) {
        const left = x.getPixelForValue(item.index);
        const stack = (perDay[item.index] = (perDay[item.index] || 0) + 1) - 1;
        ctx.strokeStyle = ctx.fillStyle = item.color || "#5a6573";
        ctx.setLineDash(item.kind === "note" ? [4, 3] : []);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(left, area.top + 14);
        ctx.lineTo(left, area.bottom);
        ctx.stroke();
        ctx.fillText(String(item.number), left + stack * 12, area.top + 10);
      }
      ctx.restore();
    },
  };

  document.addEventListener("annotationsChanged", function (event) {
    const detail = event.detail || {};
    const canvas = document.querySelector('canvas[data-chart="' + detail.chart + '"]');
    const chart = canvas && window.Chart && window.Chart.getChart(canvas);
    if (!chart) return;
    chart.options.plugins.markers = { items: detail.markers || [] };
    chart.update("none");
  });

  function hasData(config) {
    const datasets = (config.data && config.data.datasets) || [];
    return datasets.some(function (set) { return (set.data || []).some(function (v) { return Number(v) !== 0; }); });
  }

  function draw(root) {
    if (typeof window.Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn === "1") return;
      const source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      const config = JSON.parse(source.textContent);
      if (!hasData(config)) {
        // No figure above zero: Chart.js would draw empty 0–1 axes. Say so instead; the numbers table stays.
        const note = document.createElement("p");
        note.className = "chart-empty";
        note.textContent = canvas.dataset.emptyText || "Nothing to chart yet: every value is 0.";
        canvas.hidden = true;
        canvas.dataset.drawn = "1";
        canvas.insertAdjacentElement("afterend", note);
        return;
      }
      config.options = config.options || {};
      config.options.responsive = true;
      config.options.maintainAspectRatio = false;
      config.options.animation = false;
      config.plugins = [bandsPlugin, markersPlugin];
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  window.addEventListener("beforeprint", function () {
    if (typeof window.Chart === "undefined") return;
    Object.values(window.Chart.instances || {}).forEach(function (c) { c.resize(); });
  });
})();
