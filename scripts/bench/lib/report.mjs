// The table: one row per figure, each against its baseline from the same run, with the issue's
// target (reported, never failing anything) and whether it was met.
import { round } from './util.mjs';

const fmtMs = (x) => (x === null || x === undefined ? '—' : `${round(x, 1)} ms`);
const fmtRatio = (x) => `${round(x, 2)}×`;
const fmtRate = (x) => `${round(x, 1)}/s`;
const fmtMiB = (x) => `${round(x, 1)} MiB`;

function row(section, measure, n, agent, baseline, comparison, target = null) {
  let met = null;
  if (target) met = target.check(comparison.value);
  return {
    section,
    measure,
    n,
    agent,
    baseline,
    comparison: comparison.text,
    comparisonValue: comparison.value,
    target: target ? target.text : '—',
    met,
  };
}

const ratio = (a, b) => ({ value: round(a / b, 3), text: fmtRatio(a / b) });

/** Table rows from the sections' results (a missing section gives one "error" row). */
export function buildRows(results, meta) {
  const rows = [];
  const d = results.detection;
  if (d && !d.error) {
    const slowest = d.slowestProbe;
    rows.push(row('1 detection', '`detect --json` wall time (incl. process start-up) vs probes one after another (upstream)', d.runs, fmtMs(d.detectJsonWallMs.p50), `${fmtMs(d.sequentialProbesMs)} (sum of ${d.probes.length} probes)`, ratio(d.detectJsonWallMs.p50, d.sequentialProbesMs)));
    rows.push(row('1 detection', 'detection only (`detect --json` − `--version` wall) vs probes one after another', d.runs, fmtMs(d.detectionOnlyMs), fmtMs(d.sequentialProbesMs), ratio(d.detectionOnlyMs, d.sequentialProbesMs)));
    rows.push(row('1 detection', `detection only vs slowest single probe (\`${slowest.command}\`)`, d.runs, fmtMs(d.detectionOnlyMs), fmtMs(slowest.medianMs), ratio(d.detectionOnlyMs, slowest.medianMs), { text: '≤ 1.2×', check: (v) => v <= 1.2 }));
    if (d.parallelProbesMs) {
      const all = d.parallelProbesMs.p50;
      rows.push(row('1 detection', `floor: the same ${d.probes.length} probes started all at once by the bench's Node process, until the last exits, vs slowest single probe`, d.runs, fmtMs(all), fmtMs(slowest.medianMs), ratio(all, slowest.medianMs)));
      rows.push(row('1 detection', 'detection only vs the probes all at once (the floor above)', d.runs, fmtMs(d.detectionOnlyMs), `${fmtMs(all)} (all at once)`, ratio(d.detectionOnlyMs, all)));
    }
  } else rows.push(errorRow('1 detection', d));

  const s = results.startup;
  if (s && !s.error) {
    rows.push(row('2 start-up', `cold start to \`--version\` (${s.agent === 'sea' ? 'SEA' : 'node bundle'})`, s.versionMs.n, fmtMs(s.versionMs.p50), `${fmtMs(s.versionBaseline.p50)} (${s.versionBaseline.label})`, ratio(s.versionMs.p50, s.versionBaseline.p50)));
    rows.push(row('2 start-up', 'spawn → registered and consuming (worker active + executions consumer)', s.readyMs.n, fmtMs(s.readyMs.p50), `${fmtMs(s.versionMs.p50)} (\`--version\`)`, ratio(s.readyMs.p50, s.versionMs.p50)));
    rows.push(row('2 start-up', 'peak RSS when registered and consuming (VmHWM)', s.readyMs.n, fmtMiB(s.readyPeakRssMiB), `${fmtMiB(s.versionPeakRssMiB)} (\`--version\`)`, { value: s.readyPeakRssMiB, text: fmtMiB(s.readyPeakRssMiB) }, { text: '≤ 70 MiB', check: (v) => v <= 70 }));
    rows.push(row('2 start-up', 'peak RSS when registered and consuming vs `--version` of the same binary', s.readyMs.n, fmtMiB(s.readyPeakRssMiB), `${fmtMiB(s.versionPeakRssMiB)} (\`--version\`)`, ratio(s.readyPeakRssMiB, s.versionPeakRssMiB)));
  } else rows.push(errorRow('2 start-up', s));

  const o = results.overhead;
  if (o && !o.error) {
    for (const q of ['p50', 'p95', 'p99']) {
      const target = q === 'p50' ? { text: '≤ +3 ms', check: (v) => v <= 3 } : null;
      const diff = o.agentMs[q] - o.bareSpawnMs[q];
      rows.push(row('3 per-execution', `dispatch → ExecutionCompleted, ${q} (sequential) vs bare spawn`, o.executions, fmtMs(o.agentMs[q]), fmtMs(o.bareSpawnMs[q]), { value: round(diff, 2), text: `${diff >= 0 ? '+' : ''}${round(diff, 1)} ms` }, target));
    }
  } else rows.push(errorRow('3 per-execution', o));

  const t = results.throughput;
  if (t && !t.error) {
    for (const l of t.levels) {
      // issue 18: ≥ 1.0× Celery prefork 16 while also writing PostgreSQL and publishing.
      const target = l.concurrency === 16 ? { text: '≥ 1.0×', check: (v) => v >= 1.0 } : null;
      rows.push(row('4 throughput', `c=${l.concurrency}: executions/s vs amqp-consume (${l.concurrency} consumers)`, l.executions, fmtRate(l.agentPerSec), fmtRate(l.amqpConsumePerSec), ratio(l.agentPerSec, l.amqpConsumePerSec)));
      rows.push(row('4 throughput', `c=${l.concurrency}: executions/s vs Celery (prefork ${l.concurrency})`, l.executions, fmtRate(l.agentPerSec), fmtRate(l.celeryPerSec), ratio(l.agentPerSec, l.celeryPerSec), target));
    }
    for (const l of t.levels) rows.push(...cpuRows(l));
    if (t.withApi) rows.push(...withApiRows(t.withApi, t.levels.find((l) => l.concurrency === t.withApi.concurrency) ?? null));
  } else rows.push(errorRow('4 throughput', t));
  if (results.floor) rows.push(...floorRows(results.floor, t && !t.error ? t : null, o && !o.error ? o : null));

  const h = results.heavyOutput;
  if (h && !h.error) {
    const mb = `${round(h.bytes / 1e6, 0)} MB`;
    rows.push(row('5 heavy output', `${mb} on stdout: dispatch → ExecutionCompleted vs \`cat\` of the same bytes to /dev/null`, h.runs, fmtMs(h.agentMs), fmtMs(h.catMs), ratio(h.agentMs, h.catMs), { text: '≤ 1.5×', check: (v) => v <= 1.5 }));
    rows.push(row('5 heavy output', `agent peak RSS (VmHWM) with ${mb} of output`, h.runs, fmtMiB(h.agentPeakRssMiB), h.agentIdleRssMiB === null ? '—' : `${fmtMiB(h.agentIdleRssMiB)} (idle)`, { value: h.agentPeakRssMiB, text: fmtMiB(h.agentPeakRssMiB) }, { text: '≤ 150 MiB', check: (v) => v <= 150 }));
    if (h.floor) rows.push(...heavyFloorRows(h, mb));
  } else rows.push(errorRow('5 heavy output', h));

  const k = results.soak;
  if (k && !k.error) {
    rows.push(row('6 soak', `RSS start (after ${k.warmupExecutions}) / middle / end, c=${k.concurrency}, ${k.perSecond}/s`, k.executions, `${k.rssMiB.start} / ${k.rssMiB.middle} / ${k.rssMiB.end} MiB`, `${fmtMiB(k.rssMiB.start)} (start)`, { value: k.growthPct, text: `${k.growthPct >= 0 ? '+' : ''}${k.growthPct} %` }));
    if (k.floorMiB) {
      const g = k.floorGrowthPct;
      rows.push(row('6 soak', 'RSS floor (lowest sample) of the first vs the last tenth after the warm-up', k.executions, `${k.floorMiB.first} → ${k.floorMiB.last} MiB`, `${fmtMiB(k.floorMiB.first)} (first tenth)`, { value: g, text: `${g >= 0 ? '+' : ''}${g} %` }, { text: '< +5 %', check: (v) => v < 5 }));
    }
  } else rows.push(errorRow('6 soak', k));

  const a = results.apiPacks;
  if (a && !a.error) {
    const kib = `${round(a.archiveBytes / 1024, 0)} KiB archive`;
    for (const q of ['p50', 'p95']) {
      const diff = a.coldMs[q] - a.warmMs[q];
      rows.push(row('7 API packs', `pinned release over the API, ${q}: cold cache (download + verify + unpack, ${kib}) vs warm cache`, a.executions, fmtMs(a.coldMs[q]), fmtMs(a.warmMs[q]), { value: round(diff, 2), text: `${diff >= 0 ? '+' : ''}${round(diff, 1)} ms` }));
    }
    if (a.objectMs) {
      for (const q of ['p50', 'p95']) {
        const diff = a.objectMs[q] - a.warmMs[q];
        rows.push(row('7 API packs', `object mode (storage.mode object: log streams as object_segments over the API, ${a.objectSegments} segments uploaded, seals through the API in both), ${q}, warm cache vs logs on the volume`, a.executions, fmtMs(a.objectMs[q]), fmtMs(a.warmMs[q]), { value: round(diff, 2), text: `${diff >= 0 ? '+' : ''}${round(diff, 1)} ms` }));
      }
    }
  } else if (a) rows.push(errorRow('7 API packs', a));
  void meta;
  return rows;
}

/** issue 18: where the CPU of one execution goes, and the round trips behind it. */
function cpuRows(l) {
  const c = l.agentCpu;
  const rt = l.agentRoundTrips;
  if (!c) return [];
  const at16 = l.concurrency === 16;
  const cpu = (who, v, target) => row('4 throughput', `c=${l.concurrency}: ${who} CPU per execution (utime+stime ÷ executions)`, l.executions, fmtMs2(v), '—', { value: v, text: fmtMs2(v) }, at16 ? target : null);
  const rows = [
    cpu('agent process', c.agentMsPerExecution, { text: '≤ 1.0 ms', check: (v) => v <= 1.0 }),
    cpu('actions (reaped children)', c.actionsMsPerExecution, null),
    cpu('PostgreSQL (backends of the bench database)', c.postgresMsPerExecution, { text: '≤ 0.8 ms', check: (v) => v <= 0.8 }),
    cpu('RabbitMQ (beam.smp)', c.rabbitmqMsPerExecution, null),
  ];
  if (rt) {
    const text = `${rt.sqlStatementsPerExecution} SQL statements, ${rt.amqpPublishesPerExecution} publishes (${rt.statusChangedPerExecution} status + ${rt.completedPerExecution} completed)`;
    rows.push(row('4 throughput', `c=${l.concurrency}: round trips per execution (pg_stat_database transactions; messages received)`, l.executions, text, '—', { value: rt.sqlStatementsPerExecution, text: `${rt.sqlStatementsPerExecution} SQL` }));
  }
  return rows;
}

/**
 * The agent at the highest level once more with an Attune API answering its seals (the rows
 * above run without one): what production's two seal requests per execution add.
 */
function withApiRows(a, level) {
  const c = `c=${a.concurrency} with an Attune API answering the seals (scripts/lib/fake-api.mjs in the bench process; ${a.sealRequestsPerExecution} seal requests per execution)`;
  const vs = (v, base, fmt, what) => (base === null || base === undefined ? ['—', { value: null, text: '—' }] : [`${fmt(base)} (${what})`, ratio(v, base)]);
  const noApi = 'no API, above';
  return [
    row('4 throughput', `${c}: executions/s`, a.executions, fmtRate(a.agentPerSec), ...vs(a.agentPerSec, level?.agentPerSec, fmtRate, noApi)),
    row('4 throughput', `${c}: agent process CPU per execution`, a.executions, fmtMs2(a.agentCpu.agentMsPerExecution), ...vs(a.agentCpu.agentMsPerExecution, level?.agentCpu?.agentMsPerExecution, fmtMs2, noApi)),
    row('4 throughput', `${c}: PostgreSQL CPU per execution (the API's seal transactions included)`, a.executions, fmtMs2(a.agentCpu.postgresMsPerExecution), ...vs(a.agentCpu.postgresMsPerExecution, level?.agentCpu?.postgresMsPerExecution, fmtMs2, noApi)),
  ];
}

/**
 * issue 18: the skeleton consumer of scripts/bench/floor.mjs beside the agent at the same
 * concurrency — the least CPU per execution any Node agent on pg and amqplib needs here.
 */
function floorRows(f, t, o) {
  if (f.error) return [errorRow('4 throughput', f)];
  const level = t?.levels.find((l) => l.concurrency === f.concurrency) ?? null;
  const agentMs = level?.agentCpu?.agentMsPerExecution ?? null;
  const vsAgent = (v) => (agentMs === null ? { value: null, text: '—' } : ratio(v, agentMs));
  const agentText = agentMs === null ? '— (throughput not run)' : `${fmtMs2(agentMs)} (agent process)`;
  const what = `claim UPDATE, spawn of the same noop.sh, batched terminal UPDATE, 3 confirmed publishes, ack; ${f.node} + pg + amqplib, nothing else`;
  const w = f.withSpawn;
  const wo = f.withoutSpawn;
  const rows = [
    row('4 throughput', `c=${f.concurrency}: floor: skeleton consumer's CPU per execution (${what}; peak RSS ${w.peakRssMiB} MiB)`, f.executions, `${fmtMs2(w.cpuMsPerExecution)} (${round(w.userMsPerExecution, 2)} + ${round(w.sysMsPerExecution, 2)})`, agentText, vsAgent(w.cpuMsPerExecution)),
    row('4 throughput', `c=${f.concurrency}: floor without the spawn (the same skeleton, no process started)`, f.executions, fmtMs2(wo.cpuMsPerExecution), agentText, vsAgent(wo.cpuMsPerExecution)),
  ];
  const pgMs = level?.agentCpu?.postgresMsPerExecution ?? null;
  const pgText = pgMs === null ? '— (throughput not run)' : `${fmtMs2(pgMs)} (agent's executions)`;
  const vsPg = (v) => (pgMs === null ? { value: null, text: '—' } : ratio(v, pgMs));
  rows.push(row('4 throughput', `c=${f.concurrency}: floor: PostgreSQL CPU per execution for the skeleton's two writes on a plain table (backends of the bench database)`, f.executions, fmtMs2(w.postgresMsPerExecution), pgText, vsPg(w.postgresMsPerExecution)));
  const u = f.upstreamTable;
  if (u) rows.push(row('4 throughput', `c=${f.concurrency}: floor: PostgreSQL CPU per execution for the same two writes on upstream's \`execution\` (its triggers and indexes; upstream's worker's mark running + terminal UPDATE, here guarded and batched)`, f.executions, fmtMs2(u.postgresMsPerExecution), pgText, vsPg(u.postgresMsPerExecution)));
  const q = f.sequential;
  if (q) {
    const diff = q.skeletonMs.p50 - q.bareSpawnMs.p50;
    rows.push(row('3 per-execution', `floor: skeleton consumer's dispatch → completion, p50 (sequential, upstream's \`execution\` table) vs bare spawn (alternating with it)`, q.runs, fmtMs(q.skeletonMs.p50), fmtMs(q.bareSpawnMs.p50), { value: round(diff, 2), text: `${diff >= 0 ? '+' : ''}${round(diff, 1)} ms` }));
    if (q.withoutSpawnMs) rows.push(row('3 per-execution', "floor: the same skeleton without the spawn, dispatch → completion p50 (sequential): upstream's two writes, 3 confirmed publishes and the broker hops alone, i.e. the least a consumer adds to a spawn", q.runs, fmtMs(q.withoutSpawnMs.p50), '—', { value: round(q.withoutSpawnMs.p50, 2), text: `+${round(q.withoutSpawnMs.p50, 1)} ms` }));
    if (o) {
      const above = o.agentMs.p50 - q.skeletonMs.p50;
      rows.push(row('3 per-execution', 'dispatch → ExecutionCompleted p50 (sequential): the agent vs the skeleton consumer above', o.executions, fmtMs(o.agentMs.p50), `${fmtMs(q.skeletonMs.p50)} (skeleton)`, { value: round(above, 2), text: `${above >= 0 ? '+' : ''}${round(above, 1)} ms` }));
    }
  }
  if (level?.celeryPerSec) rows.push(row('4 throughput', `c=${f.concurrency}: floor: skeleton consumer's executions/s vs Celery (prefork ${f.concurrency})`, f.executions, fmtRate(w.perSec), fmtRate(level.celeryPerSec), ratio(w.perSec, level.celeryPerSec)));
  return rows;
}

/** issue 18: what the same output costs a skeleton consumer and a bare Node reader, beside `cat`. */
function heavyFloorRows(h, mb) {
  const f = h.floor;
  const kept = `${round(f.maxStdoutBytes / 1048576, 1)} MiB`;
  const catText = `${fmtMs(h.catMs)} (\`cat\`)`;
  return [
    row('5 heavy output', `floor: skeleton consumer's dispatch → completion of the same action (output copied to a log file as it arrives, first ${kept} kept, terminal UPDATE of upstream's row and the completion carrying them) vs \`cat\``, h.runs, fmtMs(f.skeletonMs), catText, ratio(f.skeletonMs, h.catMs)),
    row('5 heavy output', `floor: the same ${mb} read to EOF into one reused buffer and dropped by a Node process (the child's stdout is a socketpair) vs \`cat\``, h.runs, fmtMs(f.nodeReaderMs), catText, ratio(f.nodeReaderMs, h.catMs)),
    row('5 heavy output', `${mb} on stdout, dispatch → completion: the agent vs the skeleton consumer above`, h.runs, fmtMs(h.agentMs), `${fmtMs(f.skeletonMs)} (skeleton)`, ratio(h.agentMs, f.skeletonMs)),
  ];
}

const fmtMs2 = (x) => (x === null || x === undefined ? '—' : `${round(x, 2)} ms`);

function errorRow(section, r) {
  return { section, measure: r ? `failed: ${String(r.error).split('\n')[0].slice(0, 200)}` : 'not run', n: 0, agent: '—', baseline: '—', comparison: '—', comparisonValue: null, target: '—', met: null };
}

const esc = (s) => String(s).replace(/\|/g, '\\|');

export function renderMarkdown(rows, meta) {
  const lines = [];
  lines.push(`## attune-agent benchmark${meta.quick ? ' (--quick smoke sizes: not representative)' : ''}`);
  lines.push('');
  lines.push(`Agent under test: ${meta.agentLabel}. Host: ${meta.host}, ${meta.cpus} CPUs, Node ${meta.hostNode}; ${meta.startedAt}; total ${meta.durationSec} s.`);
  lines.push('');
  lines.push('| section | measure | n | agent | baseline | agent vs baseline | target | met? |');
  lines.push('|---|---|---:|---:|---:|---:|---|---|');
  for (const r of rows) {
    const met = r.met === null ? '—' : r.met ? 'yes' : '**no**';
    lines.push(`| ${esc(r.section)} | ${esc(r.measure)} | ${r.n} | ${esc(r.agent)} | ${esc(r.baseline)} | ${esc(r.comparison)} | ${esc(r.target)} | ${met} |`);
  }
  lines.push('');
  for (const note of meta.notes) lines.push(`- ${note}`);
  return `${lines.join('\n')}\n`;
}
