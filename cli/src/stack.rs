//! CloudFormation stack operations: read a stack, create or update it, wait for it to
//! settle with adaptive polling, follow its events, make change sets.
//!
//! Template logic (rendering, parsing) lives in `render`; the calls themselves are in
//! [`crate::aws::cloudformation`]; this module strings them together.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{
    ChangeSetStatus, ChangeSetType, Stack, StackEvent, StackStatus,
};
use serde::Serialize;

use crate::aws::cloudformation::{self as cfn, StackInput};
use crate::aws::AwsContext;
use crate::error::{Error, Result};

/// Reads a stack; `None` when it does not exist.
pub async fn describe(ctx: &AwsContext, name: &str) -> Result<Option<Stack>> {
    cfn::describe_stack(ctx, name).await
}

/// What a create-or-update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    Created,
    Updated,
    UpToDate,
}

/// Creates the stack, or updates it when it exists; "no updates" is success.
pub async fn create_or_update(
    ctx: &AwsContext,
    name: &str,
    template: &str,
    stack_tags: &std::collections::BTreeMap<String, String>,
    termination_protection: bool,
    policy: Option<&str>,
) -> Result<(Applied, Stack)> {
    let existing = describe(ctx, name).await?;
    let no_params = Default::default();
    let input = StackInput {
        name,
        template,
        params: &no_params,
        tags: stack_tags,
        termination_protection,
        policy,
        express: false,
    };
    let applied = match existing.as_ref().and_then(|s| s.stack_status()) {
        None => {
            cfn::create_stack(ctx, &input).await?;
            Applied::Created
        }
        Some(status) if is_in_progress(status) => {
            return Err(Error::Aws {
                operation: "UpdateStack",
                target: name.to_string(),
                detail: format!("the stack is {status} and cannot be updated until that ends; run the command again once it has settled"),
            })
        }
        Some(_) if deployed_matches(ctx, name, template, stack_tags, existing.as_ref()).await? => {
            Applied::UpToDate
        }
        Some(_) if cfn::update_stack(ctx, &input, None).await? => Applied::Updated,
        Some(_) => Applied::UpToDate,
    };
    let stack = match (applied, existing) {
        (Applied::UpToDate, Some(stack)) => stack,
        _ => wait_settled(ctx, name, Duration::from_secs(30 * 60)).await?,
    };
    let status = require_status(&stack, name)?;
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

/// A stack's status; a stack read without one is an error (never taken for a
/// success).
pub fn require_status(stack: &Stack, name: &str) -> Result<StackStatus> {
    stack.stack_status().cloned().ok_or_else(|| Error::Aws {
        operation: "DescribeStacks",
        target: name.to_string(),
        detail: "the answer has no StackStatus, so the stack's state is unknown; run the command again, and report it if it persists".into(),
    })
}

/// Whether the stack already runs exactly this template with these tags: then there is
/// nothing to update, and no change set or update call is made.
async fn deployed_matches(
    ctx: &AwsContext,
    name: &str,
    template: &str,
    stack_tags: &std::collections::BTreeMap<String, String>,
    stack: Option<&Stack>,
) -> Result<bool> {
    let Some(stack) = stack else {
        return Ok(false);
    };
    if tag_values(stack) != *stack_tags {
        return Ok(false);
    }
    Ok(template_body(ctx, name).await? == template)
}

/// Polls until the stack is in no `*_IN_PROGRESS` state: fast at first, then slower,
/// with jitter; throttling only slows it down.
pub async fn wait_settled(ctx: &AwsContext, name: &str, limit: Duration) -> Result<Stack> {
    let start = Instant::now();
    let mut poll = Backoff::new();
    loop {
        match cfn::describe_stack(ctx, name).await {
            Ok(Some(stack)) => {
                if !stack.stack_status().is_some_and(is_in_progress) {
                    return Ok(stack);
                }
                poll.step();
            }
            Ok(None) => {
                return Err(Error::Aws {
                    operation: "DescribeStacks",
                    target: name.to_string(),
                    detail: format!("Stack with id {name} does not exist"),
                })
            }
            Err(err) if err.is_throttling() => poll.throttled(),
            Err(err) => return Err(err),
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

/// What a deploy does with the stack it found, decided from its status alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state", content = "status")]
pub enum StackState {
    /// No stack: create it.
    Missing,
    /// Settled and updatable.
    Ready(String),
    /// An operation is running: wait for it (or stop with `--no-wait`).
    InProgress(String),
    /// A stack that never got resources (a failed first create, an unexecuted
    /// change set): delete it and create it again.
    RecreateEmpty(String),
    /// A state no update can start from; the string says how to get out of it.
    Stuck { status: String, help: String },
}

/// Classifies a stack status for `capability` in `env` (used in the help it gives).
pub fn classify(status: Option<&StackStatus>, capability: &str, env: &str) -> StackState {
    let Some(status) = status else {
        return StackState::Missing;
    };
    let s = status.as_str().to_string();
    match status {
        _ if is_in_progress(status) && *status != StackStatus::ReviewInProgress => {
            StackState::InProgress(s)
        }
        StackStatus::RollbackComplete | StackStatus::ReviewInProgress => {
            StackState::RecreateEmpty(s)
        }
        StackStatus::UpdateRollbackFailed => StackState::Stuck {
            status: s,
            help: format!(
                "the last update could not be rolled back; run `stackpro rollback {capability} --env {env}` \
                 to continue the rollback (ContinueUpdateRollback), then deploy again"
            ),
        },
        StackStatus::RollbackFailed => StackState::Stuck {
            status: s,
            help: format!(
                "the first create failed and could not be cleaned up; fix or delete the resources named in \
                 the stack's events, then run `stackpro destroy {capability} --env {env}` and deploy again"
            ),
        },
        StackStatus::DeleteFailed => StackState::Stuck {
            status: s,
            help: format!(
                "a delete failed part way; run `stackpro destroy {capability} --env {env}` again once the \
                 resources named in the stack's events can be deleted"
            ),
        },
        StackStatus::DeleteComplete => StackState::Missing,
        StackStatus::ImportRollbackFailed | StackStatus::UpdateFailed | StackStatus::CreateFailed => {
            StackState::Stuck {
                status: s,
                help: "the stack needs a person: read its events (`stackpro status`) and repair it in the CloudFormation console".into(),
            }
        }
        _ => StackState::Ready(s),
    }
}

/// A stack event as reported to people and programs.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct Event {
    pub event_id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event {
    pub fn from_sdk(e: &StackEvent) -> Self {
        Event {
            event_id: e.event_id().unwrap_or_default().to_string(),
            timestamp: e
                .timestamp()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                .unwrap_or_default(),
            logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            status: e
                .resource_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: e
                .resource_status_reason()
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }

    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// A resource that failed, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Failure {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

/// Reasons that only echo another failure: never the cause.
const ECHO_REASONS: &[&str] = &[
    "Resource creation cancelled",
    "Resource update cancelled",
    "Rollback requested by user",
    "Resource handler returned message: \"null\"",
];

/// The resources that failed in `events` (oldest first), with their own reason, not the
/// echoes ("Resource creation cancelled", "Rollback requested by user"). The stack's own
/// failure is reported only when no resource failure says more.
pub fn failures(events: &[Event]) -> Vec<Failure> {
    let to_failure = |e: &Event| Failure {
        logical_id: e.logical_id.clone(),
        resource_type: e.resource_type.clone(),
        status: e.status.clone(),
        reason: e.reason.clone().unwrap_or_else(|| "no reason given".into()),
    };
    let is_echo = |e: &Event| {
        e.reason
            .as_deref()
            .is_some_and(|r| ECHO_REASONS.iter().any(|echo| r.starts_with(echo)))
    };
    let mut seen = std::collections::BTreeSet::new();
    let resources: Vec<Failure> = events
        .iter()
        .filter(|e| e.is_failure() && !e.is_stack() && !is_echo(e))
        .filter(|e| seen.insert((e.logical_id.clone(), e.status.clone())))
        .map(to_failure)
        .collect();
    if !resources.is_empty() {
        return resources;
    }
    events
        .iter()
        .filter(|e| e.is_failure() && !is_echo(e))
        .map(to_failure)
        .collect()
}

/// The failed resources of the stack's last operation (events since it began), for a
/// stack found in a failed state; what cannot be read is an empty list.
pub async fn last_operation_failures(ctx: &AwsContext, found: &Stack) -> Vec<Failure> {
    let name = found.stack_id().or(found.stack_name()).unwrap_or_default();
    let began = found
        .last_updated_time()
        .or(found.creation_time())
        .cloned()
        .unwrap_or(aws_smithy_types::DateTime::from_secs(0));
    events_since(ctx, name, &began, &Default::default())
        .await
        .map(|events| failures(&events))
        .unwrap_or_default()
}

/// The stack events newer than `since` (an RFC 3339 time, exclusive) and not in
/// `seen`, oldest first. Reads pages newest-first and stops at the first older event.
pub async fn events_since(
    ctx: &AwsContext,
    name: &str,
    since: &aws_smithy_types::DateTime,
    seen: &std::collections::HashSet<String>,
) -> Result<Vec<Event>, EventsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    'pages: loop {
        let (events, next) = match cfn::stack_events(ctx, name, token.take()).await {
            Ok(page) => page,
            Err(err) if err.is_throttling() => return Err(EventsError::Throttled),
            Err(err) => return Err(EventsError::Other(err)),
        };
        for e in &events {
            if e.timestamp()
                .is_some_and(|t| t.as_nanos() < since.as_nanos())
            {
                break 'pages;
            }
            let id = e.event_id().unwrap_or_default();
            if seen.contains(id) {
                continue;
            }
            out.push(Event::from_sdk(e));
        }
        token = next;
        if token.is_none() {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Where a watch starts: events at or after `since` that are not in `seen` are new.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub since: aws_smithy_types::DateTime,
    pub seen: std::collections::HashSet<String>,
}

impl Baseline {
    /// A stack with no history worth skipping (a new stack).
    pub fn everything() -> Self {
        Baseline {
            since: aws_smithy_types::DateTime::from_secs(0),
            seen: Default::default(),
        }
    }

    /// The stack's newest events, read before an operation starts, so only the
    /// operation's own events are shown (without trusting this machine's clock).
    pub async fn read(ctx: &AwsContext, name: &str) -> Result<Self> {
        let (events, _) = cfn::stack_events(ctx, name, None).await?;
        Ok(Baseline {
            since: events
                .first()
                .and_then(|e| e.timestamp().cloned())
                .unwrap_or(aws_smithy_types::DateTime::from_secs(0)),
            seen: events
                .iter()
                .filter_map(|e| e.event_id().map(str::to_string))
                .collect(),
        })
    }
}

/// Why reading events did not work this time.
#[derive(Debug)]
pub enum EventsError {
    /// Slow down and try again.
    Throttled,
    Other(Error),
}

/// How a watched operation ended.
#[derive(Debug, Clone)]
pub struct Watched {
    pub stack: Stack,
    pub events: Vec<Event>,
}

/// Follows a stack operation started at `since` until it settles: every new event goes
/// to `on_event` as it appears. Polls adaptively (fast at first, slower later, jitter);
/// throttling only slows it down.
pub async fn watch(
    ctx: &AwsContext,
    name: &str,
    baseline: Baseline,
    limit: Duration,
    on_event: &(dyn Fn(&Event) + Sync),
) -> Result<Watched> {
    let start = Instant::now();
    let mut poll = Backoff::new();
    let Baseline { since, mut seen } = baseline;
    let mut all = Vec::new();
    loop {
        let mut throttled = false;
        match events_since(ctx, name, &since, &seen).await {
            Ok(events) => {
                for e in events {
                    seen.insert(e.event_id.clone());
                    on_event(&e);
                    all.push(e);
                }
            }
            Err(EventsError::Throttled) => throttled = true,
            Err(EventsError::Other(err)) => return Err(err),
        }
        if !throttled {
            match cfn::describe_stack(ctx, name).await {
                Ok(Some(stack)) if !stack.stack_status().is_some_and(is_in_progress) => {
                    // Events written between the last read and the end.
                    if let Ok(events) = events_since(ctx, name, &since, &seen).await {
                        for e in events {
                            on_event(&e);
                            all.push(e);
                        }
                    }
                    return Ok(Watched { stack, events: all });
                }
                Ok(_) => {}
                Err(err) if err.is_throttling() => throttled = true,
                Err(err) => return Err(err),
            }
        }
        if throttled {
            poll.throttled();
        } else {
            poll.step();
        }
        if start.elapsed() > limit {
            return Err(Error::Aws {
                operation: "waiting for the stack",
                target: name.to_string(),
                detail: format!(
                    "still in progress after {} s; it goes on in CloudFormation: follow it with `stackpro status`",
                    limit.as_secs()
                ),
            });
        }
        tokio::time::sleep(poll.delay()).await;
    }
}

/// A change set's view of one resource change.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ChangeSetChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` (CloudFormation's words); `None` for adds and removes.
    pub replacement: Option<String>,
    /// The properties the change set says change.
    pub properties: Vec<String>,
}

/// A created change set: its id and what it would do (empty when it found no changes).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    pub changes: Vec<ChangeSetChange>,
    /// CloudFormation said there is nothing to change (the change set is deleted).
    pub empty: bool,
}

/// Creates an UPDATE change set and waits for it to be ready. A change set with no
/// changes is deleted and reported `empty`: an empty change set is a success.
pub async fn create_change_set(ctx: &AwsContext, input: &StackInput<'_>) -> Result<ChangeSet> {
    change_set_of(ctx, input, ChangeSetType::Update, &[]).await
}

/// An IMPORT change set that creates the stack from `imports` (existing resources,
/// `input.template` holding only them), ready to execute.
pub async fn create_import_change_set(
    ctx: &AwsContext,
    input: &StackInput<'_>,
    imports: &[crate::planner::Importable],
) -> Result<ChangeSet> {
    change_set_of(ctx, input, ChangeSetType::Import, imports).await
}

async fn change_set_of(
    ctx: &AwsContext,
    input: &StackInput<'_>,
    kind: ChangeSetType,
    imports: &[crate::planner::Importable],
) -> Result<ChangeSet> {
    let stack = input.name;
    let name = format!(
        "stackpro-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let id = cfn::create_change_set(ctx, input, &name, kind, imports).await?;
    let mut poll = Backoff::new();
    let start = Instant::now();
    loop {
        let described = match cfn::describe_change_set(ctx, stack, &id).await {
            Ok(d) => d,
            Err(err) if err.is_throttling() => {
                poll.throttled();
                tokio::time::sleep(poll.delay()).await;
                continue;
            }
            Err(err) => return Err(err),
        };
        match described.status() {
            // Change sets list pages of 100 changes; ours are far smaller, and a larger
            // one is still executed whole. A ready change set is not empty:
            // CloudFormation fails one that has nothing to change (below).
            Some(ChangeSetStatus::CreateComplete) => {
                return Ok(ChangeSet {
                    id,
                    name,
                    changes: change_set_changes(&described),
                    empty: false,
                });
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or("no reason given");
                if reason.contains("didn't contain changes")
                    || reason.contains("No updates are to be performed")
                {
                    cfn::delete_change_set(ctx, stack, &id).await?;
                    return Ok(ChangeSet {
                        id,
                        name,
                        changes: Vec::new(),
                        empty: true,
                    });
                }
                let _ = cfn::delete_change_set(ctx, stack, &id).await;
                return Err(Error::Aws {
                    operation: "CreateChangeSet",
                    target: stack.to_string(),
                    detail: format!("the change set failed: {reason}"),
                });
            }
            _ => poll.step(),
        }
        if start.elapsed() > Duration::from_secs(10 * 60) {
            return Err(Error::Aws {
                operation: "CreateChangeSet",
                target: stack.to_string(),
                detail: "the change set was not ready after 10 minutes".into(),
            });
        }
        tokio::time::sleep(poll.delay()).await;
    }
}

/// The resource changes a described change set lists.
fn change_set_changes(
    described: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> Vec<ChangeSetChange> {
    described
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|rc| ChangeSetChange {
            action: rc
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: rc.resource_type().unwrap_or_default().to_string(),
            replacement: rc.replacement().map(|r| r.as_str().to_string()),
            properties: rc
                .details()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.name()))
                .map(str::to_string)
                .collect(),
        })
        .collect()
}

pub async fn delete_change_set(ctx: &AwsContext, stack: &str, id: &str) -> Result<()> {
    cfn::delete_change_set(ctx, stack, id).await
}

/// The stack's outputs as a map.
pub fn outputs(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect()
}

/// The stack's parameters as a map.
pub fn parameter_values(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect()
}

/// The stack's tags as a map.
pub fn tag_values(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    stack
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// The deployed template's text (empty when the stack does not exist).
pub async fn template_body(ctx: &AwsContext, name: &str) -> Result<String> {
    Ok(cfn::get_template(ctx, name).await?.unwrap_or_default())
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

    #[test]
    fn every_state_a_deploy_can_meet_has_an_action() {
        let c = |s: StackStatus| classify(Some(&s), "messaging", "sandbox");
        assert_eq!(classify(None, "m", "e"), StackState::Missing);
        assert_eq!(
            c(StackStatus::UpdateComplete),
            StackState::Ready("UPDATE_COMPLETE".into())
        );
        assert_eq!(
            c(StackStatus::UpdateRollbackComplete),
            StackState::Ready("UPDATE_ROLLBACK_COMPLETE".into())
        );
        assert_eq!(
            c(StackStatus::UpdateInProgress),
            StackState::InProgress("UPDATE_IN_PROGRESS".into())
        );
        assert_eq!(
            c(StackStatus::RollbackComplete),
            StackState::RecreateEmpty("ROLLBACK_COMPLETE".into())
        );
        assert_eq!(
            c(StackStatus::ReviewInProgress),
            StackState::RecreateEmpty("REVIEW_IN_PROGRESS".into())
        );
        match c(StackStatus::UpdateRollbackFailed) {
            StackState::Stuck { help, .. } => {
                assert!(
                    help.contains("stackpro rollback messaging --env sandbox"),
                    "{help}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c(StackStatus::DeleteFailed),
            StackState::Stuck { .. }
        ));
    }
}
