// The report page's script: canvas maps, filters, hover and click. Runs from file:// with no network.
// Model text only ever reaches the page through textContent, never as markup.
/* global unitColour, COLOURS, DIM */
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const $ = (id) => document.getElementById(id);

  function decode(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Int32Array(bytes.buffer);
  }
  const outcome = data.outcome.map((perKind) => perKind.map((perTarget) => perTarget.map(decode)));

  // shown: the key of the mutant whose text the viewer shows, kept while its unit is redrawn (live updates re-pin)
  const state = { assay: 0, kind: 'all', layer: 'all', style: 'all', pinned: null, shown: null };
  const hasStyle = (o, style) => o > 0 && data.phenotypes[o] && data.phenotypes[o].styles.indexOf(style) >= 0;
  const shownKinds = () => (state.kind === 'all' ? data.kinds.map((k, i) => i) : [data.kinds.indexOf(state.kind)]);

  function option(select, value, label) {
    const o = document.createElement('option');
    o.value = String(value);
    o.textContent = label;
    select.appendChild(o);
  }
  data.assays.forEach((a, i) => option($('f-assay'), i, a.name));
  option($('f-kind'), 'all', 'all kinds');
  data.kinds.forEach((k) => option($('f-kind'), k, k));
  option($('f-layer'), 'all', 'all layers');
  [...new Set(data.targets.map((t) => (t.layer === null ? t.matrix : String(t.layer))))].forEach((l) => option($('f-layer'), l, /^\d+$/.test(l) ? 'layer ' + l : l));
  option($('f-style'), 'all', 'any output');
  data.styles.forEach((st) => option($('f-style'), st, st));

  const maps = $('maps');
  const canvases = data.targets.map((t, ti) => {
    const fig = document.createElement('figure');
    fig.className = 'map';
    fig.dataset.layer = t.layer === null ? t.matrix : String(t.layer);
    const cap = document.createElement('figcaption');
    cap.textContent = t.short + ' (' + t.rows + '×' + t.cols + ')';
    const canvas = document.createElement('canvas');
    canvas.width = t.gridCols;
    canvas.height = t.gridRows;
    canvas.style.width = t.gridCols * t.scale + 'px';
    canvas.style.height = t.gridRows * t.scale + 'px';
    canvas.dataset.target = t.short;
    canvas.addEventListener('mousemove', (e) => hover(ti, canvas, e));
    canvas.addEventListener('mouseleave', () => ($('tooltip').hidden = true));
    canvas.addEventListener('click', (e) => {
      state.shown = null;
      pin(ti, unitAt(ti, canvas, e));
    });
    fig.appendChild(cap);
    fig.appendChild(canvas);
    maps.appendChild(fig);
    return canvas;
  });

  function draw() {
    const kinds = shownKinds();
    const names = kinds.map((k) => data.kinds[k]);
    data.targets.forEach((t, ti) => {
      const fig = canvases[ti].parentElement;
      fig.hidden = state.layer !== 'all' && fig.dataset.layer !== state.layer;
      if (fig.hidden) return;
      const ctx = canvases[ti].getContext('2d');
      const img = ctx.createImageData(t.gridCols, t.gridRows);
      const per = kinds.map((k) => outcome[state.assay][k][ti]);
      const o = new Array(per.length);
      for (let u = 0; u < t.gridRows * t.gridCols; u++) {
        // with a style chosen, only NSMs whose output has it keep their colour; other NSMs are dimmed
        let other = false;
        for (let k = 0; k < per.length; k++) {
          const v = per[k][u];
          if (state.style !== 'all' && v > 0 && !hasStyle(v, state.style)) {
            other = true;
            o[k] = 0;
          } else o[k] = v;
        }
        const name = unitColour(names, o);
        const c = other && name === 'silent' ? DIM : COLOURS[name];
        img.data[u * 4] = c[0];
        img.data[u * 4 + 1] = c[1];
        img.data[u * 4 + 2] = c[2];
        img.data[u * 4 + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    });
  }

  function unitAt(ti, canvas, e) {
    const t = data.targets[ti];
    const r = canvas.getBoundingClientRect();
    const col = Math.min(t.gridCols - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * t.gridCols)));
    const row = Math.min(t.gridRows - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * t.gridRows)));
    return { ti, row, col, u: row * t.gridCols + col };
  }

  function describe(unit) {
    const t = data.targets[unit.ti];
    const r0 = unit.row * t.unitRows;
    const c0 = unit.col * t.unitCols;
    const h = Math.min(t.unitRows, t.rows - r0);
    const w = Math.min(t.unitCols, t.cols - c0);
    return shownKinds().map((k) => {
      const o = outcome[state.assay][k][unit.ti][unit.u];
      const what = o < 0 ? 'not run yet' : o === 0 ? 'silent' : 'phenotype ' + o;
      return { kind: data.kinds[k], key: t.short + ':' + r0 + ',' + c0 + '+' + h + 'x' + w + ':' + data.kinds[k], outcome: o, what };
    });
  }

  function hover(ti, canvas, e) {
    const unit = unitAt(ti, canvas, e);
    const tip = $('tooltip');
    tip.textContent = '';
    const head = document.createElement('div');
    head.className = 'tip-head';
    const t = data.targets[ti];
    head.textContent = t.short + ' · unit row ' + unit.row + ', col ' + unit.col + ' · assay ' + data.assays[state.assay].name;
    tip.appendChild(head);
    for (const d of describe(unit)) {
      const line = document.createElement('div');
      line.textContent = d.key + ' → ' + d.what;
      tip.appendChild(line);
    }
    tip.hidden = false;
    tip.style.left = e.pageX + 14 + 'px';
    tip.style.top = e.pageY + 14 + 'px';
  }

  // Text with the span [from, to) marked; every piece goes in through textContent.
  function marked(el, text, from, to) {
    el.textContent = '';
    const a = Math.max(0, Math.min(from, text.length));
    const b = Math.max(a, Math.min(to, text.length));
    el.appendChild(document.createTextNode(text.slice(0, a)));
    const m = document.createElement('mark');
    m.textContent = b > a ? text.slice(a, b) : '∅';
    if (b === a) m.title = 'no token here: the output ends';
    el.appendChild(m);
    el.appendChild(document.createTextNode(text.slice(b)));
  }

  function pin(ti, unit) {
    state.pinned = unit;
    const viewer = $('viewer');
    viewer.hidden = false;
    const list = $('viewer-mutants');
    list.textContent = '';
    const ds = describe(unit);
    const base = data.assays[state.assay].baseline;
    let shown = null;
    for (const d of ds) {
      const li = document.createElement('li');
      li.textContent = d.key + ' → ' + d.what;
      if (d.outcome > 0) {
        const p = data.phenotypes[d.outcome];
        li.textContent += ' (' + p.count + ' mutants share it)';
        li.className = 'nsm';
        li.tabIndex = 0;
        li.addEventListener('click', () => show(d, p, base));
        if (!shown || d.key === state.shown) shown = [d, p];
      }
      list.appendChild(li);
    }
    if (shown) show(shown[0], shown[1], base);
    else {
      $('viewer-title').textContent = 'Silent: the output is the baseline\u2019s';
      $('pheno-text').textContent = '';
      $('baseline-text').textContent = base;
    }
  }

  function show(d, p, base) {
    state.shown = d.key;
    $('viewer-title').textContent = d.key + ' — phenotype ' + d.outcome;
    marked($('pheno-text'), p.text, p.divergeAt, p.divergeEnd);
    marked($('baseline-text'), base, p.divergeAt, p.baselineEnd);
  }

  for (const id of ['f-assay', 'f-kind', 'f-layer', 'f-style']) {
    $(id).addEventListener('change', () => {
      state.assay = Number($('f-assay').value);
      state.kind = $('f-kind').value;
      state.layer = $('f-layer').value;
      state.style = $('f-style').value;
      $('style-key').hidden = state.style === 'all';
      draw();
      if (state.pinned) pin(state.pinned.ti, state.pinned);
    });
  }
  draw();
  document.body.dataset.done = String(data.done);

  // The phenotypes' layout: one circle per phenotype, drawn as SVG elements (text only through textContent).
  const SVG = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];
  const STYLE_ON = '#e6550d';
  const STYLE_OFF = '#c7c7c7';
  const ph = { assay: data.layouts.findIndex((l) => l !== null), colour: 'cluster' };
  data.assays.forEach((a, i) => data.layouts[i] && option($('p-assay'), i, a.name));
  option($('p-colour'), 'cluster', 'cluster');
  data.styles.forEach((st) => option($('p-colour'), st, 'style: ' + st));

  function pointColour(p) {
    if (ph.colour === 'cluster') return PALETTE[(p.cluster ?? 0) % PALETTE.length];
    return hasStyle(p.id, ph.colour) ? STYLE_ON : STYLE_OFF;
  }

  function legendKey(colour, label) {
    const span = document.createElement('span');
    span.className = 'key';
    const i = document.createElement('i');
    i.style.background = colour;
    span.appendChild(i);
    span.appendChild(document.createTextNode(label));
    return span;
  }

  function drawLayout() {
    const svg = $('p-layout');
    svg.textContent = '';
    const legend = $('p-legend');
    legend.textContent = '';
    const layout = ph.assay >= 0 ? data.layouts[ph.assay] : null;
    const note = $('p-note');
    note.hidden = !(layout && layout.note);
    note.textContent = layout && layout.note ? layout.note : '';
    if (!layout || layout.points.length === 0) return;
    const W = 640;
    const H = 420;
    const pad = 16;
    const xs = layout.points.map((p) => p.x);
    const ys = layout.points.map((p) => p.y);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
    const sy = (v) => H - pad - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
    const maxM = Math.max(...layout.points.map((p) => p.mutants));
    // largest first, so small families stay visible on top
    const order = layout.points.slice().sort((a, b) => b.mutants - a.mutants);
    for (const p of order) {
      const c = document.createElementNS(SVG, 'circle');
      c.setAttribute('cx', sx(p.x).toFixed(1));
      c.setAttribute('cy', sy(p.y).toFixed(1));
      c.setAttribute('r', (2.5 + 9 * Math.sqrt(p.mutants / maxM)).toFixed(1));
      c.setAttribute('fill', pointColour(p));
      c.setAttribute('fill-opacity', '0.75');
      c.setAttribute('stroke', 'white');
      c.setAttribute('stroke-width', '0.5');
      c.dataset.phenotype = String(p.id);
      c.addEventListener('mousemove', (e) => layoutTip(p, e));
      c.addEventListener('mouseleave', () => ($('tooltip').hidden = true));
      svg.appendChild(c);
    }
    if (ph.colour === 'cluster') for (let k = 0; k < layout.clusters; k++) legend.appendChild(legendKey(PALETTE[k % PALETTE.length], 'cluster ' + k));
    else {
      legend.appendChild(legendKey(STYLE_ON, ph.colour));
      legend.appendChild(legendKey(STYLE_OFF, 'not ' + ph.colour));
    }
  }

  function layoutTip(p, e) {
    const tip = $('tooltip');
    tip.textContent = '';
    const info = data.phenotypes[p.id];
    const head = document.createElement('div');
    head.className = 'tip-head';
    head.textContent = 'phenotype ' + p.id + ' · ' + p.mutants + ' mutants · cluster ' + p.cluster + ' · ' + (info.styles.length ? info.styles.join(', ') : 'no style');
    tip.appendChild(head);
    const body = document.createElement('div');
    body.className = 'tip-text';
    body.textContent = info.text.length > 400 ? info.text.slice(0, 400) + '…' : info.text;
    tip.appendChild(body);
    tip.hidden = false;
    tip.style.left = e.pageX + 14 + 'px';
    tip.style.top = e.pageY + 14 + 'px';
  }

  for (const id of ['p-assay', 'p-colour'])
    $(id).addEventListener('change', () => {
      ph.assay = Number($('p-assay').value);
      ph.colour = $('p-colour').value;
      drawLayout();
    });
  drawLayout();

  // The live view (mutascan serve): the same page, kept current by the server's event stream. Each update
  // carries the units that got a result since the last one, as (assay, kind, target, unit, outcome)
  // quintuples in this page's indices, the new phenotypes, and the progress; the maps are redrawn at most
  // four times a second however often updates come.
  if (data.live) {
    const live = data.live;
    let seq = live.seq;
    let redraw = null;
    const scheduleDraw = () => {
      if (redraw === null)
        redraw = setTimeout(() => {
          redraw = null;
          draw();
          if (state.pinned) pin(state.pinned.ti, state.pinned);
        }, 250);
    };
    const formatEta = (s) => {
      if (s === null || !isFinite(s)) return '?';
      const t = Math.max(0, Math.round(s));
      if (t >= 86400) return Math.floor(t / 86400) + 'd' + String(Math.floor((t % 86400) / 3600)).padStart(2, '0') + 'h';
      if (t >= 3600) return Math.floor(t / 3600) + 'h' + String(Math.floor((t % 3600) / 60)).padStart(2, '0') + 'm';
      if (t >= 60) return Math.floor(t / 60) + 'm' + String(t % 60).padStart(2, '0') + 's';
      return t + 's';
    };
    const showProgress = (p) => {
      const el = $('progress');
      const pct = p.total ? ((100 * p.done) / p.total).toFixed(1) : '0';
      if (p.done >= p.total) {
        el.className = '';
        el.textContent = 'Complete: ' + p.total.toLocaleString('en') + ' mutants.';
      } else {
        el.className = 'warn';
        el.textContent = 'In progress: ' + p.done.toLocaleString('en') + ' of ' + p.total.toLocaleString('en') + ' mutants done (' + pct + ' %)' +
          (p.rate !== null ? ', ' + p.rate.toFixed(1) + ' mutants/s, about ' + formatEta(p.eta) + ' left' : '') + '. Grey units are not run yet.';
      }
      document.body.dataset.done = String(p.done);
      const runs = $('live-runs');
      const body = runs.querySelector('tbody');
      body.textContent = '';
      for (const r of p.runs) {
        const tr = document.createElement('tr');
        for (const v of [r.name, r.alive ? 'yes' : 'no', r.mutants.toLocaleString('en'), r.rate === null ? '' : r.rate.toFixed(1)]) {
          const td = document.createElement('td');
          td.textContent = v;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      runs.hidden = p.runs.length === 0;
      const parked = $('live-parked');
      parked.textContent = '';
      for (const b of p.parked) {
        const li = document.createElement('li');
        const which = b.batch.startsWith('g') ? b.count + ' mutants from ' + b.first : 'mutants ' + b.first + '–' + (b.first + b.count - 1);
        li.textContent = 'parked batch ' + b.batch + ' (' + which + ') after ' + b.attempts + ' failed attempts: ' + b.error;
        parked.appendChild(li);
      }
      parked.hidden = p.parked.length === 0;
    };
    const apply = (u) => {
      if (u.seq <= seq) return; // already in the page (a reconnect replays from the last id the browser saw)
      for (const id of Object.keys(u.phenotypes)) data.phenotypes[id] = u.phenotypes[id];
      const q = decode(u.changes);
      for (let i = 0; i + 4 < q.length; i += 5) {
        const grid = outcome[q[i]][q[i + 1]][q[i + 2]];
        if (grid[q[i + 3]] < 0 && q[i + 4] > 0 && data.phenotypes[q[i + 4]]) data.phenotypes[q[i + 4]].count++;
        grid[q[i + 3]] = q[i + 4];
      }
      seq = u.seq;
      data.done = u.progress.done;
      showProgress(u.progress);
      scheduleDraw();
    };
    showProgress(live.progress);
    const events = new EventSource(live.events + '?since=' + seq);
    events.addEventListener('update', (e) => apply(JSON.parse(e.data)));
    events.addEventListener('progress', (e) => showProgress(JSON.parse(e.data)));
    // the server no longer holds the updates since this page's data: a fresh page has them
    events.addEventListener('reload', () => location.reload());
    window.mutascanLive = { events, seq: () => seq };
  }
  // for scripts and tests: the data the page shows now
  window.mutascanPage = { data, outcome };
  document.body.dataset.ready = '1';
})();
