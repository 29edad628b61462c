/** The properties every bucket of the app shares: private, SSL-only, encrypted. */
import * as s3 from 'aws-cdk-lib/aws-s3';

/** Block all public access, require TLS, SSE-S3 encryption. */
export function privateBucketProps(): Pick<s3.BucketProps, 'blockPublicAccess' | 'enforceSSL' | 'encryption'> {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
  };
}
