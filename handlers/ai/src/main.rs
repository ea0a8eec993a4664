//! The ai Lambda: logging, clients built once, then the service.

use stackpro_runtime::{sdk_config, telemetry, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let service = stackpro_ai::service(config, &sdk).await?;
    stackpro_runtime::run(service).await
}
