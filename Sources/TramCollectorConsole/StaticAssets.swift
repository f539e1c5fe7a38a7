/// The console's stylesheet and script, written here and served from the binary (no CDN, no npm, no build step).
enum StaticAssets {
    /// Layout for a 1366×768 office screen down to a 390×844 phone without horizontal scrolling: below 900 px wide
    /// the tables reflow into stacked rows, each cell led by its column's label (`data-label`).
    static let css = """
        *, *::before, *::after { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
          color: #1d2430; background: #f6f7f9; overflow-wrap: break-word; }
        /* Names come from dictionaries and may be one long word: they break anywhere rather than widen the page. */
        .name, td.where, td.problem, td.text, h1, code { overflow-wrap: anywhere; }
        a { color: #0b5cad; }
        header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .6rem 1rem;
          background: #1d2a3a; color: #fff; }
        header.top a { color: #fff; text-decoration: none; }
        header.top .brand { font-weight: 700; }
        header.top nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; flex: 1; }
        header.top nav a[aria-current] { border-bottom: 2px solid #7cc4ff; }
        .sign-out button { background: transparent; color: #fff; border: 1px solid #8a9bb0; border-radius: 4px;
          padding: .2rem .6rem; cursor: pointer; }
        main { padding: 1rem; max-width: 1600px; margin: 0 auto; }
        footer { padding: .75rem 1rem; color: #5b6676; font-size: .85rem; }
        h1 { font-size: 1.4rem; margin: .25rem 0 .75rem; }
        h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
        .muted, .age { color: #5b6676; }
        .note { color: #5b6676; font-size: .85rem; }
        .error { color: #a11; font-weight: 600; }
        .warn { color: #9a5b00; font-weight: 600; }
        .badge { font-size: .75rem; background: #eee; border-radius: 3px; padding: 0 .3rem; }
        code { background: #eceff3; padding: 0 .25rem; border-radius: 3px; }
        form.filter, form.range, .ranges { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem;
          margin: .5rem 0 1rem; }
        input, select, button { font: inherit; max-width: 100%; }
        button { padding: .25rem .75rem; }
        .ranges a { padding: .1rem .5rem; border: 1px solid #c7ced8; border-radius: 4px; text-decoration: none; }
        .ranges a[aria-current] { background: #0b5cad; color: #fff; border-color: #0b5cad; }
        #sign-in { display: flex; flex-direction: column; gap: .5rem; max-width: 26rem; }
        table { width: 100%; border-collapse: collapse; background: #fff; margin-bottom: 1rem; }
        th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #e3e7ec; vertical-align: top; }
        thead th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: #5b6676; }
        tr.site-heading th { background: #eef2f6; font-size: 1rem; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.value { font-variant-numeric: tabular-nums; font-weight: 600; }
        .state { font-weight: 600; }
        .state-reporting, .state-online { color: #17753a; }
        .state-silent, .state-offline { color: #a11; }
        .state-degraded { color: #9a5b00; }
        tr.point[data-quality]:not([data-quality="good"]) td.quality { color: #a11; font-weight: 600; }
        dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff;
          padding: .75rem; margin: 0 0 1rem; }
        dl.summary dt { color: #5b6676; }
        dl.summary dd { margin: 0; }
        svg.bars { width: 160px; height: 36px; display: block; background: #f0f3f6; }
        figure.daily-use svg.bars { width: 100%; max-width: 640px; height: 90px; }
        svg.bars rect { fill: #4a86c5; }
        .plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
        figure { margin: 0; }
        figure.plot-figure { background: #fff; padding: .5rem; border: 1px solid #e3e7ec; min-width: 0; }
        figure.plot-figure figcaption { font-weight: 600; margin-bottom: .25rem; }
        .plot-area { display: flex; gap: .25rem; min-width: 0; }
        .y-axis { display: flex; flex-direction: column; justify-content: space-between; font-size: .75rem;
          color: #5b6676; text-align: right; min-width: 3.5rem; }
        svg.plot { flex: 1; min-width: 0; width: 100%; height: 160px; background: #fbfcfd; border: 1px solid #e3e7ec; }
        svg.plot path { fill: none; vector-effect: non-scaling-stroke; }
        svg.plot path.range { stroke: #9cc3ea; stroke-width: 3px; stroke-linecap: round; }
        svg.plot path.mean { stroke: #0b5cad; stroke-width: 1.5px; stroke-linejoin: round; stroke-linecap: round; }
        p.x-axis { display: flex; justify-content: space-between; flex-wrap: wrap; gap: .25rem; margin: .25rem 0 0;
          font-size: .75rem; color: #5b6676; }
        .kind { font-weight: 600; }
        .kind-silent, .kind-offline { color: #a11; }
        .kind-degraded, .kind-bad-quality, .kind-clock, .kind-held-back { color: #9a5b00; }
        ul.days { color: #5b6676; font-size: .85rem; }
        /* Signal bands (SignalBand): excellent, good, mid cell, cell edge. */
        .signal { font-variant-numeric: tabular-nums; white-space: nowrap; padding: 0 .2rem; border-radius: 3px; }
        .signal.band-excellent { background: #d7f0dc; color: #125c2d; }
        .signal.band-good { background: #eef6c8; color: #4a5a06; }
        .signal.band-mid-cell { background: #fde9c4; color: #7a4700; }
        .signal.band-cell-edge { background: #f8d3d3; color: #8a1111; }
        td.link .tech, dd.link .tech { font-weight: 600; }
        td.link .measured, dd.link .measured { display: block; font-size: .8rem; color: #5b6676; }
        svg.histogram { width: 100%; height: 90px; display: block; background: #f0f3f6; }
        svg.histogram rect { fill: #4a86c5; }
        svg.histogram rect.band-excellent { fill: #2f9e55; }
        svg.histogram rect.band-good { fill: #9bb526; }
        svg.histogram rect.band-mid-cell { fill: #e29a2d; }
        svg.histogram rect.band-cell-edge { fill: #c83a3a; }
        figure.distribution { background: #fff; padding: .5rem; border: 1px solid #e3e7ec; min-width: 0; }
        h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
        h4 { font-size: .95rem; margin: 1rem 0 .4rem; }
        @media (max-width: 900px) {
          table.stack, table.stack thead, table.stack tbody, table.stack tr, table.stack th, table.stack td {
            display: block; width: 100%; }
          table.stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
          table.stack tr { border-bottom: 2px solid #d5dbe3; padding: .25rem 0; }
          table.stack td { border: 0; padding: .15rem .5rem .15rem 9.5rem; position: relative; min-height: 1.6rem; }
          table.stack td::before { content: attr(data-label); position: absolute; left: .5rem; width: 8.5rem;
            color: #5b6676; font-size: .85rem; }
          table.stack tr.site-heading th { display: block; }
          header.top nav { order: 3; flex-basis: 100%; }
          table.stack td.num { text-align: left; }
          svg.bars { width: 100%; }
        }
        @media print {
          header.top, footer, form, .actions, .note { display: none; }
          body { background: #fff; font-size: 11pt; }
          main { padding: 0; max-width: none; }
          table { page-break-inside: auto; }
          tr { page-break-inside: avoid; }
          a { color: inherit; text-decoration: none; }
        }

        """

    /// Live refresh: polls the element's `data-live` URL every 5 s and writes what changed with textContent (never
    /// markup), so nothing the store holds is parsed as HTML. Stops after a refused answer (signed out).
    static let javaScript = """
        (function () {
          "use strict";
          var live = document.querySelector("[data-live]");
          if (!live || !window.fetch) { return; }
          var url = live.getAttribute("data-live");
          var status = document.getElementById("live-status");
          function set(row, selector, text, attribute, value) {
            var cell = row.querySelector(selector);
            if (!cell) { return; }
            if (cell.textContent !== text) { cell.textContent = text; }
            if (attribute) { cell.setAttribute(attribute, value); }
          }
          function byName(selector, attribute) {
            var rows = {};
            document.querySelectorAll(selector).forEach(function (row) { rows[row.getAttribute(attribute)] = row; });
            return rows;
          }
          // As the page shows it: the exact value, without the ".0" of a whole number (data-value keeps it).
          function shown(value) { return String(value).replace(/^(-?[0-9]+)\\.0$/, "$1"); }
          function points(data) {
            var rows = byName("tr.point", "data-point");
            (data.points || []).forEach(function (p) {
              var row = rows[p.point];
              if (!row) { return; }
              row.setAttribute("data-quality", p.quality);
              set(row, "td.value", p.value === null ? "\\u2014" : shown(p.value), "data-value", p.value === null ? "" : p.value);
              set(row, "td.quality", p.quality_text, "data-quality", p.quality);
              set(row, "td.age", p.age, "data-time-ms", String(p.time_ms));
            });
          }
          function fleet(data) {
            var rows = byName("tr.gateway", "data-gateway");
            (data.gateways || []).forEach(function (g) {
              var row = rows[g.gateway];
              if (!row) { return; }
              ["state", "online", "degraded", "offline", "clock", "held", "readings-today", "bytes-today"]
                .forEach(function (key) { row.setAttribute("data-" + key, String(g[key])); });
              set(row, "td.state", g.state);
              set(row, "td.devices", g.online + " online \\u00b7 " + g.degraded + " degraded \\u00b7 " + g.offline + " offline");
              set(row, "td.last-seen", g.last_seen);
              set(row, "td.held", g.held_text, "data-held", String(g.held));
              set(row, "td.readings-today", g.readings_today_text, "data-readings-today", String(g["readings-today"]));
              set(row, "td.bytes-today", g.bytes_today_text, "data-bytes-today", String(g["bytes-today"]));
            });
          }
          function poll() {
            fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
              .then(function (response) {
                if (!response.ok) { throw new Error("answer " + response.status); }
                return response.json();
              })
              .then(function (data) {
                if (data.points) { points(data); } else { fleet(data); }
                if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); }
                window.setTimeout(poll, 5000);
              })
              .catch(function () {
                if (status) { status.textContent = "Live refresh stopped: reload the page."; }
              });
          }
          window.setTimeout(poll, 5000);
        })();

        """
}
