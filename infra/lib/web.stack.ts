/**
 * The web UI: web/dist (or a placeholder page when it has not been built) in a private S3
 * bucket behind CloudFront with origin access control and the WAF web ACL. The same
 * distribution forwards /api/* to the HTTP API, so the UI calls its own origin (no CORS)
 * and every API call passes WAF. config.json tells the UI where the APIs and PingID are.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import type { ApiStack } from './api.stack.js';
import { REPO_ROOT } from './config.js';
import { privateBucketProps } from './constructs/private-bucket.js';
import type { EdgeWafStack } from './edge-waf.stack.js';
import { wildcardAction, wildcardResource } from './nag-findings.js';

/** CloudFront path prefix of the HTTP API: https://{distribution}/api/chat → POST /chat. */
export const API_PATH_PREFIX = '/api';

export interface WebStackProps extends StackProps {
  readonly api: ApiStack;
  readonly waf: EdgeWafStack;
  readonly oidc: { readonly issuer: string; readonly clientId: string; readonly audience: string; readonly scopes: readonly string[] };
  /** Built UI; a placeholder page is deployed when this directory does not exist. */
  readonly webDistDir?: string;
}

/** The UI's runtime configuration (served as /config.json). */
export interface WebConfig {
  readonly apiUrl: string;
  readonly wsUrl: string;
  readonly oidc: {
    readonly issuer: string;
    readonly clientId: string;
    readonly audience: string;
    readonly scopes: string;
    readonly redirectUri: string;
    readonly postLogoutRedirectUri: string;
  };
}

/** S3 + CloudFront (OAC, WAF, logs) + the deployed UI and its config.json. */
export class WebStack extends Stack {
  public readonly siteBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly siteConfig: WebConfig;

  constructor(scope: Construct, id: string, props: WebStackProps) {
    super(scope, id, props);
    const logBucket = new s3.Bucket(this, 'AccessLogs', {
      ...privateBucketProps(),
      // CloudFront standard logs are delivered with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket of the site bucket and the distribution; logging it into itself would loop.',
    });
    this.siteBucket = new s3.Bucket(this, 'Site', {
      ...privateBucketProps(),
      versioned: true,
      serverAccessLogsBucket: logBucket,
      serverAccessLogsPrefix: 'site-bucket/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const apiOrigin = new origins.HttpOrigin(`${props.api.httpApi.apiId}.execute-api.${this.region}.${this.urlSuffix}`, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Circle of Trust: web UI and /api/* (HTTP API) behind AWS WAF',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.siteBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        functionAssociations: [{ eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: this.spaRoutingFunction() }],
      },
      additionalBehaviors: {
        [`${API_PATH_PREFIX}/*`]: {
          origin: apiOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          // No caching: every answer is per user. With caching disabled, the AllViewer
          // policies forward the Authorization header the JWT authorizer needs.
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
          functionAssociations: [{ eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: this.stripApiPrefixFunction() }],
        },
      },
      webAclId: props.waf.webAcl.attrArn,
      enableLogging: true,
      logBucket,
      logFilePrefix: 'cloudfront/',
      logIncludesCookies: false,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'An internal advisory tool for the organisation\'s people, who may travel; access is controlled by PingID (with MFA), not by geography.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain the distribution uses the default *.cloudfront.net certificate, for which CloudFront allows TLSv1; attaching a custom domain and ACM certificate (docs/deploy.md) allows the TLSv1.2_2021 policy.',
      },
    );

    const origin = `https://${this.distribution.distributionDomainName}`;
    this.siteConfig = {
      apiUrl: `${origin}${API_PATH_PREFIX}`,
      wsUrl: props.api.webSocketStage.url,
      oidc: {
        issuer: props.oidc.issuer,
        clientId: props.oidc.clientId,
        audience: props.oidc.audience,
        scopes: props.oidc.scopes.join(' '),
        redirectUri: `${origin}/`,
        postLogoutRedirectUri: `${origin}/`,
      },
    };
    const deployment = new s3deploy.BucketDeployment(this, 'DeploySite', {
      destinationBucket: this.siteBucket,
      // config.json last, so it wins over a local one a web build may contain.
      sources: [webSource(props.webDistDir ?? resolve(REPO_ROOT, 'web/dist')), s3deploy.Source.jsonData('config.json', this.siteConfig)],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      memoryLimit: 512,
    });
    acknowledgeBucketDeployment(this, deployment, this.siteBucket);

    new CfnOutput(this, 'SiteUrl', { value: origin });
    new CfnOutput(this, 'ApiUrl', { value: this.siteConfig.apiUrl });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId });
  }

  /** Client-side routes (no file extension) get index.html; /config.json and assets pass. */
  private spaRoutingFunction(): cloudfront.Function {
    return new cloudfront.Function(this, 'SpaRouting', {
      comment: 'Serve index.html for client-side routes',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        [
          'function handler(event) {',
          '  var request = event.request;',
          "  var last = request.uri.split('/').pop();",
          "  if (last.indexOf('.') === -1) request.uri = '/index.html';",
          '  return request;',
          '}',
        ].join('\n'),
      ),
    });
  }

  /** /api/chat → /chat: the HTTP API's $default stage serves the routes at its root. */
  private stripApiPrefixFunction(): cloudfront.Function {
    return new cloudfront.Function(this, 'StripApiPrefix', {
      comment: `Remove the ${API_PATH_PREFIX} prefix before the HTTP API`,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        [
          'function handler(event) {',
          '  var request = event.request;',
          `  if (request.uri.indexOf('${API_PATH_PREFIX}/') === 0) request.uri = request.uri.substring(${API_PATH_PREFIX.length});`,
          '  return request;',
          '}',
        ].join('\n'),
      ),
    });
  }
}

/** web/dist when it has been built, else one page saying so: synthesis never needs a web build. */
function webSource(distDir: string): s3deploy.ISource {
  if (existsSync(resolve(distDir, 'index.html'))) return s3deploy.Source.asset(distDir);
  return s3deploy.Source.data(
    'index.html',
    [
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Circle of Trust</title>',
      '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
      '<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">',
      '<h1>Circle of Trust</h1><p>The infrastructure is deployed, but the web UI was not built when it was.',
      'Run <code>npm run build</code> in <code>web/</code>, then deploy the web stack again (see docs/deploy.md).</p>',
      '<p>The API is at <code>/api</code>; its configuration is in <a href="/config.json">config.json</a>.</p>',
      '</body></html>',
    ].join('\n'),
  );
}

/** The CDK-provided Lambda behind BucketDeployment is not ours to change; say why each finding is accepted. */
function acknowledgeBucketDeployment(stack: Stack, deployment: s3deploy.BucketDeployment, siteBucket: s3.Bucket): void {
  const provider = stack.node.children.find((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (!provider) throw new Error('BucketDeployment provider not found: aws-cdk-lib changed its construct id');
  const s3Wildcards = ['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'];
  Validations.of(provider).acknowledge(
    ...s3Wildcards.map((action) => ({
      id: wildcardAction(action),
      reason: 'CDK\'s BucketDeployment provider reads the staged asset and syncs it into the site bucket; these grant* action groups are scoped to those two buckets.',
    })),
    {
      id: wildcardResource(`<${stack.getLogicalId(siteBucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`),
      reason: 'The provider writes and prunes every object of the site bucket it deploys.',
    },
    {
      id: wildcardResource(`arn:${stack.partition}:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-${stack.region}/*`),
      reason: 'The provider reads the deployment\'s zip from the CDK bootstrap assets bucket.',
    },
    {
      id: wildcardResource('*'),
      reason: 'cloudfront:CreateInvalidation/GetInvalidation (invalidating the distribution after a deploy) support no resource-level permissions in the provider\'s policy.',
    },
  );
  for (const target of [provider, deployment]) {
    Validations.of(target).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK\'s BucketDeployment provider Lambda uses the AWS basic execution policy to write its own logs.',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'The BucketDeployment provider runtime is pinned by aws-cdk-lib and upgraded with it.',
      },
    );
  }
}
