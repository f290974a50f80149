// 巡访覆盖率: the last six months' rate (line) over the visits due and done (bars), Apache ECharts (vendored).
// The figures come from the page (json_script); the table beside the chart stays the reference.
(function () {
  "use strict";
  var holder = document.getElementById("visits-trend");
  var source = document.getElementById("visits-trend-data");
  if (!holder || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  // Through the DOM: the Content-Security-Policy refuses a style="" attribute in the markup.
  holder.style.height = "260px";
  var chart = window.echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.months },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [
      { name: data.dueName, type: "bar", data: data.due },
      { name: data.doneName, type: "bar", data: data.done },
      { name: data.rateName, type: "line", yAxisIndex: 1, data: data.rates, connectNulls: false }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
