/**
 * $connect, $disconnect and $default of a WebSocket API as HTTP_PROXY integrations to the
 * API service, over a VPC link v1 (WebSocket APIs cannot use VPC link v2; v1 is PrivateLink
 * to an NLB). The CDK L2 has no WebSocket HTTP integration type, hence the L1 resources.
 *
 * Each route calls `POST {backend}/ws/{connect|default|disconnect}` with the headers of
 * the local gateway's contract (services/local/ws-gateway/README.md): x-connection-id,
 * x-route-key, x-event-type, x-request-time-epoch, and the integration secret (a static
 * value, resolved from Secrets Manager at deploy time), by which the API service tells
 * these calls from any other caller inside the VPC. $connect also forwards the client's
 * `?token=` query string. $default has a route response, so a non-empty response body of
 * the API service goes back to the client as one message.
 */
import { Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { WS_INTEGRATION_SECRET_HEADER } from '../../../services/shared/contracts/ws.js';

/** The backend path of each route (POST). */
export const WEBSOCKET_BACKEND_PATHS = {
  $connect: '/ws/connect',
  $default: '/ws/default',
  $disconnect: '/ws/disconnect',
} as const;

export type WebSocketRouteKey = keyof typeof WEBSOCKET_BACKEND_PATHS;

/** Request parameters every route forwards (API Gateway context → backend headers). */
export const WEBSOCKET_CONTEXT_HEADERS: Readonly<Record<string, string>> = {
  'integration.request.header.x-connection-id': 'context.connectionId',
  'integration.request.header.x-route-key': 'context.routeKey',
  'integration.request.header.x-event-type': 'context.eventType',
  'integration.request.header.x-request-time-epoch': 'context.requestTimeEpoch',
  'integration.request.header.x-forwarded-for': 'context.identity.sourceIp',
};

/** The request parameter that carries the integration secret to the API service. */
export const INTEGRATION_SECRET_PARAMETER = `integration.request.header.${WS_INTEGRATION_SECRET_HEADER}`;

/** $connect only: the access token the browser puts in the query string. */
export const CONNECT_TOKEN_PARAMETER = { 'integration.request.querystring.token': 'route.request.querystring.token' } as const;

export interface WebSocketProxyRoutesProps {
  readonly webSocketApi: apigwv2.IWebSocketApi;
  readonly vpcLink: apigateway.IVpcLink;
  /** `http://{nlb-dns}` (a VPC link v1 integration URI names the NLB's DNS name). */
  readonly backendBaseUrl: string;
  /** The shared secret every route request carries; the API service refuses /ws/* without it. */
  readonly integrationSecret: secretsmanager.ISecret;
}

/** The three routes and their integrations. */
export class WebSocketProxyRoutes extends Construct {
  public readonly routes: Readonly<Record<WebSocketRouteKey, apigwv2.CfnRoute>>;

  constructor(scope: Construct, id: string, props: WebSocketProxyRoutesProps) {
    super(scope, id);
    const apiId = props.webSocketApi.apiId;
    const routes = {} as Record<WebSocketRouteKey, apigwv2.CfnRoute>;
    // A static mapping value is quoted; CloudFormation resolves the dynamic reference at deploy.
    const secretHeader = { [INTEGRATION_SECRET_PARAMETER]: `'${props.integrationSecret.secretValue.unsafeUnwrap()}'` };
    for (const routeKey of Object.keys(WEBSOCKET_BACKEND_PATHS) as WebSocketRouteKey[]) {
      const name = routeKey.slice(1); // connect | default | disconnect
      const integration = new apigwv2.CfnIntegration(this, `${name}Integration`, {
        apiId,
        integrationType: 'HTTP_PROXY',
        integrationMethod: 'POST',
        integrationUri: `${props.backendBaseUrl}${WEBSOCKET_BACKEND_PATHS[routeKey]}`,
        connectionType: 'VPC_LINK',
        connectionId: props.vpcLink.vpcLinkId,
        requestParameters:
          routeKey === '$connect'
            ? { ...WEBSOCKET_CONTEXT_HEADERS, ...secretHeader, ...CONNECT_TOKEN_PARAMETER }
            : { ...WEBSOCKET_CONTEXT_HEADERS, ...secretHeader },
        timeoutInMillis: 29_000,
      });
      const route = new apigwv2.CfnRoute(this, `${name}Route`, {
        apiId,
        routeKey,
        authorizationType: 'NONE',
        operationName: name,
        target: `integrations/${integration.ref}`,
        routeResponseSelectionExpression: routeKey === '$default' ? '$default' : undefined,
      });
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          routeKey === '$connect'
            ? 'The API service validates the ?token= access token on $connect (same jose checks as the HTTP API) and refuses the handshake otherwise; a Lambda authorizer would duplicate that check.'
            : 'API Gateway accepts authorizers on $connect only; later routes run on the connection the API service authenticated at $connect.',
      });
      routes[routeKey] = route;
    }
    new apigwv2.CfnRouteResponse(this, 'defaultRouteResponse', {
      apiId,
      routeId: routes.$default.ref,
      routeResponseKey: '$default',
    });
    this.routes = routes;
  }
}
