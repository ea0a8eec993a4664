//! `stackpro gc --env E [--keep N] [--min-age D] [--yes]`: the artifact bucket's handler
//! zips and stored templates that no deployment needs any more (see `crate::gc` for the
//! rules). Lists them; deletes them only with `--yes`. Deleted objects stay recoverable
//! as noncurrent versions until the bucket's lifecycle rule expires them.

use std::collections::BTreeMap;
use std::fmt;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::aws::{self, s3, AwsContext};
use crate::error::{Error, Result};
use crate::gc::{self, Needs, Verdict};
use crate::printer::Printer;
use crate::{deploy, record, release, stack};

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The environment (a file in envs/)
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: String,
    /// Keep what each capability's last N deployments name (rollback targets)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep: usize,
    /// Keep objects younger than this (30m, 24h, 7d; 0 for none): a deploy in flight
    /// uploads before it records
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_age)]
    pub min_age: u64,
    /// Delete what is listed (without it, gc only lists)
    #[arg(long)]
    pub yes: bool,
}

/// `0`, or a number with `s`, `m`, `h` or `d`: seconds.
fn parse_age(s: &str) -> std::result::Result<u64, String> {
    let bad = || format!("`{s}` is not an age: use 0, 90s, 30m, 24h or 7d");
    if s == "0" {
        return Ok(0);
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(n * unit)
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GcReport {
    pub environment: String,
    pub bucket: String,
    pub keep: usize,
    pub min_age_seconds: u64,
    /// Whether the deletable objects were deleted (`--yes`).
    pub deleted: bool,
    pub deletable: Vec<Verdict>,
    pub deletable_bytes: i64,
    pub kept: Vec<Verdict>,
    /// Keys S3 refused to delete, with its reason.
    pub failed: Vec<(String, String)>,
}

impl fmt::Display for GcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.deleted {
            "deleted"
        } else {
            "can delete"
        };
        writeln!(
            f,
            "s3://{} ({}): {verb} {} object(s), {} bytes; keeping {} (the last {} deployments of each capability, what is live, what stacks name, anything younger than {} s)",
            self.bucket,
            self.environment,
            self.deletable.len(),
            self.deletable_bytes,
            self.kept.len(),
            self.keep,
            self.min_age_seconds
        )?;
        for v in &self.deletable {
            writeln!(
                f,
                "  {verb} {} ({} bytes, {} s old)",
                v.key, v.bytes, v.age_seconds
            )?;
        }
        for v in &self.kept {
            let why = v.kept_because.as_deref().unwrap_or_default();
            writeln!(f, "  keep {}: {why}", v.key)?;
        }
        for (key, why) in &self.failed {
            writeln!(f, "  NOT deleted {key}: {why}")?;
        }
        if !self.deleted && !self.deletable.is_empty() {
            writeln!(f, "pass --yes to delete them")?;
        }
        Ok(())
    }
}

pub fn run(args: GcArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let env = catalogue.load_env(&project, &args.env)?;
    let report = super::parallel_runtime()?.block_on(async {
        let ctx = AwsContext::load(&global.aws, &env).await;
        let identity = aws::caller_identity(&ctx).await?;
        aws::check_account(&env, &identity)?;
        let bucket = deploy::artifact_bucket(&env.name, &identity.account, &ctx.region);
        let listed = list_bucket(&ctx, &bucket).await?;
        let caps: std::collections::BTreeSet<String> = listed
            .iter()
            .filter_map(|o| gc::capability_of(&o.key).map(str::to_string))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for cap in caps {
            let (ctx, env_name, stack_name) = (ctx.clone(), env.name.clone(), env.stack_name(&cap));
            tasks.spawn(async move {
                let needs = needs(&ctx, &env_name, &cap, &stack_name).await;
                (cap, needs)
            });
        }
        let mut needed = BTreeMap::new();
        for (cap, needs) in tasks.join_all().await {
            needed.insert(cap.clone(), gc::needed(&cap, &needs?, args.keep));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let (kept, deletable): (Vec<_>, Vec<_>) =
            gc::judge(&listed, &needed, now, args.min_age as i64)
                .into_iter()
                .partition(|v| v.kept_because.is_some());
        let keys: Vec<String> = deletable.iter().map(|v| v.key.clone()).collect();
        let failed = if args.yes && !keys.is_empty() {
            s3::delete_objects(&ctx, &bucket, &keys).await?
        } else {
            Vec::new()
        };
        Ok::<_, Error>(GcReport {
            environment: env.name.clone(),
            bucket,
            keep: args.keep,
            min_age_seconds: args.min_age,
            deleted: args.yes,
            deletable_bytes: deletable.iter().map(|v| v.bytes).sum(),
            deletable,
            kept,
            failed,
        })
    })?;
    printer.report(&report);
    if !report.failed.is_empty() {
        return Err(Error::Failed(format!(
            "{} object(s) of s3://{} could not be deleted (listed above)",
            report.failed.len(),
            report.bucket
        )));
    }
    Ok(())
}

/// Both prefixes' objects, listed together.
async fn list_bucket(ctx: &AwsContext, bucket: &str) -> Result<Vec<s3::ObjectInfo>> {
    let (artifacts, templates) = tokio::try_join!(
        s3::list_objects(ctx, bucket, gc::PREFIXES[0]),
        s3::list_objects(ctx, bucket, gc::PREFIXES[1]),
    )?;
    Ok([artifacts, templates].concat())
}

/// A capability's records, live alias and stack, read together.
async fn needs(ctx: &AwsContext, env: &str, cap: &str, stack_name: &str) -> Result<Needs> {
    let (history, live, found) = tokio::try_join!(
        record::history(ctx, env, cap),
        release::live(ctx, stack_name),
        stack::describe(ctx, stack_name),
    )?;
    Ok(Needs {
        history,
        live,
        stack_artifact_key: found
            .as_ref()
            .and_then(|s| stack::parameter_values(s).remove("ArtifactKey")),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages_are_a_number_and_a_unit() {
        assert_eq!(parse_age("0"), Ok(0));
        assert_eq!(parse_age("90s"), Ok(90));
        assert_eq!(parse_age("30m"), Ok(1800));
        assert_eq!(parse_age("24h"), Ok(86_400));
        assert_eq!(parse_age("7d"), Ok(604_800));
        for bad in ["", "24", "h", "1w", "-1h"] {
            assert!(
                parse_age(bad).is_err_and(|e| e.contains("not an age")),
                "{bad}"
            );
        }
    }
}
