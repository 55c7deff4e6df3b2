// CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). Parameters come
// from context (infra/config.ts, DEPLOY.md). The stack is environment-agnostic: account and
// region come from the credentials at deploy time. cdk-nag's AwsSolutions pack checks it at
// synthesis; an unacknowledged finding stops the synthesis.

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config.js';
import { MailStack } from './stack.js';

export function buildApp(app: App = new App()): { app: App; stack: MailStack } {
  const config = readConfig(app.node);
  const stack = new MailStack(app, `MailAccess-${config.siteName}`, {
    config,
    description: 'POP3/IMAP4 mail access backend (protocol tasks, admin API, ingest, IDLE fan-out)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) buildApp().app.synth();
