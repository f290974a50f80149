// 发放统计: amounts per region, one stacked bar per region and a colour per programme (Apache ECharts,
// vendored). The figures come from the page (json_script); the table below the chart stays the reference.
(function () {
  "use strict";
  var holder = document.getElementById("totals-chart");
  var source = document.getElementById("totals-chart-data");
  if (!holder || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  if (!data.regions.length) { holder.hidden = true; return; }
  holder.style.height = Math.max(220, 36 * data.regions.length + 80) + "px";
  var chart = window.echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "value", name: data.unit },
    yAxis: { type: "category", data: data.regions, inverse: true },
    series: data.series.map(function (s) {
      return { name: s.name, type: "bar", stack: "total", data: s.values, emphasis: { focus: "series" } };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
