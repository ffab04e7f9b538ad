package render

import _ "embed"

// The report's inline assets. They are compiled into the binary so a report
// never references anything outside itself.

// echartsJS is Apache ECharts 5.4.3, dist/echarts.min.js from the npm
// package (assets/echarts/README.md).
//
//go:embed assets/echarts/echarts.min.js
var echartsJS string

// echartsVersion is the version of echartsJS.
const echartsVersion = "5.4.3"

// reportCSS is the report's stylesheet (screen and print).
//
//go:embed assets/report.css
var reportCSS string

// reportJS is the report's own script: the flow table and the charts.
//
//go:embed assets/report.js
var reportJS string

// reportTemplate is the HTML template of the report (html/template).
//
//go:embed assets/report.html.tmpl
var reportTemplate string
