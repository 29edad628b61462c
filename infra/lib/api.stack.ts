/**
 * The API layer: the HTTP API (PingID JWT authorizer, VPC link v2 to the API service's
 * NLB, throttling, access logs) and the WebSocket API ($connect/$disconnect/$default as
 * HTTP proxy integrations over a VPC link v1 to the same NLB), with its stage whose
 * management endpoint the services use for PostToConnection.
 */
import { CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpNlbIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { NetworkStack } from './network.stack.js';
import { WebSocketProxyRoutes } from './constructs/websocket-proxy-routes.js';
import { nagArn, wildcardResource } from './nag-findings.js';

/** The WebSocket API's stage: wss://{api}.execute-api.{region}.amazonaws.com/ws. */
export const WEBSOCKET_STAGE = 'ws';

/** The HTTP routes the API service serves; every one but /healthz needs a PingID token. */
export const HTTP_ROUTES: readonly { method: apigwv2.HttpMethod; path: string; authenticated: boolean }[] = [
  { method: apigwv2.HttpMethod.POST, path: '/chat', authenticated: true },
  { method: apigwv2.HttpMethod.GET, path: '/jobs', authenticated: true },
  { method: apigwv2.HttpMethod.GET, path: '/jobs/{id}', authenticated: true },
  { method: apigwv2.HttpMethod.POST, path: '/jobs/{id}/cancel', authenticated: true },
  { method: apigwv2.HttpMethod.GET, path: '/jobs/{id}/timeline', authenticated: true },
  { method: apigwv2.HttpMethod.GET, path: '/advisors', authenticated: true },
  { method: apigwv2.HttpMethod.GET, path: '/healthz', authenticated: false },
];

export interface ApiStackProps extends StackProps {
  readonly network: NetworkStack;
  /** PingID issuer URL (the `iss` of access tokens). */
  readonly issuer: string;
  /** PingID audience (the `aud` of access tokens). */
  readonly audience: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: logs.RetentionDays;
}

/** HTTP API + WebSocket API in front of the API service. */
export class ApiStack extends Stack {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly httpStage: apigwv2.HttpStage;
  public readonly webSocketApi: apigwv2.WebSocketApi;
  public readonly webSocketStage: apigwv2.WebSocketStage;
  public readonly authorizer: HttpJwtAuthorizer;
  /** execute-api:ManageConnections on this API's stage only (PostToConnection, GetConnection, DeleteConnection). */
  public readonly manageConnectionsPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { network } = props;

    this.authorizer = new HttpJwtAuthorizer('PingIdAuthorizer', props.issuer, {
      authorizerName: 'pingid',
      jwtAudience: [props.audience],
      identitySource: ['$request.header.Authorization'],
    });
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${this.stackName}-http`,
      description: 'Circle of Trust HTTP API (behind CloudFront + WAF)',
      createDefaultStage: false,
    });
    const httpAccessLogs = new logs.LogGroup(this, 'HttpAccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.httpStage = new apigwv2.HttpStage(this, 'HttpDefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(httpAccessLogs), format: httpAccessLogFormat() },
    });
    const integration = new HttpNlbIntegration('ApiService', network.apiListener, { vpcLink: network.httpVpcLink });
    for (const route of HTTP_ROUTES) {
      const [added] = this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method],
        integration,
        authorizer: route.authenticated ? this.authorizer : new apigwv2.HttpNoneAuthorizer(),
      });
      if (!route.authenticated && added) {
        Validations.of(added).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: 'GET /healthz is the unauthenticated liveness probe; it returns 200 and no data.',
        });
      }
    }

    const apiGatewayLogging = this.enableApiGatewayLogging();
    this.webSocketApi = new apigwv2.WebSocketApi(this, 'WebSocketApi', {
      apiName: `${this.stackName}-ws`,
      description: 'Circle of Trust live progress (job.view, job.transition, step.delta, job.done)',
      routeSelectionExpression: '$request.body.action',
    });
    const routes = new WebSocketProxyRoutes(this, 'WebSocketRoutes', {
      webSocketApi: this.webSocketApi,
      vpcLink: network.webSocketVpcLink,
      backendBaseUrl: `http://${network.apiLoadBalancer.loadBalancerDnsName}`,
    });
    const wsAccessLogs = new logs.LogGroup(this, 'WebSocketAccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.webSocketStage = new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: WEBSOCKET_STAGE,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(wsAccessLogs), format: webSocketAccessLogFormat() },
    });
    // A WebSocket stage cannot be deployed without routes, nor log without the account role.
    this.webSocketStage.node.addDependency(routes, apiGatewayLogging);

    // Owned here, next to the API it scopes, and attached to the task roles by the service
    // stack: the same statement grantManagementApiAccess writes, with a stable resource.
    this.manageConnectionsPolicy = new iam.ManagedPolicy(this, 'ManageConnectionsPolicy', {
      description: 'Push to the Circle of Trust WebSocket API: execute-api:ManageConnections on its @connections only',
      statements: [
        new iam.PolicyStatement({
          actions: ['execute-api:ManageConnections'],
          resources: [this.webSocketApi.arnForExecuteApiV2('*/@connections/*', WEBSOCKET_STAGE)],
        }),
      ],
    });
    Validations.of(this.manageConnectionsPolicy).acknowledge({
      id: wildcardResource(
        nagArn(this, 'execute-api', this.region, this.account, `<${this.getLogicalId(this.webSocketApi.node.defaultChild as apigwv2.CfnApi)}>/${WEBSOCKET_STAGE}/*/@connections/*`),
      ),
      reason: 'Connection ids are created per client at run time, so the statement names this API and stage and leaves only the HTTP method and connection id open.',
    });

    new CfnOutput(this, 'HttpApiUrl', { value: this.httpApi.apiEndpoint });
    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url });
    new CfnOutput(this, 'WebSocketManagementEndpoint', { value: this.webSocketStage.callbackUrl });
  }

  /**
   * WebSocket (like REST) API access logs need API Gateway's account-level CloudWatch role;
   * HTTP APIs do not. Retained because it is a per-account, per-region setting other APIs share.
   */
  private enableApiGatewayLogging(): apigateway.CfnAccount {
    const role = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'The AWS-maintained policy API Gateway documents for its account-level logging role; it only creates and writes log groups/streams.',
    });
    const account = new apigateway.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return account;
  }
}

/** JSON access log for the HTTP API; never the Authorization header or query strings. */
function httpAccessLogFormat(): apigateway.AccessLogFormat {
  return apigateway.AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      requestTime: '$context.requestTime',
      method: '$context.httpMethod',
      routeKey: '$context.routeKey',
      status: '$context.status',
      protocol: '$context.protocol',
      responseLength: '$context.responseLength',
      latencyMs: '$context.responseLatency',
      integrationStatus: '$context.integrationStatus',
      integrationLatencyMs: '$context.integrationLatency',
      integrationError: '$context.integrationErrorMessage',
      authorizerError: '$context.authorizer.error',
      sub: '$context.authorizer.claims.sub',
    }),
  );
}

/** JSON access log for the WebSocket API; the $connect token (a query string) is never logged. */
function webSocketAccessLogFormat(): apigateway.AccessLogFormat {
  return apigateway.AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      requestTime: '$context.requestTime',
      eventType: '$context.eventType',
      routeKey: '$context.routeKey',
      status: '$context.status',
      connectionId: '$context.connectionId',
      integrationStatus: '$context.integrationStatus',
      integrationLatencyMs: '$context.integrationLatency',
      error: '$context.error.message',
    }),
  );
}
