// Umbra's dashboard: polls the admin JSON APIs of the port that served it and renders routes with
// their mirrors' live counters, primary-vs-mirror status and latency, the comparison report, a
// side-by-side sample viewer and the configuration issues of the last load. A saved report (from
// `umbra replay --report`) can be opened from a file instead of the live one: it is read in the
// browser and never sent anywhere. Plain browser JavaScript, no build step; every value is put in
// the page as text (never as HTML).
/* global document, window, location, Node */

const POLL_MS = 2000;
const DUMP_EVERY = 3; // /config_dump is heavier: every third poll

const state = {
  dump: undefined,
  clusters: undefined,
  report: undefined,
  /** mirror name → { sent, at } of the previous poll, for rates */
  prev: new Map(),
  rates: new Map(),
  polls: 0,
  lastOk: 0,
  error: undefined,
  selectedGroup: undefined,
  selectedSample: undefined,
  samples: undefined,
  samplesKey: undefined,
  /** A saved report opened from a file: shown instead of the live one until "Back to live". */
  saved: undefined,
  savedName: undefined,
  rendered: {},
};

// ---------------------------------------------------------------------------------------------
// DOM helpers: h('div.cls', {attr}, children…); strings become text nodes.

function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = undefined;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'width') el.style.width = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function fmtInt(n) {
  return (n ?? 0).toLocaleString('en-US');
}

function pct(r) {
  if (!Number.isFinite(r)) return '–';
  const p = r * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

function ms(n) {
  if (!n) return '–';
  return n >= 100 ? `${n.toFixed(0)} ms` : `${n.toFixed(1)} ms`;
}

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function sum(obj) {
  return Object.values(obj ?? {}).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
}

function nonZero(obj) {
  return Object.entries(obj ?? {}).filter(([, v]) => v > 0);
}

function bar(rate, cls) {
  return h('span.bar', h(`span.fill.${cls}`, { width: `${Math.max(0, Math.min(1, rate)) * 100}%` }));
}

function badge(text, cls) {
  return h(`span.badge.${cls}`, text);
}

function replace(id, ...children) {
  const el = document.getElementById(id);
  el.replaceChildren();
  append(el, children);
}

/** Re-renders a section only when its inputs changed (keeps scroll and open details). */
function renderIfChanged(id, inputs, render) {
  const key = JSON.stringify(inputs);
  if (state.rendered[id] === key) return;
  state.rendered[id] = key;
  replace(id, render());
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

// ---------------------------------------------------------------------------------------------
// Polling

async function poll() {
  try {
    const wantDump = state.polls % DUMP_EVERY === 0 || !state.dump;
    const [clusters, report, dump] = await Promise.all([
      getJson('/clusters'),
      getJson('/compare/report'),
      wantDump ? getJson('/config_dump') : Promise.resolve(state.dump),
    ]);
    state.polls++;
    updateRates(clusters);
    state.clusters = clusters;
    state.report = state.saved ?? report;
    state.dump = dump;
    state.lastOk = Date.now();
    state.error = undefined;
    if (state.selectedGroup === undefined && report.groups.length > 0)
      state.selectedGroup = report.groups[0].key;
    await refreshSamples();
    render();
  } catch (e) {
    state.error = e.message;
    renderLive();
  } finally {
    window.setTimeout(poll, POLL_MS);
  }
}

function updateRates(clusters) {
  const now = Date.now();
  for (const m of clusters.mirrors ?? []) {
    const prev = state.prev.get(m.name);
    if (prev && now > prev.at) state.rates.set(m.name, ((m.sent - prev.sent) * 1000) / (now - prev.at));
    state.prev.set(m.name, { sent: m.sent, at: now });
  }
}

async function refreshSamples() {
  const g = state.report?.groups.find((x) => x.key === state.selectedGroup);
  if (!g) {
    state.samples = undefined;
    return;
  }
  const key = `${state.saved ? 'saved' : 'live'}|${g.key}|${g.lastAt}|${g.samples}`;
  if (key === state.samplesKey) return;
  // A saved report carries its groups' samples (sampleSets); the live ones come from the admin API.
  const r = state.saved
    ? { samples: state.saved.sampleSets?.[g.key] ?? [] }
    : await getJson(`/compare/samples?group=${encodeURIComponent(g.key)}`);
  state.samples = r.samples;
  state.samplesKey = key;
  if (!state.samples.some((s) => s.id === state.selectedSample))
    state.selectedSample = (state.samples.find((s) => s.outcome === 'different') ?? state.samples[0])?.id;
}

function render() {
  renderLive();
  renderConfigSummary();
  renderIfChanged(
    'routes',
    [state.dump?.version, state.dump?.virtualHosts, state.clusters?.mirrors, [...state.rates]],
    renderRoutes,
  );
  renderIfChanged(
    'versions',
    [
      state.clusters?.mirrors?.map((m) => [m.name, m.pairs, m.latencyMsSum, m.latencyCount]),
      state.report?.groups.map((g) => [g.key, g.latency, g.statusPairs]),
    ],
    renderVersions,
  );
  renderIfChanged(
    'compare-summary',
    [state.report?.totals, state.report?.budget, state.report?.pending, state.report?.persistence],
    renderCompareSummary,
  );
  renderIfChanged('compare', [state.report?.groups], renderCompare);
  renderIfChanged(
    'sample-picker',
    [
      state.report?.groups.map((g) => [g.key, g.samples, g.compared]),
      state.selectedGroup,
      state.samples?.map((s) => s.id),
      state.selectedSample,
    ],
    renderSamplePicker,
  );
  renderIfChanged(
    'sample-view',
    [state.samples?.find((s) => s.id === state.selectedSample)?.id, state.selectedGroup],
    renderSampleView,
  );
  renderIfChanged('issues', [state.dump?.lastLoad, state.dump?.issues], renderIssues);
}

function renderLive() {
  const el = document.getElementById('live');
  if (state.error) {
    el.dataset.state = 'error';
    el.textContent = `admin API unreachable: ${state.error}`;
  } else {
    el.dataset.state = 'ok';
    el.textContent = `live · updated ${new Date(state.lastOk).toLocaleTimeString()}`;
  }
}

function renderConfigSummary() {
  const d = state.dump;
  if (!d) return;
  const load = d.lastLoad;
  const errors = (load?.issues ?? []).filter((i) => i.severity === 'error').length;
  const warnings = (load?.issues ?? []).filter((i) => i.severity === 'warning').length;
  replace(
    'config-summary',
    h('span', `config v${d.version}`),
    load && h('span', `loaded ${new Date(load.at).toLocaleTimeString()}`),
    load && !load.applied ? badge('last load rejected', 'bad') : null,
    errors ? badge(`${errors} error${errors > 1 ? 's' : ''}`, 'bad') : null,
    warnings ? badge(`${warnings} warning${warnings > 1 ? 's' : ''}`, 'warn') : null,
    !errors && !warnings ? badge('no issues', 'good') : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Routes and mirrors

function matchText(m) {
  const parts = [
    m.method,
    m.path,
    m.authority,
    ...(m.headers ?? []).map((x) => `header ${x}`),
    ...(m.queryParams ?? []).map((x) => `query ${x}`),
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'everything';
}

function reasons(obj) {
  const nz = nonZero(obj);
  return nz.length
    ? h(
        'span.reasons',
        nz.map(([k, v]) => h('span.reason', `${k.replace(/_/g, ' ')} ${fmtInt(v)}`)),
      )
    : null;
}

function mirrorRow(m) {
  const c = (state.clusters?.mirrors ?? []).find((x) => x.name === m.name);
  const rate = state.rates.get(m.name);
  if (!c)
    return h(
      'tr',
      h('td.mono', m.name),
      h('td', `${m.percent}%`),
      h('td.muted', { colspan: 6 }, 'no request has reached this mirror yet'),
    );
  const failed = sum(c.failed);
  const dropped = sum(c.dropped);
  return h(
    'tr',
    { 'data-mirror': m.name },
    h(
      'td',
      h('div.mono', m.name),
      h('div.muted.small', m.cluster ?? c.cluster ?? ''),
      m.policy ? h('div.muted.small', `policy ${m.policy}`) : null,
    ),
    h(
      'td',
      `${m.percent}%`,
      c.breaker && c.breaker !== 'closed' ? h('div', badge(`breaker ${c.breaker}`, 'bad')) : null,
    ),
    h(
      'td.num',
      h('span.counter', { 'data-counter': 'sent' }, fmtInt(c.sent)),
      h('div.muted.small', rate !== undefined ? `${rate.toFixed(1)}/s` : ''),
    ),
    h(
      'td',
      nonZero(c.completed).length
        ? nonZero(c.completed).map(([k, v]) => h(`span.status.s${k[0]}`, `${k} ${fmtInt(v)}`))
        : h('span.muted', '–'),
    ),
    h('td.num', failed ? h('span.bad-text', fmtInt(failed)) : '0', reasons(c.failed)),
    h('td.num', dropped ? h('span.warn-text', fmtInt(dropped)) : '0', reasons(c.dropped)),
    h('td.num', fmtInt(c.inFlight)),
    h('td.num', c.latencyCount ? ms(c.latencyMsSum / c.latencyCount) : '–'),
  );
}

function renderRoutes() {
  const d = state.dump;
  if (!d) return h('p.muted', 'loading…');
  const out = [];
  for (const vh of d.virtualHosts ?? []) {
    const routes = vh.routes ?? [];
    const withMirrors = routes.filter((r) => r.action?.mirrors?.length);
    out.push(
      h(
        'div.vhost',
        h(
          'h3',
          h('span.mono', vh.name),
          h('span.muted.small', ` ${vh.domains.length} host name${vh.domains.length === 1 ? '' : 's'}`),
        ),
        routes.map((r) =>
          h(
            'div.route',
            h(
              'div.route-head',
              h('span.mono.route-name', r.name),
              h('span.muted', ` ${matchText(r.match ?? {})}`),
              h('span.arrow', ' → '),
              r.action?.forward
                ? r.action.forward.map((b) =>
                    h(
                      'span.backend.mono',
                      `${b.cluster}${r.action.forward.length > 1 ? ` (${b.weight})` : ''}`,
                    ),
                  )
                : h('span.muted', JSON.stringify(r.action)),
            ),
            r.action?.mirrors?.length
              ? h(
                  'table.mirrors',
                  h(
                    'thead',
                    h(
                      'tr',
                      [
                        'mirror',
                        'share',
                        'sent',
                        'answered',
                        'failed',
                        'dropped',
                        'in flight',
                        'avg latency',
                      ].map((t) => h('th', t)),
                    ),
                  ),
                  h('tbody', r.action.mirrors.map(mirrorRow)),
                )
              : h('div.muted.small', 'no mirror'),
          ),
        ),
        withMirrors.length === 0 && routes.length === 0 ? h('div.muted', 'no routes') : null,
      ),
    );
  }
  return out.length ? out : h('p.muted', 'No services are configured.');
}

// ---------------------------------------------------------------------------------------------
// Primary vs mirror

function pairsTable(pairs) {
  const rows = Object.keys(pairs ?? {}).sort();
  const cols = [...new Set(rows.flatMap((r) => Object.keys(pairs[r])))].sort();
  if (!rows.length) return h('div.muted.small', 'no pairs yet');
  return h(
    'table.matrix',
    h(
      'thead',
      h(
        'tr',
        h('th', 'primary ↓ / mirror →'),
        cols.map((c) => h('th', c)),
      ),
    ),
    h(
      'tbody',
      rows.map((r) =>
        h(
          'tr',
          h('th', r),
          cols.map((c) => h(`td.num${r !== c && pairs[r][c] ? '.mismatch' : ''}`, fmtInt(pairs[r][c] ?? 0))),
        ),
      ),
    ),
  );
}

function latencyCell(l) {
  if (!l || !l.count) return h('td.muted', '–');
  return h(
    'td.num',
    h('div', `p50 ${ms(l.p50Ms)}`),
    h('div.muted.small', `p95 ${ms(l.p95Ms)} · avg ${ms(l.avgMs)}`),
  );
}

function renderVersions() {
  const mirrors = state.clusters?.mirrors ?? [];
  const groups = state.report?.groups ?? [];
  if (!mirrors.length) return h('p.muted', 'No mirror has been used yet.');
  return mirrors.map((m) => {
    const gs = groups.filter((g) => g.mirror === m.name);
    return h(
      'div.version-card',
      h(
        'h3',
        h('span.mono', m.name),
        m.latencyCount
          ? h(
              'span.muted.small',
              ` mirror avg ${ms(m.latencyMsSum / m.latencyCount)} over ${fmtInt(m.latencyCount)} answers`,
            )
          : null,
      ),
      h(
        'div.version-grid',
        h('div', h('h4', 'Status classes'), pairsTable(m.pairs)),
        h(
          'div',
          h('h4', 'Latency by endpoint (compared requests)'),
          gs.length
            ? h(
                'table.latency',
                h(
                  'thead',
                  h(
                    'tr',
                    h('th', 'endpoint'),
                    h('th', 'primary'),
                    h('th', 'this mirror'),
                    h('th', 'baseline'),
                    h('th', 'status pairs'),
                  ),
                ),
                h(
                  'tbody',
                  gs.map((g) =>
                    h(
                      'tr',
                      h('td.mono', g.endpoint),
                      latencyCell(g.latency.primary),
                      latencyCell(g.latency.candidate),
                      latencyCell(g.latency.baseline),
                      h(
                        'td',
                        Object.entries(g.statusPairs).map(([k, v]) => {
                          const [a, b] = k.split(' ');
                          return h(`span.pair${a !== b ? '.mismatch' : ''}`, `${a}→${b} ×${fmtInt(v)}`);
                        }),
                      ),
                    ),
                  ),
                ),
              )
            : groups.some((g) => g.baseline === m.name)
              ? h(
                  'div.muted.small',
                  `Baseline of ${[...new Set(groups.filter((g) => g.baseline === m.name).map((g) => g.mirror))].join(', ')}: its latency is shown there, beside the candidate's.`,
                )
              : h(
                  'div.muted.small',
                  'Comparison is off for this mirror: enable compare in its MirrorPolicy to see latency by endpoint.',
                ),
        ),
      ),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Comparison report

function renderCompareSummary() {
  const r = state.report;
  if (!r) return h('p.muted', 'loading…');
  const t = r.totals;
  const unpaired = nonZero(t.unpaired);
  const used = r.budget.limitBytes ? r.budget.usedBytes / r.budget.limitBytes : 0;
  return h(
    'div.summary',
    h('div.stat', h('div.stat-n', fmtInt(t.compared)), h('div.stat-l', 'responses compared')),
    h('div.stat', h('div.stat-n', fmtInt(r.pending)), h('div.stat-l', 'pairs pending')),
    h('div.stat', h('div.stat-n', fmtInt(t.hashOnly)), h('div.stat-l', 'by size+hash only (budget)')),
    h(
      'div.stat.wide',
      h(
        'div.stat-l',
        `retained bodies ${bytes(r.budget.usedBytes)} of ${bytes(r.budget.limitBytes)} (peak ${bytes(r.budget.peakBytes)})`,
      ),
      bar(used, used > 0.9 ? 'bad' : 'ok'),
    ),
    unpaired.length ? h('div.stat.wide', h('div.stat-l', 'not compared'), reasons(t.unpaired)) : null,
    h(
      'div.stat.wide.muted.small',
      r.persistence.file
        ? `results kept in ${r.persistence.file}`
        : r.persistence.error
          ? `results not persisted: ${r.persistence.error}`
          : 'results kept in memory only',
    ),
  );
}

function fieldRow(f) {
  return h(
    `tr.field.${f.verdict}`,
    h('td.mono.field-name', f.field),
    h(
      'td',
      badge(
        f.verdict === 'difference' ? 'difference' : f.verdict,
        f.verdict === 'difference' ? 'bad' : f.verdict === 'noise' ? 'noise' : 'muted',
      ),
    ),
    h(
      'td.rate',
      bar(f.differenceRate, 'cand'),
      h('span.num', ` ${pct(f.differenceRate)}`),
      h('span.muted.small', ` (${fmtInt(f.differences)})`),
    ),
    h(
      'td.rate',
      f.noiseMeasured
        ? [bar(f.noiseRate, 'noise'), h('span.num', ` ${pct(f.noiseRate)}`)]
        : h('span.muted', 'not measured'),
    ),
    h(
      'td.example',
      f.example
        ? [
            h('span.mono.old', f.example.primary ?? '(absent)'),
            ' → ',
            h('span.mono.new', f.example.other ?? '(absent)'),
          ]
        : '',
    ),
  );
}

function fieldTable(fields) {
  return h(
    'table.fields',
    h(
      'thead',
      h(
        'tr',
        h('th', 'field'),
        h('th', 'verdict'),
        h('th', 'candidate differs'),
        h('th', 'baseline differs (noise)'),
        h('th', 'example: primary → candidate'),
      ),
    ),
    h('tbody', fields.map(fieldRow)),
  );
}

function groupCard(g) {
  const total = g.compared || 1;
  return h(
    `div.group${g.differences.length ? '.has-diff' : ''}`,
    { 'data-group': g.key },
    h(
      'div.group-head',
      h('div', h('span.mono.endpoint', g.endpoint), h('span.muted', ` on ${g.route}`)),
      h(
        'div.muted.small',
        `${g.mirror}${g.baseline ? ` vs primary, noise from baseline ${g.baseline}` : ' vs primary (no baseline)'}`,
      ),
    ),
    h(
      'div.outcomes',
      h('span', `${fmtInt(g.compared)} compared`),
      h('span.good-text', `${fmtInt(g.equal)} equal`),
      h('span.bad-text', `${fmtInt(g.different)} different (${pct(g.differenceRate)})`),
      h('span.noise-text', `${fmtInt(g.noiseOnly)} noise only`),
      h(
        'span.stack',
        h('span.fill.good', { width: `${(g.equal / total) * 100}%` }),
        h('span.fill.bad', { width: `${(g.different / total) * 100}%` }),
        h('span.fill.noise', { width: `${(g.noiseOnly / total) * 100}%` }),
      ),
      h('button.link', { type: 'button', onclick: () => selectGroup(g.key) }, `samples (${g.samples})`),
    ),
    g.differences.length
      ? fieldTable(g.differences)
      : h('div.verdict-ok', g.compared ? 'No difference beyond noise.' : 'Nothing compared yet.'),
    g.noise.length
      ? h(
          'details.noise',
          h(
            'summary',
            `${g.noise.length} noisy field${g.noise.length > 1 ? 's' : ''} suppressed (they differ as often between primary and baseline)`,
          ),
          fieldTable(g.noise),
        )
      : null,
    g.minor.length
      ? h(
          'details.minor',
          h('summary', `${g.minor.length} field${g.minor.length > 1 ? 's' : ''} below the thresholds`),
          fieldTable(g.minor),
        )
      : null,
    g.notes.length
      ? h(
          'ul.notes',
          g.notes.map((n) => h('li', n)),
        )
      : null,
  );
}

function renderCompare() {
  const groups = state.report?.groups ?? [];
  if (!groups.length)
    return h(
      'p.muted',
      'No comparison results yet. Turn comparison on in a MirrorPolicy (spec.compare.enabled: true, and a baseline to cancel noise) and send traffic.',
    );
  return groups.map(groupCard);
}

// ---------------------------------------------------------------------------------------------
// Samples

function selectGroup(key) {
  state.selectedGroup = key;
  state.selectedSample = undefined;
  state.samplesKey = undefined;
  refreshSamples().then(render, () => {});
  document.getElementById('samples-section').scrollIntoView({ behavior: 'smooth' });
}

function renderSamplePicker() {
  const groups = state.report?.groups ?? [];
  if (!groups.length) return h('p.muted', 'No samples yet.');
  const select = h(
    'select',
    { id: 'group-select', onchange: (e) => selectGroup(e.target.value), 'aria-label': 'comparison group' },
    groups.map((g) =>
      h(
        'option',
        { value: g.key, selected: g.key === state.selectedGroup },
        `${g.endpoint} — ${g.mirror} (${g.route})`,
      ),
    ),
  );
  const list = (state.samples ?? []).map((s) =>
    h(
      `button.sample-btn${s.id === state.selectedSample ? '.selected' : ''}`,
      {
        type: 'button',
        onclick: () => {
          state.selectedSample = s.id;
          render();
        },
      },
      badge(s.outcome, s.outcome === 'different' ? 'bad' : s.outcome === 'noise-only' ? 'noise' : 'good'),
      h('span.mono', ` ${s.method} ${s.path}`),
      h('span.muted.small', ` ${new Date(s.at).toLocaleTimeString()} · ${s.requestId}`),
    ),
  );
  return h(
    'div.picker',
    h('label', 'Group ', select),
    h('div.sample-list', list.length ? list : h('span.muted', 'no samples in this group yet')),
  );
}

function keyStep(k) {
  return /^[A-Za-z_$][\w$-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
}

/** Pretty JSON as DOM, with the nodes at `marks` paths highlighted (path → css class). */
function jsonTree(value, marks) {
  const out = h('pre.body.json');
  const line = (indent, path, ...parts) => {
    const cls = marks.get(path);
    out.append(h(`span.line${cls ? `.${cls}` : ''}`, '  '.repeat(indent), ...parts, '\n'));
  };
  const walk = (v, path, indent, key, last) => {
    const keyPart = key === undefined ? [] : [h('span.k', JSON.stringify(key)), ': '];
    const comma = last ? '' : ',';
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
      const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
      if (!entries.length) return line(indent, path, ...keyPart, open + close + comma);
      line(indent, path, ...keyPart, open);
      entries.forEach(([k, x], i) =>
        walk(
          x,
          Array.isArray(v) ? `${path}[${k}]` : path + keyStep(k),
          indent + 1,
          Array.isArray(v) ? undefined : k,
          i === entries.length - 1,
        ),
      );
      line(indent, path, close + comma);
    } else
      line(indent, path, ...keyPart, h(`span.v.${v === null ? 'null' : typeof v}`, JSON.stringify(v)), comma);
  };
  walk(value, '$', 0, undefined, true);
  return out;
}

function bodyView(side, marks, textDiff) {
  if (side.kind === 'json') {
    try {
      return jsonTree(JSON.parse(side.body), marks);
    } catch {
      // cut or not JSON: shown as text below
    }
  }
  if (textDiff)
    return h(
      'pre.body',
      textDiff.map((op) =>
        h(
          `span.line.op${op.op === '+' ? 'add' : op.op === '-' ? 'del' : op.op === '…' ? 'skip' : 'same'}`,
          `${op.op} ${op.text}\n`,
        ),
      ),
    );
  return h(
    `pre.body${side.kind === 'not-retained' || side.kind === 'binary' ? '.muted' : ''}`,
    side.body + (side.bodyCut ? '\n… (cut)' : ''),
  );
}

function sidePane(title, side, marks, diffHeaders, textDiff) {
  if (!side) return null;
  return h(
    'div.pane',
    h('h4', title, h('span.muted.small', ` ${side.latencyMs} ms`)),
    h(
      'div.status-line',
      badge(String(side.status), side.status >= 500 ? 'bad' : side.status >= 400 ? 'warn' : 'good'),
      h('span.muted.small', ` ${fmtInt(side.size)} bytes`),
    ),
    h(
      'table.headers',
      h(
        'tbody',
        Object.entries(side.headers).map(([k, v]) =>
          h(
            `tr${diffHeaders.has(k) ? `.${diffHeaders.get(k)}` : ''}`,
            h('td.mono', k),
            h(`td.mono${v === '[redacted]' ? '.muted' : ''}`, v),
          ),
        ),
      ),
    ),
    bodyView(side, marks, textDiff),
  );
}

function renderSampleView() {
  const s = state.samples?.find((x) => x.id === state.selectedSample);
  if (!s) return h('p.muted', state.samples?.length ? 'Pick a sample.' : '');
  const candMarks = new Map();
  const primaryMarks = new Map();
  const diffHeaders = new Map();
  for (const d of s.diffs) {
    const cls = d.noise ? 'hl-noise' : 'hl-diff';
    if (d.path.startsWith('header:')) diffHeaders.set(d.path.slice(7), cls);
    if (d.kind !== 'added') primaryMarks.set(d.path, cls);
    if (d.kind !== 'removed') candMarks.set(d.path, cls);
  }
  return h(
    'div.sample',
    h(
      'div.sample-head',
      badge(s.outcome, s.outcome === 'different' ? 'bad' : s.outcome === 'noise-only' ? 'noise' : 'good'),
      h('span.mono', ` ${s.method} ${s.path}`),
      h(
        'span.muted.small',
        ` request ${s.requestId} · ${new Date(s.at).toLocaleString()} · body compared as ${s.mode}`,
      ),
    ),
    s.diffs.length
      ? h(
          'table.diffs',
          h(
            'thead',
            h(
              'tr',
              h('th', 'where'),
              h('th', 'change'),
              h('th', 'primary'),
              h('th', 'candidate'),
              h('th', ''),
            ),
          ),
          h(
            'tbody',
            s.diffs.map((d) =>
              h(
                `tr${d.noise ? '.noise-row' : ''}`,
                h('td.mono', d.path),
                h('td', d.kind),
                h('td.mono.old', d.primary ?? '–'),
                h('td.mono.new', d.other ?? '–'),
                h('td', d.noise ? badge('noise', 'noise') : badge('difference', 'bad')),
              ),
            ),
          ),
        )
      : h('p.muted', 'The candidate answered exactly like the primary.'),
    h(
      'div.panes',
      sidePane('Primary', s.primary, primaryMarks, diffHeaders),
      sidePane('Candidate (mirror)', s.candidate, candMarks, diffHeaders, s.textDiff),
      sidePane('Baseline (mirror)', s.baseline, new Map(), new Map()),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Configuration issues

function renderIssues() {
  const d = state.dump;
  if (!d) return h('p.muted', 'loading…');
  const load = d.lastLoad;
  const issues = load?.issues ?? d.issues ?? [];
  return h(
    'div',
    load
      ? h(
          `div.load.${load.applied ? 'applied' : 'rejected'}`,
          load.applied
            ? `Load of ${new Date(load.at).toLocaleString()} applied: serving config v${load.version}.`
            : `Load of ${new Date(load.at).toLocaleString()} was rejected: still serving config v${d.version}.`,
        )
      : null,
    issues.length
      ? h(
          'table.issues',
          h(
            'thead',
            h(
              'tr',
              ['severity', 'resource', 'where', 'field', 'message'].map((t) => h('th', t)),
            ),
          ),
          h(
            'tbody',
            issues.map((i) =>
              h(
                'tr',
                h(
                  'td',
                  badge(
                    i.severity,
                    i.severity === 'error' ? 'bad' : i.severity === 'warning' ? 'warn' : 'muted',
                  ),
                ),
                h('td.mono', i.resource ?? ''),
                h(
                  'td.mono',
                  i.file ? `${i.file.split('/').slice(-2).join('/')}${i.line ? `:${i.line}` : ''}` : '',
                ),
                h('td.mono', i.path ?? ''),
                h('td', i.message, i.hint ? h('div.muted.small', i.hint) : null),
              ),
            ),
          ),
        )
      : h('p.good-text', 'The last load had no issues.'),
  );
}

// ---------------------------------------------------------------------------------------------
// Saved reports

function isReport(r) {
  return (
    r &&
    typeof r === 'object' &&
    Array.isArray(r.groups) &&
    r.totals &&
    typeof r.totals === 'object' &&
    r.budget
  );
}

async function openSavedReport(file) {
  const origin = document.getElementById('report-origin');
  let r;
  try {
    r = JSON.parse(await file.text());
  } catch (e) {
    origin.textContent = `${file.name} is not JSON: ${e.message}`;
    return;
  }
  if (!isReport(r)) {
    origin.textContent = `${file.name} is not an Umbra comparison report (no groups, totals and budget)`;
    return;
  }
  state.saved = r;
  state.savedName = file.name;
  showSaved();
}

function showSaved() {
  const r = state.saved;
  const origin = document.getElementById('report-origin');
  document.getElementById('report-live').hidden = !r;
  if (r) {
    const p = r.replay;
    origin.textContent = `showing ${state.savedName}, generated ${new Date(r.generatedAt).toLocaleString()}${
      p ? `: ${p.primary} vs ${p.candidate}${p.baseline ? ` (baseline ${p.baseline})` : ''}` : ''
    }`;
  } else origin.textContent = '';
  state.report = r ?? state.report;
  state.selectedGroup = state.report?.groups[0]?.key;
  state.selectedSample = undefined;
  state.samplesKey = undefined;
  refreshSamples().then(render, () => render());
}

function wireSavedReports() {
  const input = document.getElementById('report-file');
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) openSavedReport(f);
  });
  document.getElementById('report-live').addEventListener('click', () => {
    state.saved = undefined;
    state.report = undefined;
    input.value = '';
    // The next poll brings the live report back.
    showSaved();
  });
}

if (location.protocol.startsWith('http')) {
  wireSavedReports();
  poll();
}
