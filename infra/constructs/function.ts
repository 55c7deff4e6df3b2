// A Lambda function from one of functions/<name>/handler.ts, bundled locally with esbuild
// (no Docker), with its own log group (retention) and the AWS SDK bundled in (the versions
// this repository pins, not whatever the runtime ships).

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface MailFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'runtime' | 'bundling' | 'logGroup'> {
  /** Folder under functions/. */
  name: string;
  logRetention: logs.RetentionDays;
}

/** Entry file of a function (functions/<name>/handler.ts). */
export function functionEntry(name: string): string {
  return join(REPO_ROOT, 'functions', name, 'handler.ts');
}

export function functionEntryExists(name: string): boolean {
  return existsSync(functionEntry(name));
}

export class MailFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MailFunctionProps) {
    super(scope, id);
    const { name, logRetention, ...rest } = props;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.fn = new NodejsFunction(this, 'Function', {
      memorySize: 512,
      timeout: Duration.seconds(30),
      architecture: lambda.Architecture.X86_64,
      tracing: lambda.Tracing.DISABLED,
      ...rest,
      entry: functionEntry(name),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      logGroup: this.logGroup,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the SDK; leave out the SQLite binding (only the embedded store loads it, lazily).
        externalModules: ['better-sqlite3'],
        environment: {},
      },
      environment: { NODE_OPTIONS: '--enable-source-maps', ...(rest.environment ?? {}) },
    });
    Validations.of(this.fn).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The minimal managed policy for a function to write its own logs.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'The minimal managed policy for a function to attach to the VPC (network interfaces) and write its logs.',
      },
    );
  }
}
