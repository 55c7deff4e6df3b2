// Seeded generator of varied RFC 5322 messages for the benchmarks. The same seed and count
// give the same bytes on every machine, so both servers receive identical data and every
// answer the driver checks (counts, UIDs, sizes, search hits) is known in advance.
//
// Mix (by weight): plain text, HTML with a text alternative, messages with attachments
// (binary and text, a few large), non-ASCII (RFC 2047 headers, UTF-8 bodies in
// quoted-printable or base64), replies that thread to earlier messages (In-Reply-To and
// References), and a few forwarded messages (message/rfc822). Realistic header blocks:
// Received trace lines, DKIM-Signature, list headers on newsletters.
//
// Search answers: a header word (in Subject) and a body word (only in text/plain parts,
// 7bit or quoted-printable, never in HTML, attachments or headers) are planted in a known
// set of messages; flags are chosen per message.

import { encodeWords, quotedPrintable, rfc5322Date } from '../../core/mime/samples.js';

export interface GeneratedMessage {
  /** 1-based position in the generated sequence (= UID after appending to an empty folder). */
  n: number;
  raw: Buffer;
  flags: string[];
  internalDate: Date;
  kind: 'plain' | 'html' | 'attachment' | 'intl' | 'reply' | 'forward';
  subject: string;
  messageId: string;
  /** The body search word appears in a text/plain part. */
  hasBodyWord: boolean;
  /** The header search word appears in Subject. */
  hasHeaderWord: boolean;
}

/** Words planted for SEARCH (chosen to appear nowhere else in the generated text). */
export const HEADER_WORD = 'Quokkaplan';
export const BODY_WORD = 'zanzibarite';

/** xorshift128+ on two 32-bit halves each; deterministic, fast, good enough for test data. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  constructor(seed: number) {
    // splitmix32 to spread the seed over the state.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }
  /** Uniform 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.float() * list.length)]!;
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const FIRST = ['Alice', 'Bruno', 'Chen', 'Dana', 'Eitan', 'Fatima', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kemal', 'Lena', 'Mateo', 'Nadia', 'Oskar', 'Priya', 'Quentin', 'Rosa', 'Sven', 'Tara', 'Umar', 'Vera', 'Wei', 'Xenia', 'Yusuf', 'Zoe'];
const LAST = ['Andersen', 'Baptiste', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ivanova', 'Jensen', 'Kowalski', 'Lindqvist', 'Moreau', 'Nakamura', 'Okafor', 'Petrov', 'Rossi', 'Santos', 'Tanaka', 'Usman', 'Varga', 'Wagner', 'Yilmaz', 'Zhang'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'corp.example', 'mail.example.de', 'shop.example', 'univ.example.edu'];
const INTL_NAMES = ['Jürgen Groß', 'Zoë Ångström', 'Łukasz Żółw', 'François Lefèvre', '山田 太郎', 'Σοφία Παππά', 'Иван Петров', 'محمد علي', 'Søren Kierkegård', 'Ñandú Peña'];
const TOPICS = ['budget review', 'team offsite', 'release notes', 'server migration', 'invoice', 'hiring plan', 'customer feedback', 'roadmap', 'security audit', 'travel booking', 'design review', 'weekly report', 'contract renewal', 'onboarding', 'incident postmortem', 'newsletter', 'lunch', 'quarterly numbers', 'test results', 'holiday schedule'];
const INTL_SUBJECTS = ['Grüße aus München', 'Réunion de lundi – ordre du jour', '東京の写真', 'Привет из Москвы', 'Καλημέρα από την Αθήνα', 'Ärger mit der Übersetzung', 'Año nuevo, señor', 'Zażółć gęślą jaźń'];
const WORDS = 'the of and to in is for on that with as by this we be are from at it an will not have can our or your about more all has new one which their would been also if there when they time what so up out some these may into only other could its any over than then now like most after first well must should such where through back very just much before use two how because each those day same work year under while last between both still long being might own since great during end without find next show again'.split(' ');
const INTL_LINES = [
  'Viele Grüße aus München, die Fotos schicke ich nächste Woche.',
  'Merci pour votre réponse rapide ; à très bientôt.',
  'こんにちは！来週、東京の写真を送ります。',
  'Спасибо за письмо, встретимся в четверг.',
  'Ευχαριστώ πολύ για τη βοήθεια.',
  'Gracias por todo, nos vemos mañana en la oficina.',
  'Dziękuję za wiadomość, odpowiem jutro.',
];

function sentence(rng: Rng, words = rng.int(6, 18)): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(rng.pick(WORDS));
  const s = out.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + '.';
}

/** Text paragraphs wrapped at 72 columns, '\n' line ends. */
function paragraphs(rng: Rng, count: number, extraWord?: string): string {
  const paras: string[] = [];
  const plantAt = extraWord ? rng.int(0, count - 1) : -1;
  for (let p = 0; p < count; p++) {
    const sentences: string[] = [];
    const n = rng.int(2, 6);
    for (let i = 0; i < n; i++) sentences.push(sentence(rng));
    if (p === plantAt) sentences.splice(rng.int(0, n), 0, `See the ${extraWord} notes.`);
    paras.push(wrap(sentences.join(' '), 72));
  }
  return paras.join('\n\n');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur.length + w.length + 1 > width && cur) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? cur + ' ' + w : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\n');
}

function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\n');
}

interface Person {
  name: string;
  address: string;
}

function person(rng: Rng): Person {
  const f = rng.pick(FIRST);
  const l = rng.pick(LAST);
  return { name: `${f} ${l}`, address: `${f.toLowerCase()}.${l.toLowerCase()}@${rng.pick(DOMAINS)}` };
}

function fmt(p: Person): string {
  return /^[\x20-\x7e]*$/.test(p.name) ? `${p.name} <${p.address}>` : `${encodeWords(p.name)} <${p.address}>`;
}

/** Trace and authentication headers a delivered message carries (about 1-2 KB). */
function traceHeaders(rng: Rng, date: Date, fromDomain: string): string[] {
  const hops = rng.int(1, 3);
  const out: string[] = [];
  let t = date.getTime() + 2000;
  for (let i = 0; i < hops; i++) {
    const ip = `192.0.2.${rng.int(1, 254)}`;
    out.push(
      `Received: from mx${rng.int(1, 9)}.${fromDomain} (mx${rng.int(1, 9)}.${fromDomain} [${ip}])\n` +
        `\tby mail${rng.int(1, 4)}.example.test (Postfix) with ESMTPS id ${rng.bytes(6).toString('hex').toUpperCase()}\n` +
        `\tfor <user@example.test>; ${rfc5322Date(new Date(t))}`,
    );
    t -= rng.int(200, 4000);
  }
  const bh = rng.bytes(32).toString('base64');
  const sig = base64Lines(rng.bytes(128)).split('\n').join('\n\t ');
  out.push(
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${fromDomain}; s=s${rng.int(1, 3)};\n` +
      `\th=from:to:subject:date:message-id:mime-version:content-type;\n` +
      `\tbh=${bh};\n\tb=${sig}`,
  );
  out.push(`Authentication-Results: mail.example.test; dkim=pass header.d=${fromDomain}; spf=pass`);
  return out;
}

export interface GenerateOptions {
  seed?: number;
  count?: number;
  /** Recipient of every message. */
  to?: string;
  /** Time of the newest message (default: a fixed date, for reproducible bytes). */
  now?: Date;
}

/**
 * Generates `count` messages (default 10,000), oldest first. Deterministic for the options.
 * Average size about 10 KB; 1 in 60 carries a 100-400 KB attachment.
 */
export function generateMessages(opts: GenerateOptions = {}): GeneratedMessage[] {
  const rng = new Rng(opts.seed ?? 20260305);
  const count = opts.count ?? 10_000;
  const to = opts.to ?? 'user@example.test';
  const now = (opts.now ?? new Date(Date.UTC(2026, 2, 5, 12, 0, 0))).getTime();
  // Dates ascend with n (about 50 minutes apart, with jitter), ending near `now`: a prefix of
  // a longer run is the same messages, byte for byte.
  const step = 50 * 60_000;
  const out: GeneratedMessage[] = [];
  const threadable: GeneratedMessage[] = [];
  for (let n = 1; n <= count; n++) {
    const date = new Date(Math.floor((now - (10_000 - n) * step - rng.int(0, 1800) * 1000) / 1000) * 1000);
    const roll = rng.float();
    const kind: GeneratedMessage['kind'] =
      roll < 0.38 ? 'plain' : roll < 0.58 ? 'html' : roll < 0.7 ? 'attachment' : roll < 0.8 ? 'intl' : roll < 0.97 ? 'reply' : 'forward';
    const msg = buildMessage(rng, n, kind, date, to, threadable);
    out.push(msg);
    if (kind !== 'forward') threadable.push(msg);
    if (threadable.length > 200) threadable.splice(0, 100);
  }
  return out;
}

function buildMessage(rng: Rng, n: number, kind: GeneratedMessage['kind'], date: Date, to: string, threadable: GeneratedMessage[]): GeneratedMessage {
  const from = kind === 'intl' ? { name: rng.pick(INTL_NAMES), address: `${rng.pick(FIRST).toLowerCase()}@${rng.pick(DOMAINS)}` } : person(rng);
  const fromDomain = from.address.split('@')[1]!;
  const messageId = `<${n}.${rng.bytes(8).toString('hex')}@${fromDomain}>`;
  const hasHeaderWord = rng.chance(0.03);
  const hasBodyWord = rng.chance(0.02);
  const bodyWord = hasBodyWord ? BODY_WORD : undefined;
  let subject: string;
  let parent: GeneratedMessage | undefined;
  if (kind === 'reply' && threadable.length > 0) {
    parent = rng.pick(threadable);
    subject = parent.subject.startsWith('Re: ') ? parent.subject : `Re: ${parent.subject}`;
  } else if (kind === 'intl') {
    subject = rng.pick(INTL_SUBJECTS) + ` #${n}`;
  } else if (kind === 'forward') {
    subject = `Fwd: ${rng.pick(TOPICS)} #${n}`;
  } else {
    const t = rng.pick(TOPICS);
    subject = t[0]!.toUpperCase() + t.slice(1) + ` #${n}`;
  }
  if (hasHeaderWord) subject = `${subject} [${HEADER_WORD}]`;
  const subjectHeader = /^[\x20-\x7e]*$/.test(subject) ? subject : encodeWords(subject);

  const headers: string[] = [...traceHeaders(rng, date, fromDomain)];
  headers.push(`From: ${fmt(from)}`);
  const toList = [to];
  for (let i = rng.int(0, 2); i > 0; i--) toList.push(fmt(person(rng)));
  headers.push(`To: ${toList.join(',\n ')}`);
  if (rng.chance(0.25)) headers.push(`Cc: ${fmt(kind === 'intl' ? { name: rng.pick(INTL_NAMES), address: `cc${n}@example.net` } : person(rng))}`);
  headers.push(`Subject: ${subjectHeader}`);
  headers.push(`Date: ${rfc5322Date(date)}`);
  headers.push(`Message-ID: ${messageId}`);
  if (parent) {
    headers.push(`In-Reply-To: ${parent.messageId}`);
    headers.push(`References: ${parent.messageId}`);
  }
  if (rng.chance(0.1)) headers.push(`X-Priority: ${rng.int(1, 5)}`);
  headers.push('MIME-Version: 1.0');

  const textBody = () => paragraphs(rng, rng.int(1, 6), bodyWord) + '\n\n-- \n' + from.name + '\n';
  let body: string;
  switch (kind) {
    case 'plain':
    case 'reply': {
      headers.push('Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit');
      body = textBody();
      if (parent) body += `\nOn ${rfc5322Date(parent.internalDate)}, someone wrote:\n> ` + sentence(rng) + '\n> ' + sentence(rng) + '\n';
      break;
    }
    case 'html': {
      const b = `=_alt_${n}_${rng.bytes(4).toString('hex')}`;
      headers.push('List-Unsubscribe: <mailto:unsubscribe@' + fromDomain + '>', `Content-Type: multipart/alternative; boundary="${b}"`);
      const text = textBody();
      const html =
        '<!DOCTYPE html>\n<html><body style="font-family: sans-serif">\n' +
        text
          .split('\n\n')
          .map((p) => `<p>${p.replace(/\n/g, ' ')}</p>`)
          .join('\n')
          .replaceAll(BODY_WORD, 'notes') +
        `\n<table>${Array.from({ length: rng.int(2, 20) }, () => `<tr><td>${sentence(rng, 4)}</td><td style="color:#336">${rng.int(1, 9999)}</td></tr>`).join('\n')}</table>\n</body></html>\n`;
      body =
        'This is a multi-part message in MIME format.\n\n' +
        `--${b}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n${quotedPrintable(text).replace(/\r\n/g, '\n')}\n` +
        `--${b}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n${quotedPrintable(html).replace(/\r\n/g, '\n')}\n` +
        `--${b}--\n`;
      break;
    }
    case 'attachment': {
      const b = `=_mixed_${n}_${rng.bytes(4).toString('hex')}`;
      headers.push(`Content-Type: multipart/mixed; boundary="${b}"`);
      const big = rng.chance(1 / 60 / 0.12);
      const parts = [`--${b}\nContent-Type: text/plain; charset=us-ascii\n\n${textBody()}\n`];
      const nAtt = rng.int(1, 2);
      for (let i = 0; i < nAtt; i++) {
        if (rng.chance(0.3)) {
          // A text attachment (CSV), base64 encoded.
          const rows = Array.from({ length: rng.int(20, 200) }, (_, r) => `${r},${rng.pick(LAST)},${rng.int(1, 99999)}`).join('\r\n');
          parts.push(
            `--${b}\nContent-Type: text/csv; name="data-${n}-${i}.csv"\nContent-Disposition: attachment; filename="data-${n}-${i}.csv"\nContent-Transfer-Encoding: base64\n\n${base64Lines(Buffer.from(rows))}\n`,
          );
        } else {
          const size = big && i === 0 ? rng.int(100_000, 400_000) : rng.int(3_000, 40_000);
          const ext = rng.pick(['pdf', 'png', 'jpg', 'zip']);
          const type = { pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', zip: 'application/zip' }[ext]!;
          parts.push(
            `--${b}\nContent-Type: ${type}; name="file-${n}-${i}.${ext}"\nContent-Disposition: attachment; filename="file-${n}-${i}.${ext}"\nContent-Transfer-Encoding: base64\n\n${base64Lines(rng.bytes(size))}\n`,
          );
        }
      }
      body = parts.join('') + `--${b}--\n`;
      break;
    }
    case 'intl': {
      const lines: string[] = [];
      for (let i = rng.int(2, 8); i > 0; i--) lines.push(rng.pick(INTL_LINES));
      const plain = lines.join('\n') + '\n\n' + textBody();
      if (rng.chance(0.5)) {
        headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable');
        body = quotedPrintable(plain).replace(/\r\n/g, '\n') + '\n';
      } else {
        // base64 body: the search word is kept out of it (expected answers stay exact even
        // for servers that do not decode base64 text parts).
        headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64');
        body = base64Lines(Buffer.from(plain.replaceAll(BODY_WORD, 'notes'), 'utf8')) + '\n';
        const m = buildResult();
        m.hasBodyWord = false;
        return m;
      }
      break;
    }
    case 'forward': {
      const b = `=_fwd_${n}_${rng.bytes(4).toString('hex')}`;
      headers.push(`Content-Type: multipart/mixed; boundary="${b}"`);
      const inner = person(rng);
      const innerDate = new Date(date.getTime() - rng.int(1, 30) * 86400_000);
      const innerMsg =
        `From: ${fmt(inner)}\nTo: ${fmt(from)}\nSubject: ${rng.pick(TOPICS)}\nDate: ${rfc5322Date(innerDate)}\n` +
        `Message-ID: <inner.${n}@${inner.address.split('@')[1]}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n` +
        paragraphs(rng, rng.int(1, 3)) +
        '\n';
      body =
        `--${b}\nContent-Type: text/plain; charset=us-ascii\n\n${textBody()}\n` +
        `--${b}\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n${innerMsg}\n` +
        `--${b}--\n`;
      break;
    }
  }
  return buildResult();

  function buildResult(): GeneratedMessage {
    const text = headers.join('\n') + '\n\n' + body;
    const raw = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
    const flags: string[] = [];
    if (rng.chance(0.6)) flags.push('\\Seen');
    if (rng.chance(0.1)) flags.push('\\Answered');
    if (rng.chance(0.05)) flags.push('\\Flagged');
    // A reply inherits its parent's subject, and with it the planted word.
    return { n, raw, flags, internalDate: date, kind, subject, messageId, hasBodyWord, hasHeaderWord: subject.includes(HEADER_WORD) };
  }
}
