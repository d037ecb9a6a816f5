import { CertvaultError } from '../errors.js';

const ACME_URN = 'urn:ietf:params:acme:error:';

export interface AcmeIdentifier {
  type: string;
  value: string;
}

export interface AcmeSubproblem {
  type: string;
  shortType: string;
  detail: string;
  identifier?: AcmeIdentifier;
}

export interface AcmeProblemInit {
  /** What we asked the CA for, e.g. "new order"; starts the message. */
  action: string;
  status: number;
  type: string;
  detail: string;
  subproblems?: AcmeSubproblem[];
  retryAfter?: Date | undefined;
  url: string;
}

/** "rateLimited" for ACME's own URNs, otherwise the type unchanged. */
export function shortProblemType(type: string): string {
  return type.startsWith(ACME_URN) ? type.slice(ACME_URN.length) : type;
}

/** An RFC 7807 problem document returned by the CA, with the request it answered. */
export class AcmeProblem extends CertvaultError {
  readonly action: string;
  readonly status: number;
  /** Full type URN, e.g. urn:ietf:params:acme:error:rateLimited. */
  readonly type: string;
  /** Short type, e.g. rateLimited. */
  readonly shortType: string;
  readonly detail: string;
  readonly subproblems: AcmeSubproblem[];
  readonly retryAfter: Date | undefined;
  readonly url: string;

  constructor(init: AcmeProblemInit) {
    const shortType = shortProblemType(init.type);
    const subproblems = init.subproblems ?? [];
    const hint = hintFor(shortType);
    super('operation', problemMessage(init.action, shortType, init.detail, subproblems, init.retryAfter), {
      ...(hint === undefined ? {} : { hint }),
    });
    this.name = 'AcmeProblem';
    this.action = init.action;
    this.status = init.status;
    this.type = init.type;
    this.shortType = shortType;
    this.detail = init.detail;
    this.subproblems = subproblems;
    this.retryAfter = init.retryAfter;
    this.url = init.url;
  }

  /** True for the short or full type name. */
  is(type: string): boolean {
    return this.type === type || this.shortType === type;
  }
}

function problemMessage(
  action: string,
  shortType: string,
  detail: string,
  subproblems: AcmeSubproblem[],
  retryAfter: Date | undefined,
): string {
  let text = `CA refused ${action}: ${shortType}: ${oneLine(detail)}`;
  const shown = subproblems.slice(0, 3).map((p) => {
    const who = p.identifier ? `${p.identifier.value}: ` : '';
    return `${who}${p.shortType}: ${oneLine(p.detail)}`;
  });
  if (shown.length > 0) {
    const more = subproblems.length > shown.length ? `; and ${subproblems.length - shown.length} more` : '';
    text += ` [${shown.join('; ')}${more}]`;
  }
  if (retryAfter) text += ` (retry after ${retryAfter.toISOString()})`;
  return text;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 497)}...` : flat;
}

function hintFor(shortType: string): string | undefined {
  switch (shortType) {
    case 'rateLimited':
      return 'wait until the retry time; do not retry in a loop';
    case 'externalAccountRequired':
      return 'this CA needs external account binding (EAB kid and HMAC key from the CA)';
    case 'userActionRequired':
      return 'accept the CA terms of service (see its directory meta.termsOfService)';
    case 'accountDoesNotExist':
      return 'register the account first';
    case 'unsupportedContact':
    case 'invalidContact':
      return 'check the contact e-mail address';
    default:
      return undefined;
  }
}

/** Builds an AcmeProblem from a parsed JSON body; tolerant of missing fields. */
export function problemFromJson(
  body: unknown,
  ctx: { action: string; status: number; url: string; retryAfter?: Date | undefined },
): AcmeProblem {
  const doc = isRecord(body) ? body : {};
  const type = typeof doc.type === 'string' && doc.type ? doc.type : 'about:blank';
  const detail = typeof doc.detail === 'string' ? doc.detail : `HTTP ${ctx.status}`;
  const status = typeof doc.status === 'number' ? doc.status : ctx.status;
  return new AcmeProblem({ ...ctx, status, type, detail, subproblems: parseSubproblems(doc.subproblems) });
}

function parseSubproblems(value: unknown): AcmeSubproblem[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((p) => {
    const type = typeof p.type === 'string' ? p.type : 'about:blank';
    const sub: AcmeSubproblem = {
      type,
      shortType: shortProblemType(type),
      detail: typeof p.detail === 'string' ? p.detail : '',
    };
    const id = p.identifier;
    if (isRecord(id) && typeof id.type === 'string' && typeof id.value === 'string') {
      sub.identifier = { type: id.type, value: id.value };
    }
    return sub;
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
