// IDLE fan-out: the Lambda on the journal table's stream. It turns each batch of records into
// the set of changed mailboxes and posts it to every protocol task (found through the Cloud Map
// service ECS registers them in) on the notify port, signed with the shared secret.
// It runs in the VPC (the tasks' addresses are private) and may reach only the tasks' notify
// port and HTTPS (Cloud Map and Secrets Manager through the NAT). The admin API invokes it
// directly with settings and account notices, which travel to the tasks the same way.

import { Duration, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TASK_PORTS } from '../config.js';
import { MailFunction } from './function.js';

export interface FanoutProps {
  vpc: ec2.IVpc;
  journal: dynamodb.ITableV2;
  taskSecurityGroup: ec2.ISecurityGroup;
  namespaceName: string;
  serviceName: string;
  notifySecret: secretsmanager.ISecret;
  logRetention: logs.RetentionDays;
}

export class Fanout extends Construct {
  readonly fn: lambda.IFunction;

  constructor(scope: Construct, id: string, props: FanoutProps) {
    super(scope, id);
    const sg = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'idle-fanout function: to the tasks notify port and AWS APIs',
      allowAllOutbound: false,
    });
    sg.addEgressRule(props.taskSecurityGroup, ec2.Port.tcp(TASK_PORTS.notify), 'to the tasks notify endpoint');
    sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Cloud Map and Secrets Manager over HTTPS');
    props.taskSecurityGroup.addIngressRule(sg, ec2.Port.tcp(TASK_PORTS.notify), 'change notices from the idle fan-out');

    const f = new MailFunction(this, 'IdleFanout', {
      name: 'idle-fanout',
      logRetention: props.logRetention,
      description: 'Journal stream -> changed mailboxes -> every protocol task (Cloud Map)',
      memorySize: 256,
      timeout: Duration.seconds(30),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [sg],
      environment: {
        DISCOVERY_NAMESPACE: props.namespaceName,
        DISCOVERY_SERVICE: props.serviceName,
        NOTIFY_PORT: String(TASK_PORTS.notify),
        NOTIFY_SECRET_ARN: props.notifySecret.secretArn,
      },
    });
    this.fn = f.fn;

    f.fn.addEventSource(
      new DynamoEventSource(props.journal, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 1000,
        maxBatchingWindow: Duration.seconds(0),
        // A notice is worth little after the sessions' own 30 s journal poll: retry briefly, then drop.
        retryAttempts: 2,
        maxRecordAge: Duration.seconds(60),
        bisectBatchOnError: false,
        parallelizationFactor: 2,
        // TTL expiries and folder clean-up arrive as REMOVE: nothing to wake anyone for.
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.or('INSERT', 'MODIFY') })],
      }),
    );

    props.notifySecret.grantRead(f.fn);
    f.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DiscoverProtocolTasks',
        actions: ['servicediscovery:DiscoverInstances'],
        // DiscoverInstances has no resource-level permissions; the conditions pin the namespace and service.
        resources: ['*'],
        conditions: {
          StringEquals: {
            'servicediscovery:NamespaceName': props.namespaceName,
            'servicediscovery:ServiceName': props.serviceName,
          },
        },
      }),
    );
    Validations.of(f.fn).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'servicediscovery:DiscoverInstances supports no resource ARNs; the conditions pin it to this namespace and service.',
    });
  }
}
