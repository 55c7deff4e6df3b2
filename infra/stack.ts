// The one stack: constructs per concern, composed. No business logic here: the constructs
// only wire the code of functions/ and protocol-tasks/ to AWS resources.

import { CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TABLE_NAMES } from '../core/store/aws/tables.js';
import type { MailConfig } from './config.js';
import { AdminApi } from './constructs/admin-api.js';
import { Fanout } from './constructs/fanout.js';
import { Ingest } from './constructs/ingest.js';
import { Network } from './constructs/network.js';
import { ProtocolService } from './constructs/protocol-service.js';
import { Storage } from './constructs/storage.js';

export interface MailStackProps extends StackProps {
  config: MailConfig;
}

export class MailStack extends Stack {
  readonly network: Network;
  readonly storage: Storage;
  readonly protocol: ProtocolService;
  readonly fanout: Fanout;
  readonly ingest: Ingest;
  readonly admin: AdminApi;

  constructor(scope: Construct, id: string, props: MailStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.network = new Network(this, 'Network', { natGateways: config.natGateways, logRetention });
    this.storage = new Storage(this, 'Storage', { incomingExpirationDays: config.incomingExpirationDays });

    // Shared secret of the notify endpoints (fan-out -> tasks). Read by the tasks at start and
    // by the fan-out at its cold start; rotating it means a rolling restart of the service.
    const notifySecret = new secretsmanager.Secret(this, 'NotifySecret', {
      description: 'Signs change notices from the idle fan-out to the protocol tasks',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(notifySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Tasks read the notify secret once at start; rotation is done by updating the secret and redeploying the service (DEPLOY.md), not by a rotation Lambda.',
    });

    this.protocol = new ProtocolService(this, 'Protocol', {
      config,
      vpc: this.network.vpc,
      storage: this.storage,
      notifySecret,
      logRetention,
      accessLogBucket: this.storage.logBucket,
    });

    this.fanout = new Fanout(this, 'Fanout', {
      vpc: this.network.vpc,
      journal: this.storage.tables.journal,
      taskSecurityGroup: this.protocol.taskSecurityGroup,
      namespaceName: this.protocol.namespace.namespaceName,
      serviceName: this.protocol.discoveryServiceName,
      notifySecret,
      logRetention,
    });

    this.ingest = new Ingest(this, 'Ingest', {
      storage: this.storage,
      mailDomains: config.mailDomains,
      sesReceiving: config.sesReceiving,
      logRetention,
    });

    this.admin = new AdminApi(this, 'Admin', {
      config,
      storage: this.storage,
      fanout: this.fanout.fn,
      frontEndHost: config.externalHostname,
      logRetention,
    });

    new CfnOutput(this, 'NlbDnsName', {
      value: this.protocol.loadBalancer.loadBalancerDnsName,
      description: `Point ${config.externalHostname} at this (CNAME)`,
    });
    new CfnOutput(this, 'ApiUrl', { value: this.admin.api.url, description: 'Admin API base URL (mailctl --url)' });
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName, description: 'Message bucket (received mail goes under incoming/)' });
    for (const t of TABLE_NAMES) {
      new CfnOutput(this, `Table${t.charAt(0).toUpperCase()}${t.slice(1)}Name`, { value: this.storage.tables[t].tableName });
    }
    new CfnOutput(this, 'ServiceLogGroup', { value: this.protocol.logGroup.logGroupName });
    new CfnOutput(this, 'IngestDeadLetterQueue', { value: this.ingest.deadLetters.queueUrl });
    new CfnOutput(this, 'ClusterName', { value: this.protocol.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.protocol.service.serviceName });
    if (this.ingest.ruleSet) new CfnOutput(this, 'ReceiptRuleSetName', { value: this.ingest.ruleSet.receiptRuleSetName });
  }
}
