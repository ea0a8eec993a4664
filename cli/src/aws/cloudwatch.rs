//! CloudWatch (metrics and alarms): which alarms of a stack are firing, and the
//! capabilities' metrics over a time range.

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

/// One metric to read: `namespace`/`name` with its dimensions, one statistic (`Sum`,
/// `p95`) per `period_seconds`.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    /// The query's id: lower-case letters, digits and `_`, starting with a letter.
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
    pub period_seconds: i32,
}

/// What GetMetricData answered for one query: its datapoints, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSeries {
    pub id: String,
    /// Seconds since the epoch, each the start of its period.
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// `Complete`, or `PartialData` when CloudWatch had more than it sent back.
    pub status: String,
}

/// Every query's datapoints between `start` and `end` (seconds since the epoch), all
/// pages of one GetMetricData request.
pub async fn metric_data(
    ctx: &AwsContext,
    queries: &[MetricQuery],
    start: i64,
    end: i64,
    target: &str,
) -> Result<Vec<MetricSeries>> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
    use aws_smithy_types::DateTime;
    let data_queries: Vec<MetricDataQuery> = queries
        .iter()
        .map(|q| {
            let metric = Metric::builder()
                .namespace(&q.namespace)
                .metric_name(&q.name)
                .set_dimensions(Some(
                    q.dimensions
                        .iter()
                        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                        .collect(),
                ))
                .build();
            MetricDataQuery::builder()
                .id(&q.id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(q.period_seconds)
                        .stat(&q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut series: Vec<MetricSeries> = queries
        .iter()
        .map(|q| MetricSeries {
            id: q.id.clone(),
            status: "Complete".into(),
            ..MetricSeries::default()
        })
        .collect();
    let mut token: Option<String> = None;
    loop {
        let page = client(ctx)
            .get_metric_data()
            .set_metric_data_queries(Some(data_queries.clone()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| ctx.error("cloudwatch", "GetMetricData", target, e))?;
        for result in page.metric_data_results() {
            let Some(s) = series
                .iter_mut()
                .find(|s| Some(s.id.as_str()) == result.id())
            else {
                continue;
            };
            s.timestamps
                .extend(result.timestamps().iter().map(|t| t.secs()));
            s.values.extend(result.values().iter().copied());
            if let Some(code) = result.status_code() {
                if code.as_str() != "Complete" {
                    s.status = code.as_str().to_string();
                }
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    // Oldest first, whatever order the pages came in.
    for s in &mut series {
        let mut points: Vec<(i64, f64)> = s
            .timestamps
            .iter()
            .copied()
            .zip(s.values.iter().copied())
            .collect();
        points.sort_by_key(|p| p.0);
        (s.timestamps, s.values) = points.into_iter().unzip();
    }
    Ok(series)
}
