//! SSM Parameter Store: deployment records and flags.

use aws_sdk_ssm::types::{
    Parameter, ParameterHistory, ParameterMetadata, ParameterStringFilter, ParameterType,
};

use super::AwsContext;
use crate::error::{Error, Result};

fn client(ctx: &AwsContext) -> &aws_sdk_ssm::Client {
    super::sdk_client!(ctx, ssm, aws_sdk_ssm, "ssm")
}

/// A parameter's value and version, `None` when it does not exist.
pub async fn get_parameter(ctx: &AwsContext, name: &str) -> Result<Option<(String, i64)>> {
    match client(ctx).get_parameter().name(name).send().await {
        Ok(out) => Ok(out
            .parameter()
            .and_then(|p| Some((p.value()?.to_string(), p.version())))),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ctx.error("ssm", "GetParameter", name, err)),
    }
}

/// Every earlier value of a parameter (all pages); empty when it does not exist.
pub async fn parameter_history(ctx: &AwsContext, name: &str) -> Result<Vec<ParameterHistory>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = match client(ctx)
            .get_parameter_history()
            .name(name)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(page) => page,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                return Ok(Vec::new())
            }
            Err(err) => return Err(ctx.error("ssm", "GetParameterHistory", name, err)),
        };
        token = page.next_token().map(str::to_string);
        out.extend(page.parameters.unwrap_or_default());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Writes a String parameter (overwriting) once; returns its new version.
///
/// Every PutParameter that lands makes a new version, and a parameter's history is
/// what stackpro lists (the deployments, a flag's changes). The SDK's own retry after
/// an answer that was lost (a reset connection, a 5xx from a proxy after the write)
/// would write the value twice: the fault suite found a deploy recorded twice that
/// way. So the SDK does not retry this call: after a failed attempt that may have
/// landed, the parameter is read back, and written again only when it does not hold
/// the value. An attempt that timed out is not repeated (a read would wait as long);
/// the whole write stays within the 25 s of one call.
pub async fn put_parameter(
    ctx: &AwsContext,
    name: &str,
    value: &str,
    description: &str,
) -> Result<i64> {
    let once = async {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = client(ctx)
                .put_parameter()
                .name(name)
                .description(description)
                .value(value)
                .r#type(ParameterType::String)
                .overwrite(true)
                .customize()
                .config_override(
                    aws_sdk_ssm::config::Builder::default()
                        .retry_config(aws_sdk_ssm::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            let err = match sent {
                Ok(out) => return Ok(out.version()),
                Err(err) => err,
            };
            let again = attempt < 3 && transient(&err);
            let err = ctx.error("ssm", "PutParameter", name, err);
            if !again {
                return Err(err);
            }
            if let Ok(Some((stored, version))) = get_parameter(ctx, name).await {
                if stored == value {
                    return Ok(version);
                }
            }
            let jitter = u64::from(std::process::id() % 100);
            tokio::time::sleep(std::time::Duration::from_millis(
                200 * u64::from(attempt) + jitter,
            ))
            .await;
        }
    };
    let limit = super::CallKind::Quick
        .timeouts()
        .operation_timeout()
        .unwrap_or(std::time::Duration::from_secs(25));
    match tokio::time::timeout(limit, once).await {
        Ok(result) => result,
        Err(_) => Err(Error::NoAnswer {
            service: "ssm",
            operation: "PutParameter",
            endpoint: ctx.endpoint_for("ssm"),
            detail: format!(
                "no write and read-back of {name} ended within {} s",
                limit.as_secs()
            ),
            local: ctx.is_local(),
        }),
    }
}

/// Whether a failed call may succeed when sent again, and may have landed: the
/// connection failed or was reset, or the service answered 5xx or throttled. Not an
/// attempt that timed out (repeating it waits as long again), nor a refusal.
fn transient<E: aws_sdk_ssm::error::ProvideErrorMetadata>(
    err: &aws_sdk_ssm::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool {
    use aws_sdk_ssm::error::SdkError;
    match err {
        SdkError::DispatchFailure(d) => !d.is_timeout(),
        SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            e.raw().status().as_u16() >= 500
                || e.err()
                    .code()
                    .is_some_and(|c| c.starts_with("Throttl") || c == "TooManyUpdates")
        }
        _ => false,
    }
}

/// Deletes a parameter; one that is not there is not an error (returns false).
pub async fn delete_parameter(ctx: &AwsContext, name: &str) -> Result<bool> {
    match client(ctx).delete_parameter().name(name).send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(false)
        }
        Err(err) => Err(ctx.error("ssm", "DeleteParameter", name, err)),
    }
}

/// Every parameter under `path`, recursively (all pages).
pub async fn parameters_by_path(ctx: &AwsContext, path: &str) -> Result<Vec<Parameter>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client(ctx)
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ctx.error("ssm", "GetParametersByPath", path, e))?;
        token = page.next_token().map(str::to_string);
        out.extend(page.parameters.unwrap_or_default());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The metadata (description, last modifying user) of every parameter under `path`.
pub async fn describe_parameters(ctx: &AwsContext, path: &str) -> Result<Vec<ParameterMetadata>> {
    let filter = ParameterStringFilter::builder()
        .key("Path")
        .option("Recursive")
        .values(path)
        .build()
        .map_err(|e| Error::Aws {
            operation: "DescribeParameters",
            target: path.to_string(),
            detail: e.to_string(),
        })?;
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client(ctx)
            .describe_parameters()
            .parameter_filters(filter.clone())
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| ctx.error("ssm", "DescribeParameters", path, e))?;
        token = page.next_token().map(str::to_string);
        out.extend(page.parameters.unwrap_or_default());
        if token.is_none() {
            return Ok(out);
        }
    }
}
