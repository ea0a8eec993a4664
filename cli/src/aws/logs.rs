//! CloudWatch Logs: pages of a log group's events.

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;

use super::AwsContext;
use crate::error::Result;

fn client(ctx: &AwsContext) -> &aws_sdk_cloudwatchlogs::Client {
    super::sdk_client!(
        ctx,
        logs,
        aws_sdk_cloudwatchlogs,
        "logs",
        super::CallKind::Scan
    )
}

/// One page of FilterLogEvents.
#[derive(Debug, Default)]
pub struct Page {
    pub events: Vec<FilteredLogEvent>,
    pub next_token: Option<String>,
}

/// A page of `group`'s events from `start_ms` on, or `None` when the group does not
/// exist (yet). Throttling is an error for which [`crate::error::Error::is_throttling`] holds.
pub async fn filter_log_events(
    ctx: &AwsContext,
    group: &str,
    start_ms: i64,
    filter: Option<&str>,
    token: Option<String>,
) -> Result<Option<Page>> {
    let result = client(ctx)
        .filter_log_events()
        .log_group_name(group)
        .start_time(start_ms)
        .set_filter_pattern(filter.map(str::to_string))
        .set_next_token(token)
        .send()
        .await;
    match result {
        Ok(page) => Ok(Some(Page {
            next_token: page.next_token().map(str::to_string),
            events: page.events.unwrap_or_default(),
        })),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ctx.error("logs", "FilterLogEvents", group, err)),
    }
}

/// Whether the log group `name` exists (DescribeLogGroups by prefix, exact match).
pub async fn log_group_exists(ctx: &AwsContext, name: &str) -> Result<bool> {
    let out = client(ctx)
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| ctx.error("logs", "DescribeLogGroups", name, e))?;
    Ok(out
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(name)))
}
