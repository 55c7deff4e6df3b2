// What a starting server prints: where to connect, the demo mailbox, the certificate, how to
// try it. One text for `npm start` (main.ts) and `npm run start:aws-local`, so both read the
// same.

export interface BannerInfo {
  /** First line, e.g. "Mail access server running (embedded store in /x/.data)". */
  title: string;
  host: string;
  /** Bound ports by name: pop3, pop3s, imap, imaps. */
  ports: Record<string, number | undefined>;
  demo: { address: string; password: string } | null;
  certificate: { fingerprint256: string; note: string };
  admin?: { url: string; token: string; tokenSource: 'env' | 'file' | 'generated' } | null;
  /** Lines printed before the last one (other tasks, emulators...). */
  more?: string[];
  /** The last line. Default: mailctl and Ctrl-C. */
  last?: string;
}

export function startupBanner(b: BannerInfo): string[] {
  const { host, ports, demo } = b;
  const lines = [
    '',
    b.title,
    '',
    `  POP3   ${host}:${ports.pop3}   (plain, STLS required before login)`,
    `  POP3S  ${host}:${ports.pop3s}   (implicit TLS)`,
  ];
  if (ports.imap) {
    lines.push(`  IMAP   ${host}:${ports.imap}   (plain, STARTTLS required before login)`);
    lines.push(`  IMAPS  ${host}:${ports.imaps}   (implicit TLS)`);
  }
  if (demo) {
    lines.push('', `  Mailbox:  ${demo.address}`, `  Password: ${demo.password}`);
  }
  lines.push(
    '',
    `  TLS certificate: ${b.certificate.note}`,
    `  SHA-256 fingerprint: ${b.certificate.fingerprint256}`,
    '',
    '  Try it:',
    `    python3 -c "import poplib,ssl; p=poplib.POP3_SSL('${host}',${ports.pop3s},context=ssl._create_unverified_context()); p.user('${demo?.address ?? '<address>'}'); p.pass_('${demo?.password ?? '<password>'}'); print(p.stat())"`,
    `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('${host}',${ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${demo?.address ?? '<address>'}','${demo?.password ?? '<password>'}'); print(m.select('INBOX'))"`,
    '  Or point Thunderbird at it: IMAP server ' + host + ', port ' + ports.imaps + ', SSL/TLS, normal password.',
    '',
    ...(b.admin
      ? [
          `  Admin API: ${b.admin.url}/v1/openapi.json   (Authorization: Bearer <token>)`,
          b.admin.tokenSource === 'env' ? '  Admin token: the value of ADMIN_TOKEN' : `  Admin token: ${b.admin.token}   (kept in DATA_DIR/admin-token.txt; mailctl reads it there)`,
          '',
        ]
      : []),
    ...(b.more ?? []),
    b.last ?? '  Manage mailboxes: npx mailctl --help      Stop: Ctrl-C',
    '',
  );
  return lines;
}
