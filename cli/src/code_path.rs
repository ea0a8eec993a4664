//! The code-only fast path, `stackpro deploy CAP --env E --code`: when only the
//! handler's code changed, ship it through the Lambda API (UpdateFunctionCode,
//! PublishVersion with the CodeSha256 precondition, the `live` alias), without
//! CloudFormation. The runbook's steps 1 to 5 are shared with a full deploy; then:
//!
//! 6c. check that the stack exists, is settled, and that nothing but the artifact
//!     differs ([`planner::code_only_blockers`]): otherwise refused, exit 2, naming
//!     the changes;
//! 9c. UpdateFunctionCode from the stored artifact, waited for until Lambda says
//!     `Successful`;
//! 10. publish the version and point `live` at it (as a full deploy does);
//! 11. record it as its own kind ([`record::DeploymentKind::Code`]), so the next full deploy says
//!     that CloudFormation's view was behind and what it reconciles, and `status`
//!     shows it.
//!
//! Allowed per environment (`fast_paths: [code]` in the env file); production allows
//! none unless its file says so.

use std::time::{Duration, Instant};

use crate::aws::lambda;
use crate::build::Artifact;
use crate::config::{Capability, EnvConfig, FastPath};
use crate::deploy::{self, Decision, Outcome, Shared};
use crate::error::{Error, Result};
use crate::planner::{self, Deployed, Desired, ARTIFACT_KEY};
use crate::record::{self, Deployment};
use crate::release;
use crate::render::{Rendered, LIVE_ALIAS};
use crate::stack;

/// Refuses `--code` in an environment whose file does not allow it.
pub fn check_allowed(env: &EnvConfig) -> Result<()> {
    if env.fast_paths.contains(&FastPath::Code) {
        return Ok(());
    }
    Err(Error::Config {
        message: format!(
            "environment {} does not allow the code-only path (`fast_paths` in {} does not list `code`)",
            env.name,
            env.file.display()
        ),
        help: Some(format!(
            "deploy without --code (through CloudFormation), or add `fast_paths: [code]` to {} if this environment may skip it",
            env.file.display()
        )),
    })
}

/// Steps 5 to 11 of the code path for one capability, on what step 4 read.
pub async fn ship(
    shared: &Shared,
    capability: &Capability,
    rendered: &Rendered,
    artifact: &Artifact,
    reads: deploy::Reads,
) -> Result<Outcome> {
    let start = Instant::now();
    let (ctx, cap, name) = (
        &shared.ctx,
        capability.name.as_str(),
        rendered.stack_name.as_str(),
    );
    // 5. The same package step as a full deploy.
    let (key, code_sha256) = deploy::package(shared, artifact, reads.stored.as_ref()).await?;
    let params = [
        ("ArtifactBucket".to_string(), shared.bucket.clone()),
        (ARTIFACT_KEY.to_string(), key.clone()),
    ]
    .into();
    let tags = deploy::stack_tags(&shared.env, cap);
    let fingerprint = deploy::fingerprint(&rendered.template, &params, &tags);
    // 6c. Only the code may differ from what the stack runs.
    let stack = settled_stack(shared, cap, name, reads.stack)?;
    let deployed = Deployed {
        template: reads.template.unwrap_or_default(),
        params: stack::parameter_values(&stack),
        tags: stack::tag_values(&stack),
    };
    let desired = Desired {
        stack_name: name,
        template: &rendered.template,
        template_value: &rendered.template_value,
        params: &params,
        tags: &tags,
        fingerprint: &fingerprint,
    };
    let blockers = planner::code_only_blockers(&deployed, &desired)?;
    if !blockers.is_empty() {
        return Err(Error::Config {
            message: format!(
                "{cap}: more than the code changed, so --code cannot ship it: {}",
                blockers.join("; ")
            ),
            help: Some(format!(
                "deploy without --code: `stackpro deploy {cap} --env {}`",
                shared.env.name
            )),
        });
    }
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let mut outcome = Outcome {
        success: true,
        outputs: stack::outputs(&stack),
        ..Outcome::new(cap, name, Decision::Code, status)
    };
    let live = reads.live.filter(|l| l.canary.is_none());
    if let (Some(prev), Some(live)) = (&reads.previous, &live) {
        if prev.is_release_of_fingerprint()
            && prev.fingerprint == fingerprint
            && prev.function_version == live.version
        {
            outcome.decision = Decision::UpToDate;
            outcome.function_version = Some(live.version.clone());
            outcome.deployment = prev.number;
            outcome.duration_ms = start.elapsed().as_millis();
            return Ok(outcome);
        }
    }
    // 9c. The code, then 10. a version of exactly it on `live`.
    update_code(shared, cap, name, &key, &code_sha256).await?;
    let version = release::publish_version(ctx, name, &code_sha256, &fingerprint).await?;
    shared
        .progress
        .step(cap, &format!("pointing {LIVE_ALIAS} at version {version}"));
    let source_arn = stack::outputs(&stack)
        .get("ApiId")
        .map(|api_id| release::api_source_arn(&ctx.region, &shared.identity.account, api_id));
    release::go_live(ctx, name, live.as_ref(), &version, source_arn.as_deref()).await?;
    // 11. Its own kind of record.
    let deployment = Deployment {
        time: record::now_rfc3339(),
        actor: shared.identity.arn.clone(),
        git_commit: shared.git_commit.clone(),
        artifact_sha256: artifact.binary_sha256.clone(),
        artifact_key: key,
        code_sha256,
        template_sha256: rendered.template_sha256(),
        fingerprint,
        function_version: version.clone(),
        kind: record::DeploymentKind::Code,
        number: None,
    };
    outcome.deployment = Some(record::write(ctx, &shared.env.name, cap, &deployment).await?);
    outcome.function_version = Some(version);
    outcome.notes.push(
        "the stack still names the previous artifact: the next full deploy brings it up to date"
            .into(),
    );
    outcome.duration_ms = start.elapsed().as_millis();
    Ok(outcome)
}

/// The stack the code path updates: it must exist and be settled.
fn settled_stack(
    shared: &Shared,
    cap: &str,
    name: &str,
    found: Option<aws_sdk_cloudformation::types::Stack>,
) -> Result<aws_sdk_cloudformation::types::Stack> {
    let env = &shared.env.name;
    let Some(found) = found else {
        return Err(Error::Config {
            message: format!(
                "{cap}: stack {name} does not exist, so there is no function to update with --code"
            ),
            help: Some(format!(
                "the first deploy is a full one: `stackpro deploy {cap} --env {env}`"
            )),
        });
    };
    let status = stack::require_status(&found, name)?;
    if !stack::is_success(&status) && status.as_str() != "UPDATE_ROLLBACK_COMPLETE" {
        return Err(Error::Stack {
            stack: name.to_string(),
            message: format!("is {status}: the code path only updates a settled stack"),
            help: Some(format!(
                "see `stackpro status {cap} --env {env}`, then deploy without --code"
            )),
        });
    }
    Ok(found)
}

/// UpdateFunctionCode from the stored zip, then waits until Lambda has applied it
/// (LastUpdateStatus `Successful`); the code must be the zip's.
async fn update_code(
    shared: &Shared,
    cap: &str,
    function: &str,
    key: &str,
    code_sha256: &str,
) -> Result<()> {
    let ctx = &shared.ctx;
    shared.progress.step(cap, "updating the function's code");
    let mut state = lambda::update_function_code(ctx, function, &shared.bucket, key).await?;
    if !state.code_sha256.is_empty() && state.code_sha256 != code_sha256 {
        return Err(Error::Stack {
            stack: function.to_string(),
            message: format!(
                "took code {} from s3://{}/{key}, not the artifact's {code_sha256}",
                state.code_sha256, shared.bucket
            ),
            help: Some(
                "build again and deploy; the stored artifact does not match its metadata".into(),
            ),
        });
    }
    // The update's own answer says where it stands; only an update still in progress
    // is polled (GetFunctionConfiguration), with backoff, for at most 10 minutes.
    let start = Instant::now();
    let mut poll = stack::Backoff::new();
    loop {
        match state.last_update.as_deref() {
            None | Some("Successful") => return Ok(()),
            Some("Failed") => {
                return Err(Error::Stack {
                    stack: function.to_string(),
                    message: format!(
                        "could not apply the new code: {}",
                        state
                            .reason
                            .unwrap_or_else(|| "Lambda gave no reason".into())
                    ),
                    help: Some("fix the cause and deploy again".into()),
                })
            }
            _ => poll.step(),
        }
        if start.elapsed() > Duration::from_secs(10 * 60) {
            return Err(Error::Stack {
                stack: function.to_string(),
                message: "was still updating its code after 10 minutes".into(),
                help: Some("see the function in the Lambda console, then deploy again".into()),
            });
        }
        tokio::time::sleep(poll.delay()).await;
        state = match lambda::code_state(ctx, function).await? {
            Some(state) => state,
            None => {
                return Err(Error::Stack {
                    stack: function.to_string(),
                    message: "disappeared while its code was being updated".into(),
                    help: Some(
                        "see `stackpro status`; deploy without --code to create it again".into(),
                    ),
                })
            }
        };
    }
}
