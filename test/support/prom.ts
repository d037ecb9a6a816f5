// A small, strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on
// anything a Prometheus server or the node exporter textfile collector would reject or misread.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parseProm(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const fam = families.get(name) ?? { name, type: 'untyped' as const, help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`bad type, ${where}`);
        if (fam.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        fam.type = rest as Family['type'];
      } else fam.help = rest;
      families.set(name, fam);
      return;
    }
    const sample = parseSample(line, where);
    const fam = familyOf(families, sample.name);
    if (!fam) throw new Error(`sample without a TYPE line, ${where}`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSeries.has(key)) throw new Error(`duplicate series, ${where}`);
    seenSeries.add(key);
    fam.samples.push(sample);
  });
  for (const fam of families.values()) if (fam.type === 'histogram') checkHistogram(fam);
  return families;
}

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  const fam = m ? families.get(m[1] as string) : undefined;
  return fam && (fam.type === 'histogram' || fam.type === 'summary') ? fam : undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`bad sample, ${where}`);
  const labels: Record<string, string> = {};
  let rest = m[3] ?? '';
  while (rest.length > 0) {
    const lm = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest);
    if (!lm) throw new Error(`bad labels, ${where}`);
    const [all, lname, raw] = lm as unknown as [string, string, string];
    if (!LABEL.test(lname)) throw new Error(`bad label name "${lname}", ${where}`);
    if (lname in labels) throw new Error(`repeated label, ${where}`);
    labels[lname] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(all.length);
  }
  const v = m[4] as string;
  const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
  if (
    !/^(\+Inf|-Inf|NaN|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/.test(v) ||
    (Number.isNaN(value) && v !== 'NaN')
  )
    throw new Error(`bad value, ${where}`);
  return { name: m[1] as string, labels, value };
}

function checkHistogram(fam: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of fam.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${fam.name}: bucket without le`);
      g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else if (s.name.endsWith('_count')) g.count = s.value;
    else throw new Error(`${fam.name}: unexpected sample ${s.name}`);
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    const inf = g.buckets.find(([le]) => le === Infinity);
    if (!inf || g.count === undefined || g.sum === undefined)
      throw new Error(`${fam.name}${key}: needs +Inf bucket, _sum and _count`);
    if (inf[1] !== g.count) throw new Error(`${fam.name}${key}: +Inf bucket differs from _count`);
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    sorted.forEach(([, n], i) => {
      if (i > 0 && n < (sorted[i - 1] as [number, number])[1])
        throw new Error(`${fam.name}${key}: buckets not cumulative`);
    });
  }
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const fam of families.values()) {
    for (const s of fam.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

export function samplesOf(families: Map<string, Family>, name: string): Sample[] {
  return [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name));
}
