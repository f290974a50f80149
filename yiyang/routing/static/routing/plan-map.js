// 排线调度: the routes on a plain lon/lat plane (Apache ECharts, vendored; no map tiles). One line series per
// caregiver from their start (square) through the visits (numbered dots) and back; unassigned visits are grey
// crosses. The data come from the page (json_script); the lists below the map stay the reference.
(function () {
  "use strict";
  var holder = document.getElementById("route-map");
  var source = document.getElementById("route-map-data");
  if (!holder || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var xs = [], ys = [];
  data.routes.forEach(function (r) { r.line.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
  data.unassigned.forEach(function (p) { xs.push(p.lon); ys.push(p.lat); });
  if (!xs.length) { holder.hidden = true; return; }
  // Equal scale: one degree of longitude is cos(latitude) of one of latitude; pad the shorter side.
  var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs);
  var minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
  var k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  var w = holder.clientWidth || 800, h = holder.clientHeight || 460;
  var spanX = Math.max((maxX - minX) * k, 0.002), spanY = Math.max(maxY - minY, 0.002);
  var scale = Math.max(spanX / w, spanY / h) * 1.15;
  var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  var halfX = scale * w / 2 / k, halfY = scale * h / 2;
  var series = [];
  data.routes.forEach(function (r) {
    series.push({ name: r.caregiver, type: "line", data: r.line, showSymbol: false, lineStyle: { color: r.colour, width: 2 },
                  tooltip: { show: false }, z: 1 });
    series.push({ name: r.caregiver, type: "scatter", symbolSize: 18, itemStyle: { color: r.colour }, z: 3,
                  label: { show: true, formatter: function (p) { return p.data.position; }, color: "#fff", fontSize: 10 },
                  data: r.points.map(function (p) { return { value: [p.lon, p.lat], position: p.position, elder: p.elder,
                                                             item: p.item, arrival: p.arrival, caregiver: r.caregiver }; }) });
    if (r.start) {
      series.push({ name: r.caregiver, type: "scatter", symbol: "rect", symbolSize: 12, z: 2,
                    itemStyle: { color: "#fff", borderColor: r.colour, borderWidth: 3 },
                    data: [{ value: r.start, start: true, caregiver: r.caregiver }] });
    }
  });
  if (data.unassigned.length) {
    series.push({ name: data.labels.unassigned, type: "scatter", symbol: "path://M0,0L10,10M10,0L0,10", symbolSize: 12,
                  itemStyle: { color: "#9aa5b1", borderColor: "#616e7c", borderWidth: 2 }, z: 2,
                  data: data.unassigned.map(function (p) { return { value: [p.lon, p.lat], elder: p.elder, item: p.item,
                                                                    reason: p.reason }; }) });
  }
  var esc = window.echarts.format.encodeHTML;
  var chart = window.echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: false },
    xAxis: { type: "value", min: cx - halfX, max: cx + halfX, show: false },
    yAxis: { type: "value", min: cy - halfY, max: cy + halfY, show: false },
    tooltip: {
      trigger: "item",
      formatter: function (p) {
        var d = p.data || {};
        if (d.start) return esc(d.caregiver + " · " + data.labels.start);
        if (d.reason) return esc(d.elder + " · " + d.item) + "<br>" + esc(d.reason);
        return esc(d.position + ". " + d.elder + " · " + d.item) + "<br>" +
          esc(data.labels.arrival + " " + d.arrival + " · " + d.caregiver);
      }
    },
    series: series
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
