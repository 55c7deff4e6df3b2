// The CDK app synthesizes offline (no credentials, no Docker) into a production-shaped stack:
// assertions on the load balancer, the service, tables, bucket, API, event sources and IAM;
// cdk-nag's AwsSolutions pack finds nothing unacknowledged, and every acknowledgement has a
// reason. One full synthesis (with local esbuild bundling) per file, plus one variant with
// NLB-terminated TLS that skips bundling.

import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IConstruct } from 'constructs';
import { TABLES, TABLE_NAMES } from '../../core/store/aws/tables.js';
import { buildApp } from '../../infra/app.js';
import { TASK_PORTS } from '../../infra/config.js';
import { functionEntryExists } from '../../infra/constructs/function.js';
import type { MailStack } from '../../infra/stack.js';

const BASE_CONTEXT = {
  mailDomain: 'example.test',
  externalHostname: 'mail.example.test',
  siteName: 'site1',
  certificateSecretName: 'mail/tls',
};
const ACM_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

type Json = Record<string, any>;

function synth(context: Record<string, unknown>, outdir: string): { app: App; stack: MailStack; template: Template } {
  const app = new App({ outdir, context });
  const { stack } = buildApp(app);
  const template = Template.fromStack(stack);
  return { app, stack, template };
}

function resourcesOf(t: Template, type: string): Array<[string, Json]> {
  return Object.entries(t.findResources(type)) as Array<[string, Json]>;
}

/** Every acknowledgement recorded on the construct tree: [path, rule id, reason]. */
function acknowledgements(root: IConstruct): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  const visit = (c: IConstruct) => {
    for (const m of c.node.metadata) {
      if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && m.data) {
        for (const [id, reason] of Object.entries(m.data as Record<string, string>)) out.push([c.node.path, id, String(reason)]);
      }
    }
    for (const child of c.node.children) visit(child);
  };
  visit(root);
  return out;
}

describe('CDK stack (synthesized offline)', () => {
  let outdir: string;
  let app: App;
  let stack: MailStack;
  let t: Template;
  let tls: Template;

  before(() => {
    outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    const started = Date.now();
    ({ app, stack, template: t } = synth(BASE_CONTEXT, join(outdir, 'main')));
    const variant = synth(
      { ...BASE_CONTEXT, nlbTlsCertificateArn: ACM_ARN, 'aws:cdk:bundling-stacks': [] },
      join(outdir, 'nlb-tls'),
    );
    tls = variant.template;
    console.log(`# synthesized in ${Date.now() - started} ms`);
  });

  after(() => rmSync(outdir, { recursive: true, force: true }));

  it('has TCP listeners 110, 143, 993, 995 on an internet-facing NLB, PROXY protocol v2 to the tasks', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
    const listeners = resourcesOf(t, 'AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    assert.deepEqual(listeners.map((l) => l.Port).sort((a, b) => a - b), [110, 143, 993, 995]);
    for (const l of listeners) assert.equal(l.Protocol, 'TCP');
    const groups = resourcesOf(t, 'AWS::ElasticLoadBalancingV2::TargetGroup').map(([, r]) => r.Properties);
    assert.equal(groups.length, 4);
    assert.deepEqual(
      groups.map((g) => g.Port).sort((a, b) => a - b),
      [TASK_PORTS.pop3, TASK_PORTS.imap, TASK_PORTS.imaps, TASK_PORTS.pop3s].sort((a, b) => a - b),
    );
    for (const g of groups) {
      assert.equal(g.TargetType, 'ip');
      const attrs = Object.fromEntries((g.TargetGroupAttributes as Json[]).map((a) => [a.Key, a.Value]));
      assert.equal(attrs['proxy_protocol_v2.enabled'], 'true', 'PROXY protocol v2');
      assert.equal(attrs['deregistration_delay.timeout_seconds'], '30', 'graceful drain');
      assert.equal(g.HealthCheckProtocol, 'HTTP');
      assert.equal(g.HealthCheckPath, '/healthz');
      assert.equal(g.HealthCheckPort, String(TASK_PORTS.health));
    }
    // The tasks trust PROXY headers only from inside the VPC.
    const container = resourcesOf(t, 'AWS::ECS::TaskDefinition')[0]![1].Properties.ContainerDefinitions[0];
    const env = Object.fromEntries((container.Environment as Json[]).map((e) => [e.Name, e.Value]));
    assert.ok(env.TRUSTED_PROXIES, 'TRUSTED_PROXIES set');
    assert.equal(env.IMAP_LB_TLS_PORT, undefined);
  });

  it('moves 993/995 to NLB TLS listeners with the ACM certificate, forwarding to the lb-tls ports', () => {
    const listeners = resourcesOf(tls, 'AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    const byPort = new Map(listeners.map((l) => [l.Port, l]));
    for (const p of [993, 995]) {
      assert.equal(byPort.get(p).Protocol, 'TLS');
      assert.deepEqual(byPort.get(p).Certificates, [{ CertificateArn: ACM_ARN }]);
    }
    for (const p of [110, 143]) assert.equal(byPort.get(p).Protocol, 'TCP');
    const ports = resourcesOf(tls, 'AWS::ElasticLoadBalancingV2::TargetGroup').map(([, r]) => r.Properties.Port);
    assert.ok(ports.includes(TASK_PORTS.imapLbTls) && ports.includes(TASK_PORTS.pop3LbTls));
    assert.ok(!ports.includes(TASK_PORTS.imaps) && !ports.includes(TASK_PORTS.pop3s));
    const container = resourcesOf(tls, 'AWS::ECS::TaskDefinition')[0]![1].Properties.ContainerDefinitions[0];
    const env = Object.fromEntries((container.Environment as Json[]).map((e) => [e.Name, e.Value]));
    assert.equal(env.IMAP_LB_TLS_PORT, String(TASK_PORTS.imapLbTls));
    assert.equal(env.POP3_LB_TLS_PORT, String(TASK_PORTS.pop3LbTls));
  });

  it('runs at least two Fargate tasks in private subnets, autoscaled, registered in Cloud Map', () => {
    const [, svc] = resourcesOf(t, 'AWS::ECS::Service')[0]!;
    assert.ok(svc.Properties.DesiredCount >= 2);
    assert.equal(svc.Properties.LaunchType, 'FARGATE');
    assert.equal(svc.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
    assert.equal(svc.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets.length, 2, 'one subnet per zone');
    assert.equal(svc.Properties.ServiceRegistries.length, 1);
    assert.equal(svc.Properties.LoadBalancers.length, 4);
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 10 });
    assert.equal(resourcesOf(t, 'AWS::ApplicationAutoScaling::ScalingPolicy').length, 2);
    t.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'protocol', DnsConfig: Match.objectLike({ DnsRecords: [{ Type: 'A', TTL: 10 }] }) });

    const [, td] = resourcesOf(t, 'AWS::ECS::TaskDefinition')[0]!;
    assert.deepEqual(td.Properties.RequiresCompatibilities, ['FARGATE']);
    const c = td.Properties.ContainerDefinitions[0];
    assert.equal(c.ReadonlyRootFilesystem, true);
    assert.ok(c.HealthCheck.Command.join(' ').includes('/healthz'));
    assert.equal(c.StopTimeout, 30);
    assert.deepEqual((c.Secrets as Json[]).map((s) => s.Name).sort(), ['NOTIFY_SECRET', 'TLS_CERT_PEM', 'TLS_KEY_PEM']);
    const env = Object.fromEntries((c.Environment as Json[]).map((e) => [e.Name, e.Value]));
    assert.equal(env.STORE, 'aws');
    assert.equal(env.NOTIFY_PORT, String(TASK_PORTS.notify));
    for (const n of TABLE_NAMES) assert.ok(env[`TABLE_${n.toUpperCase()}`], `TABLE_${n.toUpperCase()}`);
    // Log group with retention.
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    for (const [, lg] of resourcesOf(t, 'AWS::Logs::LogGroup')) assert.ok(lg.Properties.RetentionInDays > 0, 'every log group has a retention');
  });

  it('builds the image from protocol-tasks/Dockerfile (computed asset: no Docker at synth), multi-stage, non-root, with a HEALTHCHECK', () => {
    const assets = JSON.parse(readFileSync(join(outdir, 'main', `${stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values(assets.dockerImages ?? {}) as Json[];
    assert.equal(images.length, 1);
    assert.equal(images[0]!.source.dockerFile, 'protocol-tasks/Dockerfile');
    const staged = join(outdir, 'main', images[0]!.source.directory);
    assert.deepEqual(readdirSync(staged).sort(), ['.dockerignore', 'core', 'package-lock.json', 'package.json', 'protocol-tasks', 'scripts', 'tsconfig.json']);
    assert.deepEqual(readdirSync(join(staged, 'scripts')), ['build-task.mjs']);
    const dockerfile = readFileSync('protocol-tasks/Dockerfile', 'utf8');
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2, 'multi-stage');
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK /m);
    assert.match(dockerfile, /build-task\.mjs/);
    // The Lambda code was bundled locally by esbuild.
    const fnAssets = Object.values(assets.files ?? {}) as Json[];
    const bundles = fnAssets.filter((a) => a.source.packaging === 'zip' && existsSync(join(outdir, 'main', a.source.path, 'index.js')));
    const expected = functionEntryExists('admin-api') ? 3 : 2;
    assert.ok(bundles.length >= expected, `${expected} function bundles, got ${bundles.length}`);
    for (const b of bundles) assert.ok(statSync(join(outdir, 'main', b.source.path, 'index.js')).size > 10_000);
  });

  it('creates every table of tables.ts: on demand, PITR, retained, stable logical ids, the journal stream', () => {
    const tables = t.findResources('AWS::DynamoDB::GlobalTable') as Record<string, Json>;
    assert.equal(Object.keys(tables).length, TABLE_NAMES.length);
    for (const name of TABLE_NAMES) {
      const def = TABLES[name];
      const id = `Table${name.charAt(0).toUpperCase()}${name.slice(1)}`;
      const r = tables[id];
      assert.ok(r, `logical id ${id}`);
      assert.equal(r.DeletionPolicy, 'Retain');
      assert.equal(r.UpdateReplacePolicy, 'Retain');
      const p = r.Properties;
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(p.KeySchema[0], { AttributeName: def.partitionKey.name, KeyType: 'HASH' });
      if (def.sortKey) assert.deepEqual(p.KeySchema[1], { AttributeName: def.sortKey.name, KeyType: 'RANGE' });
      for (const replica of p.Replicas) {
        assert.equal(replica.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true, `${name}: PITR`);
        assert.equal(replica.DeletionProtectionEnabled, true);
      }
      if (def.ttlAttribute) assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: def.ttlAttribute, Enabled: true });
      if (def.stream) assert.deepEqual(p.StreamSpecification, { StreamViewType: def.stream });
      else assert.equal(p.StreamSpecification, undefined);
    }
  });

  it('keeps the bucket private, encrypted, TLS-only, retained, with lifecycle rules for incoming/', () => {
    const buckets = t.findResources('AWS::S3::Bucket') as Record<string, Json>;
    const b = buckets.MessageBucket;
    assert.ok(b, 'stable logical id MessageBucket');
    assert.equal(b.DeletionPolicy, 'Retain');
    assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.equal(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    const rules = b.Properties.LifecycleConfiguration.Rules as Json[];
    assert.ok(rules.some((r) => r.Prefix === 'incoming/' && r.ExpirationInDays > 0 && r.Status === 'Enabled'));
    assert.ok(rules.some((r) => r.AbortIncompleteMultipartUpload));
    const policies = resourcesOf(t, 'AWS::S3::BucketPolicy').filter(([, p]) => p.Properties.Bucket.Ref === 'MessageBucket');
    assert.equal(policies.length, 1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
    const tlsOnly = statements.find((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    assert.ok(tlsOnly, 'a Deny for requests without TLS');
    assert.equal(tlsOnly.Principal.AWS, '*');
    assert.equal(tlsOnly.Action, 's3:*');
    for (const s of statements.filter((x) => x.Effect === 'Allow')) {
      assert.notEqual(s.Principal, '*');
      assert.notEqual(s.Principal?.AWS, '*', 'no public Allow');
    }
  });

  it('puts IAM authorization on /v1 and leaves only the autoconfig routes public', () => {
    const resources = t.findResources('AWS::ApiGateway::Resource') as Record<string, Json>;
    const pathOf = (ref: Json): string => {
      if (ref['Fn::GetAtt']) return '';
      const r = resources[ref.Ref];
      return `${pathOf(r.Properties.ParentId)}/${r.Properties.PathPart}`;
    };
    const methods = resourcesOf(t, 'AWS::ApiGateway::Method').map(([, m]) => ({
      path: pathOf(m.Properties.ResourceId),
      method: m.Properties.HttpMethod,
      auth: m.Properties.AuthorizationType,
    }));
    const v1 = methods.filter((m) => m.path === '/v1' || m.path.startsWith('/v1/'));
    assert.deepEqual(v1.map((m) => m.path).sort(), ['/v1', '/v1/{proxy+}']);
    for (const m of v1) assert.equal(m.auth, 'AWS_IAM', `${m.method} ${m.path}`);
    const open = methods.filter((m) => m.auth === 'NONE');
    assert.deepEqual(open.map((m) => `${m.method} ${m.path}`).sort(), [
      'GET /.well-known/autoconfig/mail/config-v1.1.xml',
      'GET /mail/config-v1.1.xml',
    ]);
    t.hasResourceProperties('AWS::ApiGateway::Stage', { AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }) });
  });

  it('feeds the journal stream to the fan-out and incoming/ object creation to ingest', () => {
    const journal = 'TableJournal';
    const [, esm] = resourcesOf(t, 'AWS::Lambda::EventSourceMapping')[0]!;
    assert.deepEqual(esm.Properties.EventSourceArn, { 'Fn::GetAtt': [journal, 'StreamArn'] });
    assert.equal(esm.Properties.StartingPosition, 'LATEST');
    assert.ok(JSON.stringify(esm.Properties.FilterCriteria).includes('INSERT'));
    const fanout = (t.findResources('AWS::Lambda::Function') as Record<string, Json>)[esm.Properties.FunctionName.Ref];
    assert.ok(fanout.Properties.VpcConfig, 'the fan-out runs in the VPC (task addresses are private)');
    assert.equal(fanout.Properties.Environment.Variables.DISCOVERY_SERVICE, 'protocol');

    const [, notif] = resourcesOf(t, 'Custom::S3BucketNotifications')[0]!;
    assert.deepEqual(notif.Properties.BucketName, { Ref: 'MessageBucket' });
    const cfg = notif.Properties.NotificationConfiguration.LambdaFunctionConfigurations as Json[];
    assert.equal(cfg.length, 1);
    assert.deepEqual(cfg[0]!.Events, ['s3:ObjectCreated:*']);
    assert.deepEqual(cfg[0]!.Filter, { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } });
    const ingest = (t.findResources('AWS::Lambda::Function') as Record<string, Json>)[cfg[0]!.LambdaFunctionArn['Fn::GetAtt'][0]];
    assert.equal(ingest.Properties.Environment.Variables.LOCAL_DOMAINS, 'example.test');
  });

  it('grants no role a wildcard action, and `*` resources only to actions that have no resource ARNs', () => {
    const statements: Array<{ where: string; s: Json }> = [];
    for (const [id, p] of resourcesOf(t, 'AWS::IAM::Policy')) {
      for (const s of p.Properties.PolicyDocument.Statement) statements.push({ where: id, s });
    }
    for (const [id, r] of resourcesOf(t, 'AWS::IAM::Role')) {
      for (const pol of r.Properties.Policies ?? []) for (const s of pol.PolicyDocument.Statement) statements.push({ where: id, s });
      for (const arn of r.Properties.ManagedPolicyArns ?? []) {
        const name = JSON.stringify(arn);
        assert.ok(/AWSLambdaBasicExecutionRole|AWSLambdaVPCAccessExecutionRole|AmazonAPIGatewayPushToCloudWatchLogs/.test(name), `${id}: managed policy ${name}`);
      }
    }
    assert.ok(statements.length > 10);
    const RESOURCELESS = new Set(['ecr:GetAuthorizationToken', 'servicediscovery:DiscoverInstances']);
    for (const { where, s } of statements) {
      const actions: string[] = [s.Action].flat();
      for (const a of actions) assert.ok(!a.includes('*'), `${where}: wildcard action ${a}`);
      const resources = [s.Resource].flat();
      if (resources.includes('*')) {
        for (const a of actions) assert.ok(RESOURCELESS.has(a), `${where}: ${a} on Resource *`);
      }
      for (const a of actions) {
        if (/^(dynamodb|s3):/.test(a)) assert.ok(!resources.includes('*'), `${where}: ${a} on every resource`);
      }
    }
  });

  it('outputs the NLB host name, API URL, bucket and tables', () => {
    const outputs = Object.keys(t.findOutputs('*'));
    for (const o of ['NlbDnsName', 'ApiUrl', 'BucketName', 'TableJournalName', 'TableMessagesName', 'ServiceLogGroup']) {
      assert.ok(outputs.includes(o), o);
    }
  });

  it('cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgement gives a reason', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
    const lines = report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    assert.deepEqual(lines, []);
    // Ours only (aws-cdk-lib records a few of its own, e.g. CloudFormation-Validate::...).
    const acks = acknowledgements(app).filter(([, id]) => id.includes('AwsSolutions-'));
    assert.ok(acks.length > 0);
    for (const [path, id, reason] of acks) {
      assert.ok(reason.trim().length >= 30, `${path}: ${id} needs a real reason`);
    }
    const unique = [...new Map(acks.map(([, id, reason]) => [id, reason])).entries()];
    console.log(`# ${acks.length} acknowledgements of ${unique.length} kinds:`);
    for (const [id, reason] of unique) console.log(`#   ${id}: ${reason}`);
  });
});
