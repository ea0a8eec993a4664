//! CloudFormation stack operations (network): read a stack, create or update it, and
//! wait for it to settle with adaptive polling.
//!
//! Template logic (rendering, parsing) lives in `render`; this module only talks to
//! CloudFormation.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Stack, StackStatus, Tag};
use aws_sdk_cloudformation::Client;

use crate::aws::AwsContext;
use crate::error::{Error, Result};

/// Reads a stack; `None` when it does not exist.
pub async fn describe(ctx: &AwsContext, cfn: &Client, name: &str) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(err)
            if err
                .as_service_error()
                .and_then(|e| e.message())
                .is_some_and(|m| m.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(err) => Err(ctx.error("cloudformation", "DescribeStacks", name, err)),
    }
}

/// What a create-or-update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    Created,
    Updated,
    UpToDate,
}

/// Creates the stack, or updates it when it exists; "no updates" is success.
pub async fn create_or_update(
    ctx: &AwsContext,
    cfn: &Client,
    name: &str,
    template: &str,
    tags: &[(String, String)],
    termination_protection: bool,
) -> Result<(Applied, Stack)> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let existing = describe(ctx, cfn, name).await?;
    let applied = match existing.as_ref().and_then(|s| s.stack_status()) {
        None => {
            cfn.create_stack()
                .stack_name(name)
                .template_body(template)
                .capabilities(Capability::CapabilityIam)
                .set_tags(Some(tags))
                .enable_termination_protection(termination_protection)
                .send()
                .await
                .map_err(|e| ctx.error("cloudformation", "CreateStack", name, e))?;
            Applied::Created
        }
        Some(status) if is_in_progress(status) => {
            return Err(Error::Aws {
                operation: "UpdateStack",
                target: name.to_string(),
                detail: format!("the stack is {status} and cannot be updated until that ends; run the command again once it has settled"),
            })
        }
        Some(_) if deployed_matches(ctx, cfn, name, template, &tags, existing.as_ref()).await? => {
            Applied::UpToDate
        }
        Some(_) => {
            let result = cfn
                .update_stack()
                .stack_name(name)
                .template_body(template)
                .capabilities(Capability::CapabilityIam)
                .set_tags(Some(tags))
                .send()
                .await;
            match result {
                Ok(_) => Applied::Updated,
                Err(err)
                    if err
                        .as_service_error()
                        .and_then(|e| e.message())
                        .is_some_and(|m| m.contains("No updates are to be performed")) =>
                {
                    Applied::UpToDate
                }
                Err(err) => return Err(ctx.error("cloudformation", "UpdateStack", name, err)),
            }
        }
    };
    let stack = match (applied, existing) {
        (Applied::UpToDate, Some(stack)) => stack,
        _ => wait_settled(ctx, cfn, name, Duration::from_secs(30 * 60)).await?,
    };
    let status = stack
        .stack_status()
        .cloned()
        .unwrap_or(StackStatus::CreateComplete);
    if !is_success(&status) {
        return Err(Error::Aws {
            operation: "stack operation",
            target: name.to_string(),
            detail: format!(
                "ended {status}: {}",
                stack.stack_status_reason().unwrap_or("no reason given")
            ),
        });
    }
    Ok((applied, stack))
}

/// Whether the stack already runs exactly this template with these tags: then there is
/// nothing to update, and no change set or update call is made.
async fn deployed_matches(
    ctx: &AwsContext,
    cfn: &Client,
    name: &str,
    template: &str,
    tags: &[Tag],
    stack: Option<&Stack>,
) -> Result<bool> {
    let Some(stack) = stack else {
        return Ok(false);
    };
    let mut want: Vec<(Option<&str>, Option<&str>)> =
        tags.iter().map(|t| (t.key(), t.value())).collect();
    let mut have: Vec<(Option<&str>, Option<&str>)> =
        stack.tags().iter().map(|t| (t.key(), t.value())).collect();
    want.sort();
    have.sort();
    if want != have {
        return Ok(false);
    }
    let deployed = cfn
        .get_template()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| ctx.error("cloudformation", "GetTemplate", name, e))?;
    Ok(deployed.template_body() == Some(template))
}

/// Polls until the stack is in no `*_IN_PROGRESS` state: fast at first, then slower,
/// with jitter; throttling only slows it down.
pub async fn wait_settled(
    ctx: &AwsContext,
    cfn: &Client,
    name: &str,
    limit: Duration,
) -> Result<Stack> {
    let start = Instant::now();
    let mut poll = Backoff::new();
    loop {
        match cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => {
                if let Some(stack) = out.stacks().first() {
                    if !stack.stack_status().is_some_and(is_in_progress) {
                        return Ok(stack.clone());
                    }
                }
                poll.step();
            }
            Err(err) if err.code().is_some_and(|c| c.contains("Throttl")) => poll.throttled(),
            Err(err) => return Err(ctx.error("cloudformation", "DescribeStacks", name, err)),
        }
        if start.elapsed() > limit {
            return Err(Error::Aws {
                operation: "waiting for the stack",
                target: name.to_string(),
                detail: format!("still in progress after {} s", limit.as_secs()),
            });
        }
        tokio::time::sleep(poll.delay()).await;
    }
}

pub fn is_in_progress(status: &StackStatus) -> bool {
    status.as_str().ends_with("_IN_PROGRESS")
}

pub fn is_success(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete
    )
}

/// Adaptive poll delay: starts at 250 ms, grows by half each step up to 5 s; a
/// throttled call doubles it up to 20 s. Up to 20% jitter keeps parallel pollers apart.
#[derive(Debug, Clone)]
pub struct Backoff {
    current: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(5);
    const MAX_THROTTLED: Duration = Duration::from_secs(20);

    pub fn new() -> Self {
        Backoff {
            current: Self::FIRST,
        }
    }

    pub fn step(&mut self) {
        self.current = (self.current * 3 / 2).min(Self::MAX);
    }

    pub fn throttled(&mut self) {
        self.current = (self.current * 2).min(Self::MAX_THROTTLED);
    }

    /// The next delay, with jitter from the clock's nanoseconds (no RNG needed).
    pub fn delay(&self) -> Duration {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = self.current.mul_f64(f64::from(nanos % 200) / 1000.0);
        self.current + jitter
    }

    pub fn base(&self) -> Duration {
        self.current
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_and_throttling_slows_further() {
        let mut b = Backoff::new();
        assert_eq!(b.base(), Duration::from_millis(250));
        b.step();
        assert_eq!(b.base(), Duration::from_millis(375));
        for _ in 0..20 {
            b.step();
        }
        assert_eq!(b.base(), Duration::from_secs(5));
        b.throttled();
        assert_eq!(b.base(), Duration::from_secs(10));
        for _ in 0..5 {
            b.throttled();
        }
        assert_eq!(b.base(), Duration::from_secs(20));
        let d = b.delay();
        assert!(
            d >= Duration::from_secs(20) && d < Duration::from_secs(24),
            "{d:?}"
        );
    }

    #[test]
    fn states() {
        assert!(is_in_progress(&StackStatus::UpdateRollbackInProgress));
        assert!(!is_in_progress(&StackStatus::UpdateRollbackFailed));
        assert!(is_success(&StackStatus::UpdateComplete));
        assert!(!is_success(&StackStatus::RollbackComplete));
    }
}
