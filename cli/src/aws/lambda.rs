//! Lambda: versions, the alias, the alias's resource policy, and a function's code.

use aws_sdk_lambda::operation::get_alias::GetAliasOutput;
use aws_sdk_lambda::types::AliasRoutingConfiguration;

use super::AwsContext;
use crate::error::{Error, Result};

fn client(ctx: &AwsContext) -> &aws_sdk_lambda::Client {
    super::sdk_client!(ctx, lambda, aws_sdk_lambda, "lambda")
}

fn not_found<E: aws_sdk_lambda::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

/// The alias, `None` when it (or the function) does not exist.
pub async fn get_alias(
    ctx: &AwsContext,
    function: &str,
    alias: &str,
) -> Result<Option<GetAliasOutput>> {
    match client(ctx)
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(err) if err.as_service_error().is_some_and(not_found) => Ok(None),
        Err(err) => Err(ctx.error("lambda", "GetAlias", &format!("{function}:{alias}"), err)),
    }
}

/// Points an existing alias at `version`, with `extra` (version, weight) as its only
/// additional routing weight (none: all traffic on `version`).
pub async fn update_alias(
    ctx: &AwsContext,
    function: &str,
    alias: &str,
    version: &str,
    extra: Option<(&str, f64)>,
) -> Result<()> {
    let mut routing = AliasRoutingConfiguration::builder();
    if let Some((v, w)) = extra {
        routing = routing.additional_version_weights(v, w);
    }
    client(ctx)
        .update_alias()
        .function_name(function)
        .name(alias)
        .function_version(version)
        .routing_config(routing.build())
        .send()
        .await
        .map_err(|e| ctx.error("lambda", "UpdateAlias", &format!("{function}:{alias}"), e))?;
    Ok(())
}

/// Creates the alias on `version`.
pub async fn create_alias(
    ctx: &AwsContext,
    function: &str,
    alias: &str,
    version: &str,
    description: &str,
) -> Result<()> {
    client(ctx)
        .create_alias()
        .function_name(function)
        .name(alias)
        .function_version(version)
        .description(description)
        .send()
        .await
        .map_err(|e| ctx.error("lambda", "CreateAlias", &format!("{function}:{alias}"), e))?;
    Ok(())
}

/// What PublishVersion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Version(String),
    /// The precondition failed: the function runs other code than `code_sha256`.
    OtherCode,
}

/// Publishes a version of the function's current code and configuration, if its code
/// is `code_sha256`.
pub async fn publish_version(
    ctx: &AwsContext,
    function: &str,
    code_sha256: &str,
    description: &str,
) -> Result<Published> {
    let out = client(ctx)
        .publish_version()
        .function_name(function)
        .code_sha256(code_sha256)
        .description(description)
        .send()
        .await;
    match out {
        Ok(out) => out
            .version()
            .map(|v| Published::Version(v.to_string()))
            .ok_or_else(|| Error::Aws {
                operation: "PublishVersion",
                target: function.to_string(),
                detail: "the answer names no version".into(),
            }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_precondition_failed_exception()) =>
        {
            Ok(Published::OtherCode)
        }
        Err(e) => Err(ctx.error("lambda", "PublishVersion", function, e)),
    }
}

/// The resource policy of `function:qualifier` as JSON text, `None` when it has none.
pub async fn get_policy(
    ctx: &AwsContext,
    function: &str,
    qualifier: &str,
) -> Result<Option<String>> {
    match client(ctx)
        .get_policy()
        .function_name(function)
        .qualifier(qualifier)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(err) if err.as_service_error().is_some_and(not_found) => Ok(None),
        Err(err) => Err(ctx.error(
            "lambda",
            "GetPolicy",
            &format!("{function}:{qualifier}"),
            err,
        )),
    }
}

/// Removes one statement of `function:qualifier`'s resource policy.
pub async fn remove_permission(
    ctx: &AwsContext,
    function: &str,
    qualifier: &str,
    sid: &str,
) -> Result<()> {
    client(ctx)
        .remove_permission()
        .function_name(function)
        .qualifier(qualifier)
        .statement_id(sid)
        .send()
        .await
        .map_err(|e| {
            ctx.error(
                "lambda",
                "RemovePermission",
                &format!("{function}:{qualifier}"),
                e,
            )
        })?;
    Ok(())
}

/// Lets `principal` invoke `function:qualifier` from `source_arn`.
pub async fn add_invoke_permission(
    ctx: &AwsContext,
    function: &str,
    qualifier: &str,
    sid: &str,
    principal: &str,
    source_arn: &str,
) -> Result<()> {
    client(ctx)
        .add_permission()
        .function_name(function)
        .qualifier(qualifier)
        .statement_id(sid)
        .action("lambda:InvokeFunction")
        .principal(principal)
        .source_arn(source_arn)
        .send()
        .await
        .map_err(|e| {
            ctx.error(
                "lambda",
                "AddPermission",
                &format!("{function}:{qualifier}"),
                e,
            )
        })?;
    Ok(())
}

/// Replaces the function's code with the zip at `s3://bucket/key`; returns the
/// CodeSha256 Lambda computed for it and where the update stands (usually
/// `InProgress` on AWS).
pub async fn update_function_code(
    ctx: &AwsContext,
    function: &str,
    bucket: &str,
    key: &str,
) -> Result<CodeState> {
    let out = client(ctx)
        .update_function_code()
        .function_name(function)
        .s3_bucket(bucket)
        .s3_key(key)
        .send()
        .await
        .map_err(|e| ctx.error("lambda", "UpdateFunctionCode", function, e))?;
    Ok(CodeState {
        code_sha256: out.code_sha256().unwrap_or_default().to_string(),
        last_update: out.last_update_status().map(|s| s.as_str().to_string()),
        reason: out.last_update_status_reason().map(str::to_string),
    })
}

/// The state of a function's unpublished code (`$LATEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeState {
    pub code_sha256: String,
    /// `Successful`, `InProgress` or `Failed` (Lambda's LastUpdateStatus); `None` when
    /// the answer has none (an emulator that updates at once).
    pub last_update: Option<String>,
    pub reason: Option<String>,
}

/// The CodeSha256 and update status of the function's `$LATEST`, `None` when there
/// is no such function.
pub async fn code_state(ctx: &AwsContext, function: &str) -> Result<Option<CodeState>> {
    match client(ctx)
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Ok(Some(CodeState {
            code_sha256: out.code_sha256().unwrap_or_default().to_string(),
            last_update: out.last_update_status().map(|s| s.as_str().to_string()),
            reason: out.last_update_status_reason().map(str::to_string),
        })),
        Err(err) if err.as_service_error().is_some_and(not_found) => Ok(None),
        Err(err) => Err(ctx.error("lambda", "GetFunctionConfiguration", function, err)),
    }
}

/// The account's concurrency in this region: its limit, and what no function reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountConcurrency {
    pub limit: i32,
    pub unreserved: i32,
}

/// GetAccountSettings: the account's concurrent-executions limit and the part of it no
/// function has reserved.
pub async fn account_concurrency(ctx: &AwsContext) -> Result<AccountConcurrency> {
    let out = client(ctx)
        .get_account_settings()
        .send()
        .await
        .map_err(|e| {
            ctx.error(
                "lambda",
                "GetAccountSettings",
                "the account's Lambda settings",
                e,
            )
        })?;
    let limit = out.account_limit();
    let total = limit.map_or(0, |l| l.concurrent_executions());
    Ok(AccountConcurrency {
        limit: total,
        unreserved: limit
            .and_then(|l| l.unreserved_concurrent_executions())
            .unwrap_or(total),
    })
}
