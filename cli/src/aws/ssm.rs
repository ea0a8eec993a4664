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

/// Writes a String parameter (overwriting); returns its new version.
pub async fn put_parameter(
    ctx: &AwsContext,
    name: &str,
    value: &str,
    description: &str,
) -> Result<i64> {
    let out = client(ctx)
        .put_parameter()
        .name(name)
        .description(description)
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| ctx.error("ssm", "PutParameter", name, e))?;
    Ok(out.version())
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
