// Package render writes an analysis Report as JSON (WriteJSON), as the
// self-contained HTML incident report on-call engineers attach to tickets
// (WriteHTML), as a Markdown summary for CI step summaries and ticket
// comments (WriteMarkdown), and as a terminal summary (WriteText).
//
// # The HTML report
//
// Top to bottom:
//
//  1. The verdict: the most severe findings as sentences with their
//     numbers, or "No problems found" with what was checked; capture
//     errors that weaken it.
//  2. Each finding: severity, explanation, evidence, inferred settings,
//     recommended actions, the affected connections (count and a sample
//     linking to the connection table), a Wireshark/tshark display filter
//     for its evidence frames, and ladder diagrams of its exemplar
//     connections, each with a display filter by addresses and ports.
//  3. Charts (ECharts, options built with go-echarts): sockets per state
//     over time for the top endpoints (the "ss view"), then every chart the
//     findings offer. A chart is drawn only when it has data.
//  4. The ladder legend and an index of the ladders drawn.
//  5. The connection table, built in the browser from compact embedded
//     JSON (one array of integers per connection, strings interned),
//     paginated, sortable and filterable by endpoint, state and finding;
//     every row opens its details (#flow-ID links work from anywhere).
//  6. Capture metadata and health, socket states at the end, and the
//     analysis settings.
//
// Ladders are inline SVG drawn by ladder.go from a connection's bounded
// packet log (flows.Conn.Log): lifelines for client and server, one arrow per
// logged packet with flags, relative seq/ack, length, frame and time; long
// gaps compressed into labelled breaks; elided packets counted;
// retransmissions, RSTs, FINs, writes after the peer's FIN and the finding's
// highlighted frames emphasised. They need no script and print as they are.
//
// # Safety
//
// Everything that comes from packets (HTTP request lines and Host headers,
// TLS server names, addresses) and everything detectors or the command
// wrote is cleaned first (clean.go: invalid UTF-8 becomes U+FFFD, control
// characters and bidi or invisible format characters become visible escapes
// such as \x1b and [U+202E]) and then escaped for its context: by
// html/template for the page, by ladder.go's escaper for the SVG, by
// encoding/json (which escapes <, >, & and U+2028/2029) for the data blocks
// in <script type="application/json">, and by mdText for Markdown.
//
// The page loads nothing: ECharts 5.4.3 (assets/echarts, Apache-2.0) and the
// report's own script and stylesheet are inlined, fonts are the system's,
// and a Content-Security-Policy meta tag says default-src 'none' and
// connect-src 'none' and allows exactly the inline scripts and style whose
// sha256 hashes it lists (worked out once per process from the embedded
// texts, after turning CR LF into LF as the HTML parser does). Untrusted
// text therefore could not run even if it escaped its context.
// TestHTMLHostileStringsStayInert and TestRealPipeline parse reports with
// golang.org/x/net/html and fail on any element, attribute, link, script or
// style that is not the report's own;
// TestBrowser loads reports in headless Chromium with the network off and
// fails on any console error, CSP violation or request; it leaves
// screenshots and PDFs in $PCAPSLEUTH_SCREENSHOTS (default
// $TMPDIR/pcapsleuth-screenshots) for a person to look at, and skips with a
// note when no Chromium is installed.
//
// # Size and determinism
//
// A report of 100,000 connections is about 10 MB (TestHTMLSizeBounded,
// limit 15 MB) and opens in about a second; the table embeds at most
// maxTableRows connections and a bounded amount of interned text, ladders
// draw at most the bounded packet log, and chart series are thinned to
// maxChartPoints. Output depends only on the Report: map keys are sorted,
// element and chart ids come from positions, and the only clock is
// Report.GeneratedAt. TestGolden keeps an outline of each report's
// structure, its embedded data and the Markdown and text summaries in
// testdata/golden (go test ./render -run TestGolden -update rewrites them).
package render
