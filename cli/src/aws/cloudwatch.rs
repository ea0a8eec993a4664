//! CloudWatch (metrics and alarms): which alarms of a stack are firing.

use super::AwsContext;
use crate::error::Result;

fn client(ctx: &AwsContext) -> &aws_sdk_cloudwatch::Client {
    super::sdk_client!(ctx, cloudwatch, aws_sdk_cloudwatch, "cloudwatch")
}

/// The names of the alarms starting with `prefix` that are in ALARM.
pub async fn alarms_in_alarm(ctx: &AwsContext, prefix: &str, target: &str) -> Result<Vec<String>> {
    let out = client(ctx)
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .send()
        .await
        .map_err(|e| ctx.error("cloudwatch", "DescribeAlarms", target, e))?;
    Ok(out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect())
}
