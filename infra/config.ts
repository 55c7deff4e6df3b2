// Deploy-time parameters, read from CDK context (cdk.json, or `-c key=value` on the command
// line). DEPLOY.md lists them with examples. Validation happens here, before any construct.

import type { Node } from 'constructs';

export interface MailConfig {
  /** The mail domain(s) served: ingest delivers only to addresses in them. */
  mailDomains: string[];
  /** Name clients use to reach the load balancer (DNS CNAME to the NLB), e.g. mail.example.com. */
  externalHostname: string;
  /** This site's name (home site of new mailboxes, front-end routing). */
  siteName: string;
  /**
   * Secrets Manager secret (name or ARN) holding the STARTTLS / implicit-TLS certificate as JSON
   * {"cert": "<PEM chain>", "key": "<PEM key>"}. Absent: tasks make a self-signed one (trials only).
   */
  certificateSecret?: string;
  /** Implicit TLS (993, 995) ended by the NLB with this ACM certificate; absent: the tasks end it. */
  nlbTlsCertificateArn?: string;
  /** Tasks: at least 2 (one per zone). */
  minTasks: number;
  maxTasks: number;
  /** Fargate task size. */
  taskCpu: number;
  taskMemoryMiB: number;
  /** NAT gateways (1: cheaper; 2: egress survives the loss of a zone). */
  natGateways: number;
  /** Days CloudWatch keeps logs. */
  logRetentionDays: number;
  /** Days an undelivered object stays under incoming/ before the lifecycle rule removes it. */
  incomingExpirationDays: number;
  /** Create an SES receipt rule set that stores mail for mailDomains under incoming/. */
  sesReceiving: boolean;
}

const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

function str(node: Node, key: string): string | undefined {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`context ${key} must be a string`);
  return String(v);
}

function int(node: Node, key: string, def: number, min: number, max: number): number {
  const v = str(node, key);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`context ${key} must be an integer from ${min} to ${max}, got '${v}'`);
  return n;
}

function bool(node: Node, key: string, def: boolean): boolean {
  const v = str(node, key);
  if (v === undefined) return def;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`context ${key} must be true or false, got '${v}'`);
}

/** CloudWatch Logs accepts only these retention periods. */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function readConfig(node: Node): MailConfig {
  const domains = (str(node, 'mailDomain') ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  if (domains.length === 0) throw new Error('set the context mailDomain (e.g. -c mailDomain=example.com)');
  for (const d of domains) if (!HOST.test(d)) throw new Error(`mailDomain '${d}' is not a domain name`);
  const externalHostname = (str(node, 'externalHostname') ?? `mail.${domains[0]}`).toLowerCase();
  if (!HOST.test(externalHostname)) throw new Error(`externalHostname '${externalHostname}' is not a host name`);
  const siteName = str(node, 'siteName') ?? 'site1';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(siteName)) throw new Error(`siteName '${siteName}' must be 1-64 letters, digits, '.', '_' or '-'`);
  const certificateSecret = str(node, 'certificateSecretName');
  const nlbTlsCertificateArn = str(node, 'nlbTlsCertificateArn');
  if (nlbTlsCertificateArn && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(nlbTlsCertificateArn)) {
    throw new Error(`nlbTlsCertificateArn '${nlbTlsCertificateArn}' is not an ACM certificate ARN`);
  }
  const minTasks = int(node, 'minTasks', 2, 2, 1000);
  const maxTasks = int(node, 'maxTasks', 10, minTasks, 1000);
  const logRetentionDays = int(node, 'logRetentionDays', 30, 1, 3653);
  if (!RETENTION_DAYS.includes(logRetentionDays)) throw new Error(`logRetentionDays must be one of ${RETENTION_DAYS.join(', ')}`);
  return {
    mailDomains: domains,
    externalHostname,
    siteName,
    certificateSecret,
    nlbTlsCertificateArn,
    minTasks,
    maxTasks,
    taskCpu: int(node, 'taskCpu', 512, 256, 16384),
    taskMemoryMiB: int(node, 'taskMemoryMiB', 1024, 512, 122880),
    natGateways: int(node, 'natGateways', 1, 1, 2),
    logRetentionDays,
    incomingExpirationDays: int(node, 'incomingExpirationDays', 14, 1, 3650),
    sesReceiving: bool(node, 'sesReceiving', false),
  };
}

/** Ports inside the task (unprivileged: the container runs as a non-root user). */
export const TASK_PORTS = {
  pop3: 1110,
  pop3s: 1995,
  imap: 1143,
  imaps: 1993,
  /** Plain ports reached only by the NLB's TLS listeners (counted as encrypted). */
  pop3LbTls: 2995,
  imapLbTls: 2993,
  notify: 8025,
  health: 8026,
} as const;
