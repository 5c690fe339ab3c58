//! The AWS SDK configuration every client is built from: one HTTPS client (rustls on ring) for
//! the Lambdas, the CLI and the tests alike.

/// The process's AWS configuration from the standard chain (environment, the Lambda role);
/// `AWS_ENDPOINT_URL` points it at a local AWS API server in tests.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's HTTPS client: rustls with the *ring* provider (the same as our database TLS),
/// trusting the OS certificate store. Every `SdkConfig` must be given it: the SDK is built
/// without its default client, whose aws-lc-rs build takes minutes (Cargo.toml).
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls_provider())
        .build_https()
}

/// The same HTTPS connection, bare: for a caller that signs and sends its own requests (the
/// lake's Glue calls) instead of going through a generated SDK client.
pub fn https_connector() -> aws_smithy_http_client::Connector {
    aws_smithy_http_client::Connector::builder()
        .tls_provider(tls_provider())
        .build()
}

fn tls_provider() -> aws_smithy_http_client::tls::Provider {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    Provider::Rustls(CryptoMode::Ring)
}
