/** Parsing of the response headers ACME relies on: Retry-After, Link and Location. */

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | null, now: Date = new Date()): Date | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return new Date(now.getTime() + Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : new Date(date);
}

export interface LinkHeader {
  url: string;
  rels: string[];
}

/**
 * Every link in the (possibly comma-joined) Link headers, with URLs resolved against the request URL.
 * The URL sits inside <...>, so commas in it do not split links.
 */
export function parseLinks(value: string | null, baseUrl: string): LinkHeader[] {
  if (!value) return [];
  const links: LinkHeader[] = [];
  for (const match of value.matchAll(/<([^>]*)>([^<]*)/g)) {
    const params = match[2] ?? '';
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').split(/\s+/).filter(Boolean);
    try {
      links.push({
        url: new URL(match[1] ?? '', baseUrl).toString(),
        rels: rels.map((r) => r.toLowerCase()),
      });
    } catch {
      // A malformed link is the CA's problem; skipping it keeps the response usable.
    }
  }
  return links;
}

export function linksWithRel(links: LinkHeader[], rel: string): string[] {
  return links.filter((l) => l.rels.includes(rel)).map((l) => l.url);
}
