// Protocol service: the long-running POP3/IMAP4 tasks on Fargate behind a Network Load Balancer.
//
// - Image: protocol-tasks/Dockerfile (multi-stage esbuild bundle, non-root, HEALTHCHECK).
// - At least two tasks, spread over both zones; autoscaling on CPU and memory.
// - NLB (internet-facing, cross-zone, its own security group): TCP listeners 110, 143, 993, 995,
//   PROXY protocol v2 to the tasks, so connection caps and logs see the real client address
//   (the tasks trust PROXY headers from the VPC's range only: TRUSTED_PROXIES).
//   With `nlbTlsCertificateArn` set, 993 and 995 become TLS listeners ending TLS at the NLB
//   (ACM certificate) and forwarding to the tasks' lb-tls ports (plain, counted as encrypted,
//   reachable only from the NLB), which saves the task ~43 KiB per idle connection.
// - Health: the NLB checks GET /healthz on the health port (no PROXY header there); it answers
//   503 as soon as a task starts draining.
// - Graceful drain: on deploys and scale-in ECS first deregisters the task (no new connections;
//   existing ones keep flowing for the deregistration delay), then sends SIGTERM: the server
//   stops accepting, says BYE / -ERR to every session and exits within the stop timeout.
// - Cross-task notices: ECS registers every task in Cloud Map (service discovery); the fan-out
//   function discovers them there and posts to the notify port, open only to its security group.

import { Duration, IgnoreMode, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { TASK_PORTS, type MailConfig } from '../config.js';
import type { Storage } from './storage.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProtocolServiceProps {
  config: MailConfig;
  vpc: ec2.IVpc;
  storage: Storage;
  notifySecret: secretsmanager.ISecret;
  logRetention: logs.RetentionDays;
  accessLogBucket: s3.IBucket;
}

/** Public port -> task port, per listener. */
interface PortMap {
  name: string;
  port: number;
  taskPort: number;
  tls: boolean;
}

export class ProtocolService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly taskSecurityGroup: ec2.SecurityGroup;
  readonly namespace: servicediscovery.PrivateDnsNamespace;
  /** The Cloud Map service name ECS registers the tasks under. */
  readonly discoveryServiceName = 'protocol';
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ProtocolServiceProps) {
    super(scope, id);
    const { config, vpc, storage } = props;
    const nlbTls = config.nlbTlsCertificateArn !== undefined;

    this.namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: `${config.siteName.toLowerCase()}.mail.internal`,
      vpc,
      description: 'Protocol tasks, registered by ECS; the idle fan-out discovers them here',
    });

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    const taskDef = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: config.taskCpu,
      memoryLimitMiB: config.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    taskDef.addVolume({ name: 'tmp' });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });

    const certSecret = config.certificateSecret
      ? config.certificateSecret.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'TlsSecret', config.certificateSecret)
        : secretsmanager.Secret.fromSecretNameV2(this, 'TlsSecret', config.certificateSecret)
      : undefined;

    const healthCmd = `node -e "fetch('http://127.0.0.1:${TASK_PORTS.health}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"`;
    const container = taskDef.addContainer('protocol', {
      image: ecs.ContainerImage.fromAsset(REPO_ROOT, {
        file: 'protocol-tasks/Dockerfile',
        ignoreMode: IgnoreMode.DOCKER,
        // Only what the image build reads (the .dockerignore says the same), so the asset hash
        // changes only when the service's code or dependencies do.
        exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!core/**', '!protocol-tasks/**', '!scripts/build-task.mjs'],
      }),
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'protocol', logGroup: this.logGroup, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(30),
      environment: {
        ...storage.storeEnvironment(),
        SITE_NAME: config.siteName,
        SERVER_HOSTNAME: config.externalHostname,
        BIND_HOST: '0.0.0.0',
        CONTROL_HOST: '0.0.0.0',
        POP3_PORT: String(TASK_PORTS.pop3),
        POP3S_PORT: String(TASK_PORTS.pop3s),
        IMAP_PORT: String(TASK_PORTS.imap),
        IMAPS_PORT: String(TASK_PORTS.imaps),
        ...(nlbTls ? { POP3_LB_TLS_PORT: String(TASK_PORTS.pop3LbTls), IMAP_LB_TLS_PORT: String(TASK_PORTS.imapLbTls) } : {}),
        // Every connection from inside the VPC (the NLB's nodes) starts with a PROXY v2 header.
        TRUSTED_PROXIES: vpc.vpcCidrBlock,
        NOTIFY_PORT: String(TASK_PORTS.notify),
        HEALTH_PORT: String(TASK_PORTS.health),
        DATA_DIR: '/tmp/mail',
        DEMO: 'off',
        LOG_LEVEL: 'info',
      },
      secrets: {
        NOTIFY_SECRET: ecs.Secret.fromSecretsManager(props.notifySecret),
        ...(certSecret
          ? { TLS_CERT_PEM: ecs.Secret.fromSecretsManager(certSecret, 'cert'), TLS_KEY_PEM: ecs.Secret.fromSecretsManager(certSecret, 'key') }
          : {}),
      },
      healthCheck: {
        command: ['CMD-SHELL', healthCmd],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
    });
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    const ports: PortMap[] = [
      { name: 'Pop3', port: 110, taskPort: TASK_PORTS.pop3, tls: false },
      { name: 'Imap', port: 143, taskPort: TASK_PORTS.imap, tls: false },
      { name: 'Pop3s', port: 995, taskPort: nlbTls ? TASK_PORTS.pop3LbTls : TASK_PORTS.pop3s, tls: nlbTls },
      { name: 'Imaps', port: 993, taskPort: nlbTls ? TASK_PORTS.imapLbTls : TASK_PORTS.imaps, tls: nlbTls },
    ];
    for (const p of [...ports.map((x) => x.taskPort), TASK_PORTS.notify, TASK_PORTS.health]) {
      container.addPortMappings({ containerPort: p, protocol: ecs.Protocol.TCP });
    }
    storage.grantStore(taskDef.taskRole);

    // Security groups: clients -> NLB on the four mail ports; NLB -> tasks on the task ports and
    // the health port; the fan-out's group -> tasks on the notify port (added by the fan-out).
    const nlbSg = new ec2.SecurityGroup(this, 'NlbSecurityGroup', {
      vpc,
      description: 'Mail clients to the load balancer',
      allowAllOutbound: false,
    });
    for (const p of ports) nlbSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(p.port), `${p.name} from mail clients`);
    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'Protocol tasks',
      // Egress: AWS APIs over HTTPS (DynamoDB and S3 through gateway endpoints, the rest through NAT).
      allowAllOutbound: false,
    });
    this.taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
    for (const p of [...ports.map((x) => x.taskPort), TASK_PORTS.health]) {
      this.taskSecurityGroup.addIngressRule(nlbSg, ec2.Port.tcp(p), `from the load balancer to ${p}`);
      nlbSg.addEgressRule(this.taskSecurityGroup, ec2.Port.tcp(p), `to the tasks on ${p}`);
    }
    Validations.of(nlbSg).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'A public mail service: POP3/IMAP4 clients connect from anywhere, on the four mail ports only.',
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: taskDef,
      desiredCount: config.minTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.taskSecurityGroup],
      assignPublicIp: false,
      healthCheckGracePeriod: Duration.seconds(60),
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
      cloudMapOptions: {
        cloudMapNamespace: this.namespace,
        name: this.discoveryServiceName,
        dnsRecordType: servicediscovery.DnsRecordType.A,
        dnsTtl: Duration.seconds(10),
      },
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: config.minTasks, maxCapacity: config.maxTasks });
    // Sessions are long-lived: scale out early, scale in slowly (each scale-in drains sessions).
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleInCooldown: Duration.minutes(10), scaleOutCooldown: Duration.minutes(1) });
    scaling.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: 70, scaleInCooldown: Duration.minutes(10), scaleOutCooldown: Duration.minutes(1) });

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc,
      internetFacing: true,
      crossZoneEnabled: true,
      securityGroups: [nlbSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
    // Access logs (NLBs write them for TLS listeners) through the log delivery service. Set by
    // hand rather than logAccessLogs(), which needs a concrete region; the stack stays
    // environment-agnostic.
    const logPrefix = 'nlb';
    const logBucket = props.accessLogBucket;
    const delivery = new iam.ServicePrincipal('delivery.logs.amazonaws.com');
    const account = Stack.of(this).account;
    logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NlbAccessLogsWrite',
        principals: [delivery],
        actions: ['s3:PutObject'],
        resources: [logBucket.arnForObjects(`${logPrefix}/AWSLogs/${account}/*`)],
        conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceAccount': account } },
      }),
    );
    logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NlbAccessLogsAcl',
        principals: [delivery],
        actions: ['s3:GetBucketAcl'],
        resources: [logBucket.bucketArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    this.loadBalancer.setAttribute('access_logs.s3.enabled', 'true');
    this.loadBalancer.setAttribute('access_logs.s3.bucket', logBucket.bucketName);
    this.loadBalancer.setAttribute('access_logs.s3.prefix', logPrefix);
    if (logBucket.policy) this.loadBalancer.node.addDependency(logBucket.policy);

    const certificate = nlbTls ? acm.Certificate.fromCertificateArn(this, 'NlbCertificate', config.nlbTlsCertificateArn!) : undefined;
    for (const p of ports) {
      const listener = this.loadBalancer.addListener(p.name, {
        port: p.port,
        protocol: p.tls ? elbv2.Protocol.TLS : elbv2.Protocol.TCP,
        ...(p.tls ? { certificates: [elbv2.ListenerCertificate.fromCertificateManager(certificate!)], sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS } : {}),
        // IMAP IDLE sessions may stay silent up to the 30-minute autologout: keep idle flows that long.
        tcpIdleTimeout: Duration.seconds(1860),
      });
      listener.addTargets(`${p.name}Targets`, {
        port: p.taskPort,
        protocol: elbv2.Protocol.TCP,
        proxyProtocolV2: true,
        deregistrationDelay: Duration.seconds(30),
        targets: [this.service.loadBalancerTarget({ containerName: container.containerName, containerPort: p.taskPort })],
        healthCheck: {
          protocol: elbv2.Protocol.HTTP,
          port: String(TASK_PORTS.health),
          path: '/healthz',
          interval: Duration.seconds(10),
          timeout: Duration.seconds(5),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 2,
        },
      });
    }

    Validations.of(taskDef).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Execution role: ecr:GetAuthorizationToken has no resource-level permissions (the image pull itself is scoped to the asset repository).',
    });
    Validations.of(taskDef).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'Only non-secret settings (ports, table and bucket names, site) are plain environment variables; the notify secret and the TLS key come from Secrets Manager.',
    });
  }
}
