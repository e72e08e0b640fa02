// Browser script inlined into the HTML report by report.ts: draws every chart as inline SVG from the page's
// <script id="report-data"> JSON. No network, no libraries. After drawing, each chart element gets
// data-drawn="true" and data-bars="<rects drawn>", and <body> gets data-charts-drawn="<charts drawn>", so a headless
// browser's DOM dump shows whether the page actually rendered.
"use strict"
;(function () {
  var SVG = "http://www.w3.org/2000/svg"
  var PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#86bcb6", "#d37295", "#c7c7c7"]

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name)
    for (var k in attrs) node.setAttribute(k, String(attrs[k]))
    if (parent) parent.appendChild(node)
    return node
  }
  function text(parent, x, y, s, attrs) {
    var t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent)
    t.textContent = s
    return t
  }
  function fmt(v) {
    if (v === 0) return "0"
    var a = Math.abs(v)
    return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : String(Number(v.toPrecision(3)))
  }
  function niceMax(v) {
    if (!(v > 0)) return 1
    var p = Math.pow(10, Math.floor(Math.log10(v)))
    var steps = [1, 2, 2.5, 5, 10]
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p
    return 10 * p
  }

  // Horizontal bars: one group per row (baseline), each group a list of stacked segments or side-by-side series.
  // spec = { rows: [{ label, series: [[{ name, value }]] }], unit, legend: [names] }; each inner array is one bar
  // (its segments stacked), so [[p50], [p95]] gives two bars per row and [[a, b, c]] one stacked bar.
  function drawBars(container, spec) {
    var labelW = 130, barH = 14, gap = 3, groupGap = 10, width = 640, right = 70, top = 8
    var groups = spec.rows
    var perGroup = groups.length ? groups[0].series.length : 1
    var groupH = perGroup * (barH + gap) - gap
    // Legend entries flow left to right and wrap at the chart's width.
    var legend = [], lx = labelW, ly = 0
    if (spec.legend.length > 1) {
      spec.legend.forEach(function (name, i) {
        var w = 24 + name.length * 6.5
        if (lx + w > width && lx > labelW) { lx = labelW; ly += 16 }
        legend.push({ name: name, i: i, x: lx, y: ly })
        lx += w
      })
    }
    var legendH = legend.length ? ly + 26 : 0
    var axisY = top + groups.length * (groupH + groupGap)
    var height = axisY + 26 + legendH
    var max = 0
    groups.forEach(function (g) {
      g.series.forEach(function (bar) {
        var s = bar.reduce(function (acc, seg) { return acc + (seg.value > 0 ? seg.value : 0) }, 0)
        if (s > max) max = s
      })
    })
    max = niceMax(max)
    var plotW = width - labelW - right
    var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" }, null)
    for (var t = 0; t <= 4; t++) {
      var tx = labelW + (t / 4) * plotW
      el("line", { x1: tx, y1: top, x2: tx, y2: axisY, class: "grid" }, svg)
      text(svg, tx, axisY + 14, fmt((max * t) / 4), { "text-anchor": "middle", class: "tick" })
    }
    el("line", { x1: labelW, y1: axisY, x2: labelW + plotW, y2: axisY, class: "axis" }, svg)
    text(svg, labelW + plotW, axisY + 24, spec.unit, { "text-anchor": "end", class: "tick" })
    var bars = 0
    groups.forEach(function (g, gi) {
      var y0 = top + gi * (groupH + groupGap)
      text(svg, labelW - 6, y0 + groupH / 2 + 4, g.label, { "text-anchor": "end", class: "label" })
      g.series.forEach(function (bar, bi) {
        var y = y0 + bi * (barH + gap)
        var x = labelW
        var total = 0
        bar.forEach(function (seg) {
          if (!(seg.value > 0)) return
          var w = (seg.value / max) * plotW
          var r = el("rect", { x: x, y: y, width: Math.max(w, 0.5), height: barH,
            fill: PALETTE[spec.legend.indexOf(seg.name) % PALETTE.length], class: "bar", "data-series": seg.name }, svg)
          el("title", {}, r).textContent = g.label + " — " + seg.name + ": " + fmt(seg.value) + " " + spec.unit
          x += w
          total += seg.value
          bars++
        })
        if (total > 0) text(svg, x + 4, y + barH - 3, fmt(total) + (bar.length === 1 ? " " + bar[0].name : ""), { class: "value" })
      })
    })
    legend.forEach(function (e) {
      var y = axisY + 30 + e.y
      el("rect", { x: e.x, y: y, width: 10, height: 10, fill: PALETTE[e.i % PALETTE.length] }, svg)
      text(svg, e.x + 14, y + 9, e.name, { class: "legend" })
    })
    container.appendChild(svg)
    return bars
  }

  function latencySpec(d) {
    return {
      unit: "ms",
      legend: ["p50", "p95"],
      rows: d.latency.map(function (r) {
        return { label: r.baseline, series: [[{ name: "p50", value: r.p50 }], [{ name: "p95", value: r.p95 }]] }
      }),
    }
  }
  function breakdownSpec(d) {
    return {
      unit: "ms",
      legend: d.breakdown.components,
      rows: d.breakdown.rows.map(function (r) {
        return {
          label: r.baseline,
          series: [r.values.map(function (v, i) { return { name: d.breakdown.components[i], value: v } })],
        }
      }),
    }
  }
  function bytesSpec(d) {
    return {
      unit: "MB",
      legend: ["input (client → server)", "output (server → client)"],
      rows: d.bytes.map(function (r) {
        return {
          label: r.baseline,
          series: [[{ name: "input (client → server)", value: r.input_mb }, { name: "output (server → client)", value: r.output_mb }]],
        }
      }),
    }
  }
  var SPECS = { latency: latencySpec, breakdown: breakdownSpec, bytes: bytesSpec }

  var data = JSON.parse(document.getElementById("report-data").textContent)
  var drawn = 0
  document.querySelectorAll("[data-chart]").forEach(function (node) {
    var section = data.sections[Number(node.getAttribute("data-section"))]
    var spec = SPECS[node.getAttribute("data-chart")](section)
    var bars = 0
    if (spec.rows.length === 0) {
      node.appendChild(document.createTextNode("no data"))
    } else {
      bars = drawBars(node, spec)
      if (bars === 0) node.appendChild(document.createTextNode("no data (no baseline measured this)"))
    }
    node.setAttribute("data-bars", String(bars))
    node.setAttribute("data-drawn", "true")
    drawn++
  })
  document.body.setAttribute("data-charts-drawn", String(drawn))
})()
