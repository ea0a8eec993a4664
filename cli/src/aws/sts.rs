//! STS: who the credentials belong to, and the account pin of an environment.

use serde::Serialize;

use super::AwsContext;
use crate::config::EnvConfig;
use crate::error::Error;

fn client(ctx: &AwsContext) -> &aws_sdk_sts::Client {
    super::sdk_client!(ctx, sts, aws_sdk_sts, "sts")
}

/// Who the credentials belong to.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// Asks STS who the credentials belong to.
pub async fn caller_identity(ctx: &AwsContext) -> Result<CallerIdentity, Error> {
    let out = client(ctx)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| ctx.error("sts", "GetCallerIdentity", "the current credentials", e))?;
    Ok(CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// Refuses credentials for another account than the environment pins.
pub fn check_account(env: &EnvConfig, identity: &CallerIdentity) -> Result<(), Error> {
    match &env.account_id {
        Some(expected) if *expected != identity.account => Err(Error::WrongAccount {
            environment: env.name.clone(),
            expected: expected.clone(),
            actual: identity.account.clone(),
        }),
        _ => Ok(()),
    }
}
