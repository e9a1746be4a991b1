/* Plain SVG charts: stacked bars of sent (green) and failed (red) per bucket. */
"use strict";

V.SVG = "http://www.w3.org/2000/svg";
V.s = function (tag, attrs) {
  var node = document.createElementNS(V.SVG, tag);
  Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
  return node;
};

V.deliveryChart = function (buckets, width) {
  width = Math.max(300, Math.floor(width || 900));
  var height = 220, left = 40, bottom = 20, top = 10;
  var svg = V.s("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "deliveries per minute" });
  var peak = Math.max(1, Math.max.apply(null, buckets.map(function (b) { return b.sent + b.failed; })));
  var plotHeight = height - bottom - top;
  var step = (width - left) / Math.max(1, buckets.length);
  svg.appendChild(V.s("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  (peak >= 2 ? [0, Math.round(peak / 2), peak] : [0, peak]).forEach(function (value) {
    var y = height - bottom - (value / peak) * plotHeight;
    var label = V.s("text", { x: 2, y: y + 4 });
    label.textContent = String(value);
    svg.appendChild(label);
  });
  buckets.forEach(function (bucket, index) {
    var x = left + index * step;
    var sentHeight = (bucket.sent / peak) * plotHeight;
    var failedHeight = (bucket.failed / peak) * plotHeight;
    var barWidth = Math.max(1, step - 1);
    if (bucket.sent) svg.appendChild(V.s("rect", { class: "sent", x: x, width: barWidth, y: height - bottom - sentHeight, height: sentHeight }));
    if (bucket.failed) svg.appendChild(V.s("rect", { class: "failed", x: x, width: barWidth, y: height - bottom - sentHeight - failedHeight, height: failedHeight }));
    if (index % Math.ceil(buckets.length / 6) === 0) {
      var tick = V.s("text", { x: x, y: height - 5 });
      tick.textContent = bucket.start.slice(11, 16);
      svg.appendChild(tick);
    }
    var title = V.s("title", {});
    title.textContent = bucket.start + ": " + bucket.sent + " sent, " + bucket.failed + " failed";
    var hit = V.s("rect", { x: x, width: Math.max(1, step), y: top, height: plotHeight, fill: "transparent" });
    hit.appendChild(title);
    svg.appendChild(hit);
  });
  return V.h("div", {}, svg, V.h("div", { class: "legend muted" }, V.h("span", { class: "sent", text: "sent" }), V.h("span", { class: "failed", text: "failed" })));
};
