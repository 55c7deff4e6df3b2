// Sample messages for the demo mailbox that `npm start` creates, so a new user's mail client
// shows something realistic at once: plain text, HTML with a text alternative, an attachment,
// non-ASCII headers, a reply thread and a forwarded message. All CRLF, deterministic for a
// given (to, now), with dates spread over the last week.

import { deflateSync } from 'node:zlib';

export interface DemoMessage {
  raw: Buffer;
  internalDate: Date;
  flags: string[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC, e.g. "Tue, 3 Mar 2026 09:05:00 +0000". */
export function rfc5322Date(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

/** RFC 2047 B-encoded words for a UTF-8 string, each at most 64 chars, folded with CRLF SP. */
export function encodeWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 39) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** Quoted-printable (RFC 2045 section 6.7) of UTF-8 text with CRLF line ends. */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const bytes = Buffer.from(line, 'utf8');
    let cur = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      const plain = (b >= 33 && b <= 126 && b !== 61) || (b === 32 && !last);
      const enc = plain ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0');
      if (cur.length + enc.length > 75) {
        out.push(cur + '=');
        cur = '';
      }
      cur += enc;
    }
    out.push(cur);
  }
  return out.join('\r\n');
}

function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real 32x32 RGB PNG (a blue-violet gradient with a light diagonal), built deterministically. */
export function demoPng(): Buffer {
  const w = 32;
  const h = 32;
  const rows: number[] = [];
  for (let y = 0; y < h; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < w; x++) {
      const diagonal = Math.abs(x - y) < 2;
      rows.push(diagonal ? 240 : 40 + x * 4, diagonal ? 240 : 60 + y * 3, diagonal ? 250 : 200);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.from(rows), { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Joins header lines and a body into a CRLF message. Body lines given with \n become CRLF. */
function message(headers: string[], body: string): Buffer {
  const text = headers.join('\r\n') + '\r\n\r\n' + body.replace(/\r?\n/g, '\r\n');
  return Buffer.from(text, 'utf8');
}

/**
 * The demo mailbox content for `to` as of `now`: seven messages, oldest first, with dates
 * over the last week. Message-IDs derive from `now`, so a later call gives fresh ones.
 */
export function demoMessages(to: string, now: Date): Array<{ raw: Buffer; internalDate: Date; flags: string[] }> {
  const at = to.lastIndexOf('@');
  const domain = at >= 0 && at < to.length - 1 ? to.slice(at + 1) : 'example.test';
  const stamp = now.getTime().toString(36);
  const ago = (hours: number): Date => new Date(Math.floor((now.getTime() - hours * 3600_000) / 1000) * 1000);
  const id = (slug: string, host: string): string => `<${slug}.${stamp}@${host}>`;
  const out: DemoMessage[] = [];
  const add = (date: Date, flags: string[], raw: Buffer): void => {
    out.push({ raw, internalDate: new Date(date.getTime() + 7000), flags });
  };

  // 1. Plain-text welcome.
  {
    const date = ago(7 * 24 + 3);
    add(
      date,
      [],
      message(
        [
          `From: Mail Service <postmaster@${domain}>`,
          `To: ${to}`,
          'Subject: Welcome to your new mailbox',
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('welcome', domain)}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=us-ascii',
          'Content-Transfer-Encoding: 7bit',
        ],
        [
          'Hello,',
          '',
          `your mailbox ${to} is ready. Point any mail client at this server:`,
          '',
          '  IMAP: port 143 (STARTTLS) or 993 (TLS)',
          '  POP3: port 110 (STARTTLS) or 995 (TLS)',
          '',
          'Use your full address as the user name. The other messages in this folder',
          'show a few common shapes of mail: HTML, attachments, international text,',
          'a conversation thread and a forwarded message.',
          '',
          '-- ',
          'The Mail Service',
          '',
        ].join('\n'),
      ),
    );
  }

  // 2. HTML newsletter with a plain-text alternative.
  {
    const date = ago(6 * 24 + 5);
    const b = `=_alt_${stamp}_1`;
    add(
      date,
      [],
      message(
        [
          'From: Acme Cloud Newsletter <news@acme.example>',
          `To: ${to}`,
          'Subject: Your monthly product update',
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('newsletter', 'acme.example')}`,
          'List-Unsubscribe: <mailto:unsubscribe@acme.example>',
          'MIME-Version: 1.0',
          `Content-Type: multipart/alternative; boundary="${b}"`,
        ],
        [
          'This is a multi-part message in MIME format.',
          '',
          `--${b}`,
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: 7bit',
          '',
          'ACME CLOUD - MONTHLY UPDATE',
          '',
          '* Faster folder sync: large mailboxes open twice as fast.',
          '* New: per-protocol access settings for administrators.',
          '',
          'Read more: https://acme.example/blog/update',
          '',
          `--${b}`,
          'Content-Type: text/html; charset=utf-8',
          'Content-Transfer-Encoding: 7bit',
          '',
          '<!DOCTYPE html>',
          '<html><body style="font-family: sans-serif">',
          '<h1 style="color:#3b4cca">Acme Cloud &mdash; monthly update</h1>',
          '<ul>',
          '<li><b>Faster folder sync:</b> large mailboxes open twice as fast.</li>',
          '<li><b>New:</b> per-protocol access settings for administrators.</li>',
          '</ul>',
          '<p><a href="https://acme.example/blog/update">Read more</a></p>',
          '</body></html>',
          '',
          `--${b}--`,
          '',
        ].join('\n'),
      ),
    );
  }

  // 3. A message with a PNG attachment.
  {
    const date = ago(4 * 24 + 2);
    const b = `=_mixed_${stamp}_2`;
    add(
      date,
      [],
      message(
        [
          'From: "Whitaker, Dana" <dana.whitaker@example.org>',
          `To: ${to}`,
          'Subject: Logo draft for the launch',
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('logo-draft', 'example.org')}`,
          'MIME-Version: 1.0',
          `Content-Type: multipart/mixed; boundary="${b}"`,
        ],
        [
          `--${b}`,
          'Content-Type: text/plain; charset=us-ascii',
          '',
          'Hi,',
          '',
          'attached is the first draft of the logo. Tell me what you think.',
          '',
          'Dana',
          '',
          `--${b}`,
          'Content-Type: image/png; name="logo-draft.png"',
          'Content-Disposition: attachment; filename="logo-draft.png"',
          'Content-Transfer-Encoding: base64',
          `Content-ID: ${id('logo', 'example.org')}`,
          '',
          base64Lines(demoPng()),
          `--${b}--`,
          '',
        ].join('\n'),
      ),
    );
  }

  // 4. International headers (RFC 2047) and a UTF-8 quoted-printable body.
  {
    const date = ago(3 * 24 + 6);
    add(
      date,
      [],
      message(
        [
          `From: ${encodeWords('山田 太郎')} <taro.yamada@example.jp>`,
          `To: ${to}`,
          `Cc: ${encodeWords('Jürgen Groß')} <juergen.gross@example.de>`,
          `Subject: ${encodeWords('Grüße aus München – 東京の写真')}`,
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('gruesse', 'example.jp')}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: quoted-printable',
        ],
        quotedPrintable(
          [
            'Hallo!',
            '',
            'Viele Grüße aus München. Jürgen und ich waren gestern im Englischen Garten;',
            'die Fotos aus Tokio schicke ich nächste Woche.',
            '',
            'こんにちは！来週、東京の写真を送ります。',
            '',
            '太郎',
            '',
          ].join('\n'),
        ),
      ),
    );
  }

  // 5 and 6. A thread: a question (already read) and a reply to it.
  const kickoffId = id('kickoff', 'example.com');
  const kickoffSubject = 'Project kickoff on Thursday';
  {
    const date = ago(2 * 24 + 4);
    add(
      date,
      ['\\Seen'],
      message(
        [
          'From: Priya Natarajan <priya@example.com>',
          `To: ${to}, Marco Rossi <marco.rossi@example.net>`,
          `Subject: ${kickoffSubject}`,
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${kickoffId}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=us-ascii',
        ],
        [
          'Hi both,',
          '',
          'shall we hold the kickoff on Thursday at 10:00? I will book the small',
          'meeting room and send the agenda the day before.',
          '',
          'Priya',
          '',
        ].join('\n'),
      ),
    );
  }
  {
    const date = ago(20);
    add(
      date,
      [],
      message(
        [
          'From: Marco Rossi <marco.rossi@example.net>',
          `To: Priya Natarajan <priya@example.com>`,
          `Cc: ${to}`,
          `Subject: Re: ${kickoffSubject}`,
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('kickoff-re', 'example.net')}`,
          `In-Reply-To: ${kickoffId}`,
          `References: ${kickoffId}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=us-ascii; format=flowed',
        ],
        [
          'Thursday at 10:00 works for me.',
          '',
          'Marco',
          '',
          `On ${rfc5322Date(ago(2 * 24 + 4))}, Priya Natarajan wrote:`,
          '> Hi both,',
          '>',
          '> shall we hold the kickoff on Thursday at 10:00? I will book the small',
          '> meeting room and send the agenda the day before.',
          '>',
          '> Priya',
          '',
        ].join('\n'),
      ),
    );
  }

  // 7. A forwarded message (message/rfc822).
  {
    const date = ago(3);
    const innerDate = ago(5 * 24);
    const b = `=_fwd_${stamp}_3`;
    const inner = [
      'From: Billing <billing@shop.example>',
      'To: Sam Lee <sam.lee@example.com>',
      'Subject: Your invoice INV-2041',
      `Date: ${rfc5322Date(innerDate)}`,
      `Message-ID: ${id('invoice-2041', 'shop.example')}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Dear customer,',
      '',
      'thank you for your order. Invoice INV-2041 over EUR 129.00 is due in 14 days.',
      '',
      'Shop Example Billing',
    ];
    add(
      date,
      ['\\Flagged'],
      message(
        [
          'From: Sam Lee <sam.lee@example.com>',
          `To: ${to}`,
          'Subject: Fwd: Your invoice INV-2041',
          `Date: ${rfc5322Date(date)}`,
          `Message-ID: ${id('fwd-invoice', 'example.com')}`,
          'MIME-Version: 1.0',
          `Content-Type: multipart/mixed; boundary="${b}"`,
        ],
        [
          `--${b}`,
          'Content-Type: text/plain; charset=us-ascii',
          '',
          'Can you check this invoice before Friday? Forwarded below.',
          '',
          'Sam',
          '',
          `--${b}`,
          'Content-Type: message/rfc822',
          'Content-Disposition: inline',
          '',
          ...inner,
          `--${b}--`,
          '',
        ].join('\n'),
      ),
    );
  }

  return out;
}
