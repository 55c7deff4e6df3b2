// Ingest: received mail lands under incoming/ in the message bucket (an SES receipt rule's S3
// action, or any MTA with write access there); each new object triggers the ingest function,
// which delivers to every local recipient's Inbox and deletes the object only when that
// succeeded. Events that still fail after Lambda's retries go to a dead-letter queue, and the
// object stays under incoming/ until the lifecycle rule expires it.
// Optionally (context sesReceiving=true) an SES receipt rule set storing mail for the mail
// domains under incoming/ (SES needs the rule set activated and MX records: DEPLOY.md).

import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sesActions from 'aws-cdk-lib/aws-ses-actions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MailFunction } from './function.js';
import { INCOMING_PREFIX, type Storage } from './storage.js';

export interface IngestProps {
  storage: Storage;
  mailDomains: string[];
  sesReceiving: boolean;
  logRetention: logs.RetentionDays;
}

export class Ingest extends Construct {
  readonly fn: lambda.IFunction;
  readonly deadLetters: sqs.Queue;
  readonly ruleSet?: ses.ReceiptRuleSet;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter destination of failed ingest events.',
    });

    const f = new MailFunction(this, 'Ingest', {
      name: 'ingest',
      logRetention: props.logRetention,
      description: 'incoming/ object -> Inbox of every local recipient',
      // Messages up to 64 MiB are read whole, then indexed.
      memorySize: 1024,
      timeout: Duration.seconds(120),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetters),
      environment: {
        ...props.storage.storeEnvironment(),
        LOCAL_DOMAINS: props.mailDomains.join(','),
      },
    });
    this.fn = f.fn;
    props.storage.grantStore(f.fn);
    props.storage.grantIncoming(f.fn);

    props.storage.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(f.fn), {
      prefix: INCOMING_PREFIX,
    });

    // The bucket-notification custom resource CDK adds once per stack (it configures the S3 event).
    const notificationsHandler = Stack.of(this).node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK-provided handler that sets the bucket notification at deploy time; the managed policy only lets it write its own logs.',
      });
    }

    if (props.sesReceiving) {
      this.ruleSet = new ses.ReceiptRuleSet(this, 'ReceiptRules', {
        rules: [
          {
            recipients: props.mailDomains,
            scanEnabled: true,
            tlsPolicy: ses.TlsPolicy.REQUIRE,
            actions: [new sesActions.S3({ bucket: props.storage.bucket, objectKeyPrefix: INCOMING_PREFIX })],
          },
        ],
      });
    }

    Validations.of(f.fn).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::<MessageBucket.Arn>/incoming/*]',
      reason: 'Received messages have keys chosen by SES: access is limited to the incoming/ prefix of the one message bucket.',
    });
  }
}
