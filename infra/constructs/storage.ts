// Storage: the DynamoDB tables and the S3 bucket of core/store/aws/tables.ts (the one
// definition the adapter and the local set-up read too), so names of keys, TTL attributes and
// streams cannot drift between code and cloud.
//
// Stateful resources: on-demand billing, point-in-time recovery, deletion protection,
// retained when the stack is deleted, and logical IDs pinned (TableMessages, MessageBucket...)
// so moving constructs around never replaces a table. Physical names are left to
// CloudFormation (a retained table never blocks a later deploy); the tasks and functions get
// them through TABLE_<LOGICAL> and BUCKET.

import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BUCKET, TABLES, TABLE_NAMES, type KeyDef, type TableName } from '../../core/store/aws/tables.js';

export const INCOMING_PREFIX = 'incoming/';

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function attr(k: KeyDef): dynamodb.Attribute {
  const type = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER, B: dynamodb.AttributeType.BINARY }[k.type];
  return { name: k.name, type };
}

const STREAM_VIEW = {
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  OLD_IMAGE: dynamodb.StreamViewType.OLD_IMAGE,
  NEW_AND_OLD_IMAGES: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
} as const;

/** Item-level actions the AWS adapter uses (transactions are authorised per item action). No Scan. */
const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];

export interface StorageProps {
  incomingExpirationDays: number;
}

export class Storage extends Construct {
  readonly tables: Record<TableName, dynamodb.TableV2>;
  readonly bucket: s3.Bucket;
  /** Access logs of the message bucket and the load balancer. */
  readonly logBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const tables = {} as Record<TableName, dynamodb.TableV2>;
    for (const t of TABLE_NAMES) {
      const def = TABLES[t];
      const table = new dynamodb.TableV2(this, `Table${pascal(def.logical)}`, {
        partitionKey: attr(def.partitionKey),
        ...(def.sortKey ? { sortKey: attr(def.sortKey) } : {}),
        billing: dynamodb.Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
        ...(def.stream ? { dynamoStream: STREAM_VIEW[def.stream] } : {}),
        globalSecondaryIndexes: def.gsis.map((g) => ({
          indexName: g.name,
          partitionKey: attr(g.partitionKey),
          ...(g.sortKey ? { sortKey: attr(g.sortKey) } : {}),
          projectionType: g.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
        })),
      });
      (table.node.defaultChild as dynamodb.CfnGlobalTable).overrideLogicalId(`Table${pascal(def.logical)}`);
      tables[t] = table;
    }
    this.tables = tables;

    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(90) }],
    });
    (this.logBucket.node.defaultChild as s3.CfnBucket).overrideLogicalId('LogBucket');
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'MessageBucket', {
      encryption: BUCKET.encryption === 'S3_MANAGED' ? s3.BucketEncryption.S3_MANAGED : s3.BucketEncryption.KMS_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: BUCKET.versioned,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3-access/',
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(BUCKET.abortIncompleteMultipartDays) },
        // A message that could not be delivered (no local recipient) stays for an operator to look at, then goes.
        { id: 'expire-undelivered-incoming', prefix: INCOMING_PREFIX, expiration: Duration.days(props.incomingExpirationDays) },
      ],
    });
    (this.bucket.node.defaultChild as s3.CfnBucket).overrideLogicalId('MessageBucket');

    // SES receipt rules (S3 action) write received mail under incoming/, for this account only.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesWritesIncoming',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${INCOMING_PREFIX}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
  }

  /** Environment naming the store for a task or function (core/store/open.ts). */
  storeEnvironment(): Record<string, string> {
    const env: Record<string, string> = { STORE: 'aws', BUCKET: this.bucket.bucketName };
    for (const t of TABLE_NAMES) env[`TABLE_${t.toUpperCase()}`] = this.tables[t].tableName;
    return env;
  }

  /** What the AWS adapter needs: item actions on the tables, objects under blobs/, and listing (HEAD answers 404, not 403). */
  grantStore(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (principal instanceof Construct) {
      Validations.of(principal).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::<MessageBucket.Arn>/blobs/*]',
        reason: 'One S3 object per message body, under random keys: access is limited to the blobs/ prefix of the one message bucket.',
      });
    }
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MailTables',
        actions: TABLE_ACTIONS,
        resources: TABLE_NAMES.map((t) => this.tables[t].tableArn),
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MailBlobs',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects(`${BUCKET.blobPrefix}*`)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'MailBucketList', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
  }

  /** Read and delete received messages under incoming/. */
  grantIncoming(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IncomingMessages',
        actions: ['s3:GetObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects(`${INCOMING_PREFIX}*`)],
      }),
    );
  }
}
