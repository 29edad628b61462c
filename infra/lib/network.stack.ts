/**
 * The network both API Gateway and ECS plug into: the VPC with its endpoints, the internal
 * Network Load Balancer in front of the API service, the two VPC links and every security
 * group. It is its own stack because the WebSocket API must exist before the services (the
 * worker is told its management endpoint) while the APIs' VPC links need the load balancer:
 * network → api → service has no cycle.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The port the API container listens on (COT_API_PORT). */
export const API_CONTAINER_PORT = 8080;
/** The NLB listener port API Gateway's integrations call. */
export const API_LISTENER_PORT = 80;
/** The VPC's address range (a literal, so security group rules can name it). */
export const VPC_CIDR = '10.40.0.0/16';

export interface NetworkStackProps extends StackProps {
  readonly maxAzs: number;
  readonly natGateways: number;
  readonly logRetention: logs.RetentionDays;
}

/** VPC, endpoints, flow logs, the API's internal NLB, VPC links and security groups. */
export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly apiLoadBalancer: elbv2.NetworkLoadBalancer;
  public readonly apiListener: elbv2.NetworkListener;
  public readonly apiTargetGroup: elbv2.NetworkTargetGroup;
  /** VPC link v2: the HTTP API's private integration. */
  public readonly httpVpcLink: apigwv2.VpcLink;
  /** VPC link v1 (PrivateLink to the NLB): the only kind WebSocket APIs can use. */
  public readonly webSocketVpcLink: apigateway.VpcLink;
  public readonly apiServiceSecurityGroup: ec2.SecurityGroup;
  public readonly workerSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);

    // NAT is justified, not only convenient: the API fetches PingID's JWKS from the
    // internet, the worker calls the WebSocket management API (a public execute-api
    // endpoint: a private execute-api VPC endpoint would capture that DNS name and break
    // it), and the X-Ray daemon image comes from ECR Public. AWS traffic that has an
    // endpoint below (DynamoDB, SQS, Bedrock, Logs, ECR, X-Ray, Secrets Manager) bypasses it.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: props.maxAzs,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      // Rejected traffic is what security reviews look at; ALL would multiply the log volume.
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    this.addEndpoints();

    this.apiServiceSecurityGroup = new ec2.SecurityGroup(this, 'ApiServiceSg', {
      vpc: this.vpc,
      description: 'Circle of Trust API tasks: HTTP from the internal NLB only',
      allowAllOutbound: true,
    });
    this.workerSecurityGroup = new ec2.SecurityGroup(this, 'WorkerSg', {
      vpc: this.vpc,
      description: 'Circle of Trust worker tasks: no inbound traffic',
      allowAllOutbound: true,
    });
    const nlbSecurityGroup = new ec2.SecurityGroup(this, 'ApiNlbSg', {
      vpc: this.vpc,
      description: 'Internal NLB in front of the API service',
      allowAllOutbound: false,
    });
    const vpcLinkSecurityGroup = new ec2.SecurityGroup(this, 'HttpVpcLinkSg', {
      vpc: this.vpc,
      description: 'API Gateway HTTP API VPC link ENIs',
      allowAllOutbound: false,
    });
    // Ingress names the peer group; egress names the VPC range, because only rules CloudFormation
    // can inline replace a group's default allow-all egress (a group-to-group egress rule is a
    // separate resource and would leave that default in place).
    nlbSecurityGroup.addIngressRule(vpcLinkSecurityGroup, ec2.Port.tcp(API_LISTENER_PORT), 'HTTP API VPC link to the NLB');
    vpcLinkSecurityGroup.addEgressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(API_LISTENER_PORT), 'To the internal NLB');
    this.apiServiceSecurityGroup.addIngressRule(nlbSecurityGroup, ec2.Port.tcp(API_CONTAINER_PORT), 'NLB to API tasks (traffic and health checks)');
    nlbSecurityGroup.addEgressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(API_CONTAINER_PORT), 'To the API tasks');

    // One NLB serves both APIs. WebSocket APIs reach private backends only through a VPC
    // link v1, which is PrivateLink to a Network Load Balancer (an ALB is not possible);
    // HTTP APIs accept an NLB listener on a VPC link v2 as well, so an ALB would only add a
    // second load balancer. The listener is TCP: HTTP is parsed by the API service.
    this.apiLoadBalancer = new elbv2.NetworkLoadBalancer(this, 'ApiNlb', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [nlbSecurityGroup],
      crossZoneEnabled: true,
      // PrivateLink traffic (the WebSocket VPC link v1) arrives from addresses no rule can
      // name; it is admitted by the VPC link itself. Other traffic must match the rules.
      enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: false,
    });
    Validations.of(this.apiLoadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: 'NLB access logs are written only for TLS listeners; this listener is TCP inside the VPC. Requests are logged by the API Gateway access logs and the API service, rejected flows by the VPC flow log.',
    });
    this.apiTargetGroup = new elbv2.NetworkTargetGroup(this, 'ApiTargets', {
      vpc: this.vpc,
      port: API_CONTAINER_PORT,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(30),
      healthCheck: {
        protocol: elbv2.Protocol.HTTP,
        path: '/healthz',
        interval: Duration.seconds(10),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });
    this.apiListener = this.apiLoadBalancer.addListener('Http', {
      port: API_LISTENER_PORT,
      protocol: elbv2.Protocol.TCP,
      defaultTargetGroups: [this.apiTargetGroup],
    });

    this.httpVpcLink = new apigwv2.VpcLink(this, 'HttpVpcLink', {
      vpc: this.vpc,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [vpcLinkSecurityGroup],
    });
    this.webSocketVpcLink = new apigateway.VpcLink(this, 'WebSocketVpcLink', {
      description: 'Circle of Trust WebSocket API to the API service NLB',
      targets: [this.apiLoadBalancer],
    });

    new CfnOutput(this, 'ApiLoadBalancerDns', { value: this.apiLoadBalancer.loadBalancerDnsName });
  }

  private addEndpoints(): void {
    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    // Gateway endpoints are free; S3 also serves ECR's image layers.
    this.vpc.addGatewayEndpoint('DynamoDbEndpoint', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    this.vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from inside the VPC only',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), 'HTTPS from the VPC');
    const interfaceEndpoints: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ['SqsEndpoint', ec2.InterfaceVpcEndpointAwsService.SQS],
      ['BedrockRuntimeEndpoint', ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME],
      ['SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['LogsEndpoint', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ['EcrApiEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR],
      ['EcrDockerEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['XRayEndpoint', ec2.InterfaceVpcEndpointAwsService.XRAY],
    ];
    for (const [id, service] of interfaceEndpoints) {
      this.vpc.addInterfaceEndpoint(id, { service, subnets: privateSubnets, privateDnsEnabled: true, securityGroups: [endpointSecurityGroup], open: false });
    }
  }
}
