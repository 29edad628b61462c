/**
 * The web app: web/dist in a private S3 bucket behind CloudFront with origin access control
 * and the WAF web ACL. The same distribution forwards /api/* to the HTTP API, so the app
 * calls its own origin and every API call passes WAF. config.json (the WebConfig contract)
 * is generated at deploy time from the stacks' outputs and the PingID settings, never
 * baked into the build; the app's CSP admits exactly the API, WebSocket and PingID origins.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Annotations, CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import type { WebConfig } from '../../services/shared/contracts/web-config.js';
import { WEB_SECURITY_HEADERS, webContentSecurityPolicy } from '../../services/shared/contracts/web-security.js';
import type { ApiStack } from './api.stack.js';
import { REPO_ROOT } from './config.js';
import { privateBucketProps } from './constructs/private-bucket.js';
import type { EdgeWafStack } from './edge-waf.stack.js';
import { wildcardAction, wildcardResource } from './nag-findings.js';

/** CloudFront path prefix of the HTTP API: https://{distribution}/api/chat → POST /chat. */
export const API_PATH_PREFIX = '/api';

/** Vite's output folder for content-hashed files: only these may be cached for good. */
export const HASHED_ASSETS_DIR = 'assets';

/** Cache-Control of the deployed objects. */
export const SITE_CACHE_CONTROL = {
  /** Hashed names change with their content. */
  hashedAssets: 'public, max-age=31536000, immutable',
  /** index.html, config.json and unhashed files: revalidated on every use, so a deploy shows at once. */
  everythingElse: 'no-cache',
} as const;

export interface WebStackProps extends StackProps {
  readonly api: ApiStack;
  readonly waf: EdgeWafStack;
  /** The web app's PingID client: issuer, public client id, the scopes it asks for, and a resource indicator if PingID wants one. */
  readonly oidc: { readonly issuer: string; readonly clientId: string; readonly scope: string; readonly resource?: string };
  /** The built app (default web/dist); a placeholder page is deployed when it has no index.html. */
  readonly webDistDir?: string;
}

/** S3 + CloudFront (OAC, WAF, logs, security headers) + the deployed app and its config.json. */
export class WebStack extends Stack {
  public readonly siteBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  /** `https://{distribution domain}`: the app's origin, the one origin the API allows (CORS). */
  public readonly siteOrigin: string;
  /** What /config.json holds (deploy-time values are tokens). */
  public readonly siteConfig: WebConfig;
  public readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  /** True when web/dist was missing and a placeholder page is deployed instead. */
  public readonly placeholder: boolean;

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

    // The WebSocket API is not behind CloudFront (see docs/deploy.md): the app connects to it directly.
    const webSocketOrigin = `wss://${props.api.webSocketApi.apiId}.execute-api.${this.region}.${this.urlSuffix}`;
    this.responseHeadersPolicy = this.siteHeadersPolicy([webSocketOrigin, new URL(props.oidc.issuer).origin]);

    const apiOrigin = new origins.HttpOrigin(`${props.api.httpApi.apiId}.execute-api.${this.region}.${this.urlSuffix}`, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Circle of Trust: web app and /api/* (HTTP API) behind AWS WAF',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        // LIST as well as READ: a missing file is then S3's 404, not a 403 that looks like a permission problem.
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.siteBucket, {
          originAccessLevels: [cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST],
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        // Honours the objects' Cache-Control (immutable assets, no-cache for the rest).
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
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
      // No errorResponses: they apply to every behaviour and would turn the API's own
      // 403/404 JSON errors under /api/* into index.html. The SPA fallback is the
      // viewer-request function of the default behaviour instead.
      webAclId: props.waf.webAcl.attrArn,
      enableLogging: true,
      logBucket,
      logFilePrefix: 'cloudfront/',
      logIncludesCookies: false,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    Annotations.of(this.distribution).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk',
      'defaultRootObject is index.html and the viewer-request function sends every path without a file extension to /index.html, so no request reaches a bucket listing.',
    );
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

    this.siteOrigin = `https://${this.distribution.distributionDomainName}`;
    this.siteConfig = {
      apiUrl: `${this.siteOrigin}${API_PATH_PREFIX}`,
      wsUrl: props.api.webSocketStage.url,
      oidc: {
        authority: props.oidc.issuer,
        clientId: props.oidc.clientId,
        scope: props.oidc.scope,
        ...(props.oidc.resource ? { resource: props.oidc.resource } : {}),
      },
      simulated: false,
    };
    const distDir = props.webDistDir ?? resolve(REPO_ROOT, 'web/dist');
    this.placeholder = !existsSync(join(distDir, 'index.html'));
    if (this.placeholder) {
      Annotations.of(this).addWarningV2(
        'cot:web-placeholder',
        `${distDir} has no index.html: a placeholder page is deployed instead of the web app. Build it first (npm run build:web), then deploy again.`,
      );
    }
    const deployments = this.deploySite(distDir);
    acknowledgeBucketDeployment(this, deployments, this.siteBucket);

    new CfnOutput(this, 'SiteUrl', { value: this.siteOrigin });
    new CfnOutput(this, 'ApiUrl', { value: this.siteConfig.apiUrl });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId });
  }

  /** The app's CSP (its own origin, which serves /api too, plus `connectOrigins`) and security headers, from the shared contract. */
  private siteHeadersPolicy(connectOrigins: string[]): cloudfront.ResponseHeadersPolicy {
    const { ['X-Frame-Options']: frameOption, ['Referrer-Policy']: referrerPolicy, ...others } = WEB_SECURITY_HEADERS;
    const { ['X-Content-Type-Options']: _nosniff, ...custom } = others;
    return new cloudfront.ResponseHeadersPolicy(this, 'SiteHeaders', {
      comment: 'Circle of Trust web app: CSP (API, WebSocket API, PingID only) and security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: webContentSecurityPolicy(connectOrigins), override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: frameOption as cloudfront.HeadersFrameOption, override: true },
        referrerPolicy: { referrerPolicy: referrerPolicy as cloudfront.HeadersReferrerPolicy, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
      customHeadersBehavior: {
        customHeaders: Object.entries(custom).map(([header, value]) => ({ header, value, override: true })),
      },
    });
  }

  /**
   * Two deployments, so each object carries the right Cache-Control: the hashed assets
   * (kept when a later build no longer lists them, so open pages can still load their
   * chunks), then everything else with config.json, pruned and invalidated.
   */
  private deploySite(distDir: string): s3deploy.BucketDeployment[] {
    const common = { destinationBucket: this.siteBucket, memoryLimit: 512 } as const;
    const deployments: s3deploy.BucketDeployment[] = [];
    const assetsDir = join(distDir, HASHED_ASSETS_DIR);
    if (!this.placeholder && existsSync(assetsDir)) {
      deployments.push(
        new s3deploy.BucketDeployment(this, 'DeployAssets', {
          ...common,
          sources: [s3deploy.Source.asset(assetsDir)],
          destinationKeyPrefix: `${HASHED_ASSETS_DIR}/`,
          prune: false,
          cacheControl: [s3deploy.CacheControl.fromString(SITE_CACHE_CONTROL.hashedAssets)],
        }),
      );
    }
    const site = new s3deploy.BucketDeployment(this, 'DeploySite', {
      ...common,
      sources: [
        this.placeholder
          ? s3deploy.Source.data('index.html', placeholderPage())
          : // Dotfiles (the local build stamp) are never published.
            s3deploy.Source.asset(distDir, { exclude: [HASHED_ASSETS_DIR, '.*'] }),
        s3deploy.Source.jsonData('config.json', this.siteConfig),
      ],
      // Never prune (or touch) what the assets deployment owns.
      exclude: [`${HASHED_ASSETS_DIR}/*`],
      prune: true,
      cacheControl: [s3deploy.CacheControl.fromString(SITE_CACHE_CONTROL.everythingElse)],
      distribution: this.distribution,
      distributionPaths: ['/*'],
    });
    // The new index.html must not be served before the assets it names exist.
    for (const before of deployments) site.node.addDependency(before);
    deployments.push(site);
    return deployments;
  }

  /** Client-side routes (no file extension in the last segment) get index.html; files and /config.json pass. */
  private spaRoutingFunction(): cloudfront.Function {
    return new cloudfront.Function(this, 'SpaRouting', {
      comment: 'Serve index.html for client-side routes',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(SPA_ROUTING_CODE),
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

/** The viewer-request function of the default behaviour (exported so tests run it). */
export const SPA_ROUTING_CODE = [
  'function handler(event) {',
  '  var request = event.request;',
  "  var last = request.uri.split('/').pop();",
  "  if (last.indexOf('.') === -1) request.uri = '/index.html';",
  '  return request;',
  '}',
].join('\n');

/** Deployed when web/dist is missing: says so, and where the configuration is. */
function placeholderPage(): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Circle of Trust</title>',
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
    '<body><main><h1>Circle of Trust</h1><p>The infrastructure is deployed, but the web app was not built when it was.',
    'Run <code>npm run build:web</code>, then deploy the web stack again (see docs/deploy.md).</p>',
    '<p>The API is at <code>/api</code>; the app\'s configuration is in <a href="/config.json">config.json</a>.</p>',
    '</main></body></html>',
  ].join('\n');
}

/** The CDK-provided Lambda behind BucketDeployment is not ours to change; say why each finding is accepted. */
function acknowledgeBucketDeployment(stack: Stack, deployments: readonly s3deploy.BucketDeployment[], siteBucket: s3.Bucket): void {
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
  for (const target of [provider, ...deployments]) {
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
