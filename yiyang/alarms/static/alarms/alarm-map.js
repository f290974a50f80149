// An alarm's position beside the home, on a plain lon/lat plane (Apache ECharts, vendored; no map tiles, the
// deployments are often on closed networks). The data come from the page (json_script).
(function () {
  "use strict";
  var holder = document.getElementById("alarm-map");
  var source = document.getElementById("alarm-map-data");
  if (!holder || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var xs = data.points.map(function (p) { return p.value[0]; });
  var ys = data.points.map(function (p) { return p.value[1]; });
  var pad = 0.004;
  var chart = window.echarts.init(holder);
  chart.setOption({
    animation: false,
    grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: false },
    xAxis: { type: "value", show: false, min: Math.min.apply(null, xs) - pad, max: Math.max.apply(null, xs) + pad },
    yAxis: { type: "value", show: false, min: Math.min.apply(null, ys) - pad, max: Math.max.apply(null, ys) + pad },
    tooltip: { formatter: function (p) { return p.name + "<br>" + p.value[1].toFixed(5) + ", " + p.value[0].toFixed(5); } },
    series: [{ type: "scatter", symbolSize: 16, data: data.points,
               itemStyle: { color: function (p) { return p.dataIndex === 0 ? "#1f6f8b" : "#b3261e"; } },
               label: { show: true, position: "right", formatter: function (p) { return p.name; } } }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
