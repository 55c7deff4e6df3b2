// Admin API: API Gateway REST API in front of the admin Lambda (functions/admin-api).
//   /v1, /v1/{proxy+}                               IAM authorization (SigV4: mailctl --url)
//   /mail/config-v1.1.xml,
//   /.well-known/autoconfig/mail/config-v1.1.xml    public (Thunderbird autoconfig; it never
//                                                   says whether a mailbox exists)
// Access logs and execution logs go to CloudWatch with retention. The function reaches the
// store directly and sends settings/account notices to the tasks by invoking the fan-out.

import { Annotations, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { MailConfig } from '../config.js';
import { MailFunction, functionEntry, functionEntryExists } from './function.js';
import type { Storage } from './storage.js';

export interface AdminApiProps {
  config: MailConfig;
  storage: Storage;
  fanout: lambda.IFunction;
  /** Where clients connect (connectivity tests go through it). */
  frontEndHost: string;
  logRetention: logs.RetentionDays;
}

/** Exchange-style connection settings for what the load balancer exposes. */
export function externalConnectionSettings(host: string): { pop3: string; imap4: string } {
  return { pop3: `${host}:995:SSL,${host}:110:TLS`, imap4: `${host}:993:SSL,${host}:143:TLS` };
}

export class AdminApi extends Construct {
  readonly api: apigw.RestApi;
  readonly fn: lambda.IFunction;

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id);
    const { config, storage } = props;
    const ext = externalConnectionSettings(config.externalHostname);
    const environment = {
      ...storage.storeEnvironment(),
      SITE_NAME: config.siteName,
      MAIL_DOMAINS: config.mailDomains.join(','),
      EXTERNAL_HOSTNAME: config.externalHostname,
      // Defaults for the services' externalConnectionSettings while an administrator has not set them.
      EXTERNAL_CONNECTION_SETTINGS_POP3: ext.pop3,
      EXTERNAL_CONNECTION_SETTINGS_IMAP4: ext.imap4,
      FRONTEND_HOST: props.frontEndHost,
      FANOUT_FUNCTION_NAME: props.fanout.functionName,
    };

    if (functionEntryExists('admin-api')) {
      const f = new MailFunction(this, 'AdminApi', {
        name: 'admin-api',
        logRetention: props.logRetention,
        description: 'Admin API (mailboxes, protocol settings, connectivity tests, autoconfig)',
        memorySize: 512,
        timeout: Duration.seconds(29),
        environment,
      });
      this.fn = f.fn;
    } else {
      // The handler is written elsewhere; until it exists the stack cannot be deployed.
      Annotations.of(this).addError(`${functionEntry('admin-api')} does not exist: the admin API cannot be bundled`);
      const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
      this.fn = new lambda.Function(this, 'Placeholder', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 503, body: "admin API not built" });'),
        logGroup,
        environment,
      });
      Validations.of(this.fn).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'Placeholder until the admin handler exists (synthesis reports an error then): it only writes its own logs.',
      });
    }
    storage.grantStore(this.fn);
    // Invoke the one fan-out function (its unqualified ARN: no versions or aliases needed).
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'SendChangeNotices', actions: ['lambda:InvokeFunction'], resources: [props.fanout.functionArn] }),
    );

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `mail-admin-${config.siteName}`,
      description: 'Mail access backend: admin API',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName: 'prod',
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: 50,
        throttlingBurstLimit: 100,
      },
    });
    const integration = new apigw.LambdaIntegration(this.fn, { proxy: true, allowTestInvoke: false });
    const iamAuth: apigw.MethodOptions = { authorizationType: apigw.AuthorizationType.IAM };

    const v1 = this.api.root.addResource('v1');
    v1.addMethod('ANY', integration, iamAuth);
    v1.addProxy({ defaultIntegration: integration, defaultMethodOptions: iamAuth, anyMethod: true });

    const publicGets = [
      this.api.root.addResource('mail').addResource('config-v1.1.xml'),
      this.api.root.addResource('.well-known').addResource('autoconfig').addResource('mail').addResource('config-v1.1.xml'),
    ];
    for (const r of publicGets) {
      const m = r.addMethod('GET', integration, { authorizationType: apigw.AuthorizationType.NONE });
      Validations.of(m).acknowledge(
        { id: 'AwsSolutions-APIG4', reason: 'Mail client autoconfiguration must be readable without credentials; it names only the public host names and ports.' },
        { id: 'AwsSolutions-COG4', reason: 'Public autoconfig route: no authorizer by design.' },
      );
    }

    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG2', reason: 'The handler validates every request body and parameter against its schema (zod) and answers 400 naming the field.' },
      { id: 'AwsSolutions-APIG3', reason: 'IAM-authorised admin API with stage throttling; a WAF web ACL is left to operators who want one (cost).' },
      { id: 'AwsSolutions-COG4', reason: '/v1 uses IAM (SigV4) authorization: administrators are IAM principals, not a Cognito user pool.' },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'API Gateway account-level role for pushing logs to CloudWatch: the managed policy AWS provides for exactly that.',
      },
    );
  }
}
