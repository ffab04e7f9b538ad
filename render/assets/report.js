// pcapsleuth report script: draws the charts and the connection table from
// the JSON data blocks of the page. No network, no frameworks, no eval; DOM
// is built with textContent only (all strings were cleaned when the report
// was written).
(function () {
  "use strict";

  // Row layout of flow-data "rows" (render/flowtable.go, flowColumns).
  var C = { id: 0, ch: 1, cp: 2, sh: 3, sp: 4, pk: 5, rx: 6, cs: 7, ss: 8, start: 9, dur: 10,
    cb: 11, sb: 12, hist: 13, end: 14, app: 15, fset: 16, flags: 17, rtt: 18 };
  var PAGE = 100;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function readJSON(id) {
    var n = document.getElementById(id);
    if (!n) return null;
    try { return JSON.parse(n.textContent); } catch (e) { console.warn("pcapsleuth: bad data block " + id); return null; }
  }
  function fmtInt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function fmtDur(ms) {
    if (ms < 0) return "";
    if (ms >= 100000) return fmtInt(Math.round(ms / 1000)) + " s";
    if (ms >= 1000) return (ms / 1000).toFixed(1) + " s";
    return ms + " ms";
  }

  // ---- copy buttons ------------------------------------------------------
  function copyText(text, btn) {
    function done(ok) {
      var old = btn.textContent;
      btn.textContent = ok ? "copied" : "select + Ctrl-C";
      setTimeout(function () { btn.textContent = old; }, 1200);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { fallback(); });
    } else { fallback(); }
    function fallback() {
      var ta = el("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "offscreen";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      done(ok);
    }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.classList && t.classList.contains("copy")) {
      ev.preventDefault();
      copyText(t.getAttribute("data-copy") || "", t);
      return;
    }
    // A link to the connection already in the address bar fires no
    // hashchange: show it all the same.
    var a = t && t.closest ? t.closest("a[href^='#flow-']") : null;
    if (a && a.getAttribute("href") === location.hash && showFlowHook) {
      setTimeout(showFlowHook, 0);
    }
  });

  // ---- charts --------------------------------------------------------------
  // Charts are drawn when they come near the viewport (a report may hold
  // dozens), and all at once before printing.
  var charts = [];
  var pendingCharts = {};
  var showFlowHook = null;
  function drawChart(id) {
    var opt = pendingCharts[id];
    var box = document.getElementById(id);
    if (!opt || !box) return;
    delete pendingCharts[id];
    var chart = echarts.init(box, null, { renderer: "canvas" });
    chart.setOption(opt);
    charts.push(chart);
  }
  function drawAllCharts() { Object.keys(pendingCharts).forEach(drawChart); }
  function drawCharts() {
    var list = readJSON("chart-data") || [];
    if (!list.length) return;
    if (typeof echarts === "undefined") { console.warn("pcapsleuth: ECharts missing"); return; }
    list.forEach(function (c) { pendingCharts[c.id] = c.option; });
    if ("IntersectionObserver" in window) {
      var io = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) { io.unobserve(e.target); drawChart(e.target.id); }
        });
      }, { rootMargin: "400px 0px" });
      list.forEach(function (c) { var b = document.getElementById(c.id); if (b) io.observe(b); });
    } else {
      drawAllCharts();
    }
    var pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 100);
    });
  }

  // ---- print: open every collapsed ladder, fit charts to the page ----------
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; reopened.push(d); });
    drawAllCharts();
    charts.forEach(function (c) { c.resize(); });
  });
  window.addEventListener("afterprint", function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
    charts.forEach(function (c) { c.resize(); });
  });

  // ---- connection table ------------------------------------------------------
  var D = readJSON("flow-data");
  var body = document.getElementById("ft-body");
  if (!D || !body) { drawCharts(); return; }
  var rows = D.rows || [];
  var ladders = {};
  (D.ladders || []).forEach(function (l) { ladders[l[0]] = l.slice(1); });
  var view = rows.map(function (_, i) { return i; });
  var page = 0, sortCol = -1, sortDir = 1, openId = -1, targetId = -1;
  var search = null; // lazily built search strings
  var byId = null;

  function str(i) { return i >= 0 ? D.strs[i] : (i === -2 ? "…" : ""); }
  function host(i) { return i >= 0 ? D.hosts[i] : "?"; }
  function ep(r, h, p) { return host(r[h]) + (r[p] ? ":" + r[p] : ""); }
  function state(i) { return i >= 0 ? D.states[i] : ""; }
  function kindsOf(r) { return r[C.fset] >= 0 ? D.sets[r[C.fset]] : []; }
  function stClass(s) {
    if (s === "CLOSE_WAIT" || s === "LAST_ACK") return "st-bad";
    if (s === "FIN_WAIT_1" || s === "FIN_WAIT_2" || s === "SYN_SENT" || s === "SYN_RECEIVED") return "st-warn";
    return "";
  }
  function addrFilter(h, p) {
    var f = h.charAt(0) === "[" ? "ipv6.addr==" + h.slice(1, -1) : "ip.addr==" + h;
    return { a: f, p: p ? "tcp.port==" + p : "" };
  }
  function displayFilter(r) {
    var a = addrFilter(host(r[C.ch]), r[C.cp]), b = addrFilter(host(r[C.sh]), r[C.sp]);
    var parts = [a.a];
    if (a.p) parts.push(a.p);
    if (b.a !== a.a) parts.push(b.a);
    if (b.p && b.p !== a.p) parts.push(b.p);
    return parts.join(" && ");
  }

  function cmp(col) {
    var key;
    if (col === C.ch || col === C.sh) {
      key = function (r) { return host(r[col]); };
    } else if (col === C.cs || col === C.ss) {
      key = function (r) { return state(r[col]); };
    } else if (col === C.hist || col === C.end || col === C.app) {
      key = function (r) { return str(r[col]); };
    } else if (col === C.fset) {
      key = function (r) { return kindsOf(r).map(function (k) { return D.kinds[k]; }).join(","); };
    } else {
      key = function (r) { return r[col]; };
    }
    return function (x, y) {
      var a = key(rows[x]), b = key(rows[y]);
      if (a < b) return -sortDir;
      if (a > b) return sortDir;
      if (col === C.ch || col === C.sh) {
        var d = rows[x][col + 1] - rows[y][col + 1];
        if (d) return d * sortDir;
      }
      return rows[x][C.id] - rows[y][C.id];
    };
  }

  var fText = document.getElementById("ft-filter");
  var fState = document.getElementById("ft-state");
  var fFinding = document.getElementById("ft-finding");
  D.states.forEach(function (s, i) { var o = el("option", null, s); o.value = String(i); fState.appendChild(o); });
  D.kinds.forEach(function (k, i) { var o = el("option", null, k); o.value = String(i); fFinding.appendChild(o); });

  function applyFilters() {
    var q = fText.value.trim().toLowerCase();
    var st = fState.value === "" ? -1 : +fState.value;
    var fk = fFinding.value === "" ? -1 : +fFinding.value;
    if (q && !search) {
      search = rows.map(function (r) {
        return (ep(r, C.ch, C.cp) + " " + ep(r, C.sh, C.sp) + " " + str(r[C.hist]) + " " + str(r[C.app]) + " #" + r[C.id]).toLowerCase();
      });
    }
    view = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (st >= 0 && r[C.cs] !== st && r[C.ss] !== st) continue;
      if (fk >= 0 && kindsOf(r).indexOf(fk) < 0) continue;
      if (q && search[i].indexOf(q) < 0) continue;
      view.push(i);
    }
    if (sortCol >= 0) view.sort(cmp(sortCol));
    page = 0;
  }

  function cell(tr, text, cls) { var td = el("td", cls, text); tr.appendChild(td); return td; }

  function detailRow(r) {
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = 12;
    var dl = el("dl");
    function item(k, v) { if (v === "" || v === null || v === undefined) return; dl.appendChild(el("dt", null, k)); dl.appendChild(el("dd", null, v)); }
    item("connection", "#" + r[C.id]);
    item("client", ep(r, C.ch, C.cp) + ((r[C.flags] & 1) ? "  (no SYN seen: guessed from the ports)" : ""));
    item("server", ep(r, C.sh, C.sp));
    item("state at the end", "client " + state(r[C.cs]) + ", server " + state(r[C.ss]));
    if (r[C.start] >= 0 && D.t0) item("first packet", new Date(D.t0 + r[C.start]).toISOString().replace("T", " ").replace("Z", " UTC"));
    item("duration", fmtDur(r[C.dur]));
    item("packets", fmtInt(r[C.pk]) + " (" + fmtInt(r[C.rx]) + " retransmissions)");
    item("payload bytes", "client " + fmtInt(r[C.cb]) + ", server " + fmtInt(r[C.sb]));
    if (r[C.rtt] >= 0) item("handshake RTT", (r[C.rtt] / 1000).toFixed(3) + " ms");
    item("history", str(r[C.hist]));
    item("ended", str(r[C.end]));
    item("application", str(r[C.app]));
    td.appendChild(dl);
    var ks = kindsOf(r);
    if (ks.length) {
      var p = el("p", null, "Findings: ");
      ks.forEach(function (k) { var a = el("a", null, D.kinds[k]); a.href = "#" + (D.anchors[k] || "findings"); p.appendChild(a); p.appendChild(document.createTextNode(" ")); });
      td.appendChild(p);
    }
    var ls = ladders[r[C.id]];
    if (ls && ls.length) {
      var lp = el("p", null, "Ladder diagram: ");
      ls.forEach(function (l, i) { var a = el("a", null, i ? "another" : "show"); a.href = "#" + l; lp.appendChild(a); lp.appendChild(document.createTextNode(" ")); });
      td.appendChild(lp);
    }
    var fp = el("p", "filter", "Wireshark / tshark: ");
    var f = displayFilter(r);
    fp.appendChild(el("code", "dfilter", f));
    fp.appendChild(document.createTextNode(" "));
    var b = el("button", "copy", "copy");
    b.type = "button";
    b.setAttribute("data-copy", f);
    fp.appendChild(b);
    td.appendChild(fp);
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    if (page >= pages) page = pages - 1;
    var frag = document.createDocumentFragment();
    var end = Math.min(view.length, (page + 1) * PAGE);
    for (var k = page * PAGE; k < end; k++) {
      var r = rows[view[k]];
      var tr = el("tr", "row");
      tr.id = "flow-" + r[C.id];
      if (r[C.id] === targetId) tr.className += " target";
      tr.setAttribute("data-i", view[k]);
      var idl = el("a", null, r[C.id]);
      idl.href = "#flow-" + r[C.id];
      cell(tr, null, "num").appendChild(idl);
      var ctd = cell(tr, ep(r, C.ch, C.cp) + ((r[C.flags] & 1) ? " ?" : ""));
      if (r[C.flags] & 1) ctd.title = "no SYN seen: the client was guessed from the ports";
      cell(tr, ep(r, C.sh, C.sp));
      var cs = state(r[C.cs]), ss = state(r[C.ss]);
      cell(tr, cs, stClass(cs));
      cell(tr, ss, stClass(ss));
      cell(tr, fmtInt(r[C.pk]), "num");
      cell(tr, r[C.rx] ? fmtInt(r[C.rx]) : "", "num");
      cell(tr, r[C.start] >= 0 ? (r[C.start] / 1000).toFixed(3) : "", "num");
      cell(tr, fmtDur(r[C.dur]), "num");
      cell(tr, str(r[C.hist]));
      var app = cell(tr);
      var clip = el("span", "clip", str(r[C.app]));
      clip.title = str(r[C.app]);
      app.appendChild(clip);
      var ftd = cell(tr, null, "fnd");
      kindsOf(r).forEach(function (k) { var a = el("a", null, D.kinds[k]); a.href = "#" + (D.anchors[k] || "findings"); ftd.appendChild(a); });
      if (r[C.flags] & 2) { var la = el("a", null, "ladder"); la.href = "#" + ladders[r[C.id]][0]; ftd.appendChild(la); }
      frag.appendChild(tr);
      if (r[C.id] === openId) frag.appendChild(detailRow(r));
    }
    body.textContent = "";
    body.appendChild(frag);
    document.getElementById("ft-page").textContent = view.length ? "page " + fmtInt(page + 1) + " of " + fmtInt(pages) : "";
    document.getElementById("ft-prev").disabled = page === 0;
    document.getElementById("ft-next").disabled = page >= pages - 1;
    var note = fmtInt(view.length) + " of " + fmtInt(rows.length) + " connections";
    if (D.omitted) note += " (" + fmtInt(D.omitted) + " more left out of this table to bound its size; the JSON report has them all)";
    document.getElementById("ft-count").textContent = note;
  }

  body.addEventListener("click", function (ev) {
    if (ev.target.closest("a")) return;
    var tr = ev.target.closest("tr.row");
    if (!tr) return;
    var id = rows[+tr.getAttribute("data-i")][C.id];
    openId = openId === id ? -1 : id;
    render();
  });
  document.getElementById("ft-prev").addEventListener("click", function () { page--; render(); });
  document.getElementById("ft-next").addEventListener("click", function () { page++; render(); });
  var debounce = 0;
  fText.addEventListener("input", function () { clearTimeout(debounce); debounce = setTimeout(function () { applyFilters(); render(); }, 150); });
  fState.addEventListener("change", function () { applyFilters(); render(); });
  fFinding.addEventListener("change", function () { applyFilters(); render(); });
  document.querySelectorAll("table.flows th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {
      var col = +th.getAttribute("data-sort");
      sortDir = sortCol === col ? -sortDir : 1;
      sortCol = col;
      document.querySelectorAll("table.flows th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(sortDir > 0 ? "sorted-asc" : "sorted-desc");
      view.sort(cmp(sortCol));
      page = 0;
      render();
    });
  });
  document.querySelectorAll("a.filterlink").forEach(function (a) {
    a.addEventListener("click", function () {
      var k = D.kinds.indexOf(a.getAttribute("data-finding"));
      fFinding.value = k >= 0 ? String(k) : "";
      fText.value = "";
      fState.value = "";
      applyFilters();
      render();
    });
  });

  // #flow-N: show that connection's row, opened, wherever it is.
  function showFlow() {
    var m = /^#flow-(\d+)$/.exec(location.hash);
    if (!m) return;
    var id = +m[1];
    if (!byId) { byId = new Map(); rows.forEach(function (r, i) { byId.set(r[C.id], i); }); }
    var i = byId.get(id);
    var sec = document.getElementById("flows");
    if (i === undefined) {
      document.getElementById("ft-count").textContent = "Connection #" + id + " is not in this table (it was left out to bound the report's size).";
      if (sec) sec.scrollIntoView();
      return;
    }
    var pos = view.indexOf(i);
    if (pos < 0) {
      fText.value = ""; fState.value = ""; fFinding.value = "";
      applyFilters();
      pos = view.indexOf(i);
    }
    page = Math.floor(pos / PAGE);
    openId = id;
    targetId = id;
    render();
    var tr = document.getElementById("flow-" + id);
    if (tr) tr.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", showFlow);
  showFlowHook = showFlow;

  render();
  drawCharts();
  showFlow();
})();
