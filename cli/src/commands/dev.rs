//! `stackpro dev`: serve capabilities' handlers on 127.0.0.1 for offline development.
//!
//! Each capability runs under its own `cargo lambda watch` (the Lambda emulator of
//! cargo-lambda, rebuilding on change), bound to loopback, with the environment
//! variables its deployed stack would give it (`render::environment_variables`),
//! pointed at the environment's local AWS emulator. Its tables and buckets are created
//! on the emulator when missing. Only environments whose endpoint is a loopback emulator are
//! served: the handlers never reach real AWS from here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;

use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType};
use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::aws::{dynamodb, s3, AwsContext};
use crate::config::{is_loopback_url, AttributeType, Capability, EnvConfig};
use crate::error::{Error, Result};
use crate::printer::Printer;
use crate::project::Project;
use crate::render;

/// The HS256 secret the handlers accept locally when `STACKPRO_JWT_SECRET` is unset.
/// Local only: `stackpro dev` refuses environments that are not a loopback emulator.
pub const LOCAL_JWT_SECRET: &str = "stackpro-local-development-secret";

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Capabilities to serve (default: every capability with a handler crate)
    #[arg(value_name = "CAPABILITY")]
    pub capabilities: Vec<String>,
    /// The environment whose emulator the handlers use (it must have a loopback endpoint_url)
    #[arg(long, short = 'e', value_name = "ENV", default_value = "local")]
    pub env: String,
    /// Loopback port of the first capability; the next ones take the following ports
    #[arg(long, value_name = "PORT", default_value_t = 9000)]
    pub port: u16,
    /// Print what would be served (URLs, commands, environment) and exit
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DevReport {
    pub environment: String,
    pub endpoint: String,
    pub served: Vec<Served>,
    /// The tables created on the emulator because they were missing.
    pub tables_created: Vec<String>,
    /// The buckets created on the emulator because they were missing.
    pub buckets_created: Vec<String>,
    pub token_hint: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Served {
    pub capability: String,
    pub binary: String,
    /// Base URL of the capability's routes (`<url>/v1/health`).
    pub url: String,
    pub port: u16,
    pub command: Vec<String>,
    pub environment: BTreeMap<String, String>,
}

impl fmt::Display for DevReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "serving {} against the emulator at {}",
            self.environment, self.endpoint
        )?;
        for t in &self.tables_created {
            writeln!(f, "  created table {t}")?;
        }
        for b in &self.buckets_created {
            writeln!(f, "  created bucket {b}")?;
        }
        for s in &self.served {
            writeln!(
                f,
                "  {:<10} {}  (try {}/v1/health)",
                s.capability, s.url, s.url
            )?;
        }
        write!(f, "{}", self.token_hint)
    }
}

/// The capabilities to serve: those named, else every one with a handler crate.
fn select<'a>(
    project: &Project,
    catalogue: &'a crate::config::Catalogue,
    names: &[String],
) -> Result<Vec<&'a Capability>> {
    let has_crate = |c: &Capability| {
        project
            .handlers_dir()
            .join(&c.name)
            .join("Cargo.toml")
            .is_file()
    };
    if names.is_empty() {
        let all: Vec<&Capability> = catalogue
            .select(&[], true)?
            .into_iter()
            .filter(|c| has_crate(c))
            .collect();
        if all.is_empty() {
            return Err(Error::Config {
                message: "no capability has a handler crate yet".into(),
                help: Some("a handler lives in handlers/<capability>/Cargo.toml".into()),
            });
        }
        return Ok(all);
    }
    let selected = catalogue.select(names, false)?;
    for c in &selected {
        if !has_crate(c) {
            return Err(Error::Config {
                message: format!(
                    "capability {} has no handler crate (handlers/{}/Cargo.toml) to serve",
                    c.name, c.name
                ),
                help: Some(format!(
                    "serve one that has: {}",
                    catalogue
                        .select(&[], true)?
                        .into_iter()
                        .filter(|c| has_crate(c))
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
        }
    }
    Ok(selected)
}

/// The environment one capability's handler runs with under `stackpro dev`; `account`
/// is the emulator's (bucket names carry it).
pub fn dev_environment(
    cap: &Capability,
    env: &EnvConfig,
    account: &str,
    endpoint: &str,
    region: &str,
    urls: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut vars = render::environment_variables(cap, env, account);
    vars.insert("AWS_ENDPOINT_URL".into(), endpoint.to_string());
    vars.insert("AWS_REGION".into(), region.to_string());
    // The emulator accepts any credentials; never hand the handler real ones.
    vars.insert("AWS_ACCESS_KEY_ID".into(), "testing".into());
    vars.insert("AWS_SECRET_ACCESS_KEY".into(), "testing".into());
    vars.insert(
        stackpro_conventions::vars::JWT_SECRET.into(),
        std::env::var(stackpro_conventions::vars::JWT_SECRET)
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| LOCAL_JWT_SECRET.to_string()),
    );
    // A setting exported in the caller's environment wins for this run (a local model
    // server on another port, say): only the settings the capability declares.
    for (key, value) in vars.iter_mut() {
        if stackpro_conventions::vars::setting_of(key).is_some() {
            if let Some(mine) = std::env::var(key.as_str()).ok().filter(|v| !v.is_empty()) {
                *value = mine;
            }
        }
    }
    // Discovery: the other capabilities served alongside answer on loopback.
    for (name, url) in urls {
        if name != &cap.name {
            vars.insert(
                crate::config::flags::flag_name(name, crate::config::flags::BASE_URL),
                url.clone(),
            );
        }
    }
    vars
}

/// Creates the capability's tables on the emulator when they are missing; returns
/// the names created.
pub async fn ensure_tables(
    ctx: &AwsContext,
    cap: &Capability,
    env: &EnvConfig,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for table in &cap.tables {
        let name = format!("{}-{}", env.stack_name(&cap.name), table.name);
        if dynamodb::table_exists(ctx, &name).await? {
            continue;
        }
        let kind = |k: AttributeType| match k {
            AttributeType::S => ScalarAttributeType::S,
            AttributeType::N => ScalarAttributeType::N,
            AttributeType::B => ScalarAttributeType::B,
        };
        let mut keys = vec![(
            table.partition_key.name.clone(),
            kind(table.partition_key.kind),
            KeyType::Hash,
        )];
        if let Some(sort) = &table.sort_key {
            keys.push((sort.name.clone(), kind(sort.kind), KeyType::Range));
        }
        dynamodb::create_table(ctx, &name, &keys).await?;
        created.push(name);
    }
    Ok(created)
}

/// Creates the capability's buckets on the emulator when they are missing (named for
/// `account` and the environment's region, as the stack names them); returns the names
/// created.
pub async fn ensure_buckets(
    ctx: &AwsContext,
    cap: &Capability,
    env: &EnvConfig,
    account: &str,
) -> Result<Vec<String>> {
    let region = env.region.as_str();
    let mut created = Vec::new();
    for bucket in &cap.buckets {
        let name =
            crate::config::bucket_name(&env.stack_name(&cap.name), &bucket.name, account, region);
        if !s3::bucket_exists(ctx, &name).await? {
            s3::create_bucket(ctx, &name, region).await?;
            created.push(name);
        }
    }
    Ok(created)
}

/// The account the emulator answers as: bucket names carry it. The environment's pin
/// when it has one; otherwise STS asked (with the dummy credentials the emulator takes),
/// except in a dry run, which shows `<account>` rather than needing the emulator.
async fn emulator_account(ctx: &AwsContext, env: &EnvConfig, dry_run: bool) -> Result<String> {
    if let Some(account) = &env.account_id {
        return Ok(account.clone());
    }
    if dry_run {
        return Ok("<account>".into());
    }
    // The emulator accepts any credentials: dev never hands it real ones.
    let identity = crate::aws::sts::caller_identity(&ctx.with_local_credentials()).await?;
    Ok(identity.account)
}

pub fn run(args: DevArgs, global: &GlobalArgs, printer: &Printer) -> Result<()> {
    let (project, catalogue) = global.load()?;
    let env = catalogue.load_env(&project, &args.env)?;
    let caps = select(&project, &catalogue, &args.capabilities)?;

    let rt = super::aws_runtime()?;
    let ctx = rt.block_on(AwsContext::load(&global.aws, &env));
    let endpoint = match &ctx.endpoint {
        Some(url) if is_loopback_url(url) => url.clone(),
        other => {
            return Err(Error::Config {
                message: format!(
                    "stackpro dev serves handlers against a local AWS emulator, and environment {} points at {}",
                    env.name,
                    other.as_deref().unwrap_or("AWS itself")
                ),
                help: Some("use --env local (or an environment whose endpoint_url is a loopback emulator)".into()),
            })
        }
    };

    let urls: BTreeMap<String, String> = caps
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.name.clone(),
                format!(
                    "http://127.0.0.1:{}/lambda-url/{}",
                    args.port as usize + i,
                    c.handler.binary
                ),
            )
        })
        .collect();
    let cargo_lambda = project.venv_bin().join("cargo-lambda");
    let dev_dir = project.root().join(".stackpro").join("dev");
    let account = if caps.iter().any(|c| !c.buckets.is_empty()) {
        rt.block_on(emulator_account(&ctx, &env, args.dry_run))?
    } else {
        // No bucket, so no name that carries the account: nothing to ask.
        env.account_id.clone().unwrap_or_default()
    };
    let mut served = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        let port = args.port + i as u16;
        let environment = dev_environment(cap, &env, &account, &endpoint, &ctx.region, &urls);
        let env_file = dev_dir.join(format!("{}.env", cap.name));
        let command = vec![
            cargo_lambda.display().to_string(),
            "lambda".into(),
            "watch".into(),
            "--invoke-address".into(),
            "127.0.0.1".into(),
            "--invoke-port".into(),
            port.to_string(),
            "--package".into(),
            cap.handler.package.clone(),
            "--bin".into(),
            cap.handler.binary.clone(),
            "--env-file".into(),
            env_file.display().to_string(),
        ];
        served.push(Served {
            capability: cap.name.clone(),
            binary: cap.handler.binary.clone(),
            url: urls[&cap.name].clone(),
            port,
            command,
            environment,
        });
    }

    let mut report = DevReport {
        environment: env.name.clone(),
        endpoint: endpoint.clone(),
        served,
        tables_created: Vec::new(),
        buckets_created: Vec::new(),
        token_hint: format!(
            "tokens: python3 scripts/dev-token.py --tenant dev (HS256, secret from STACKPRO_JWT_SECRET or the local default {LOCAL_JWT_SECRET:?})\n"
        ),
    };
    if args.dry_run {
        printer.report(&report);
        return Ok(());
    }

    if !cargo_lambda.is_file() {
        return Err(Error::Tool {
            tool: "cargo-lambda",
            message: format!("{} is missing", cargo_lambda.display()),
            help: Some("run `bash scripts/setup.sh` to install the pinned tools into .venv".into()),
        });
    }
    // Only a loopback emulator is reached from here, and it accepts any credentials:
    // use dummy ones rather than the caller's (which may be real, or absent).
    let local = ctx.with_local_credentials();
    for cap in &caps {
        report
            .tables_created
            .extend(rt.block_on(ensure_tables(&local, cap, &env))?);
        report
            .buckets_created
            .extend(rt.block_on(ensure_buckets(&local, cap, &env, &account))?);
    }
    std::fs::create_dir_all(&dev_dir).map_err(|source| Error::Io {
        action: "create",
        path: dev_dir.clone(),
        source,
    })?;
    for s in &report.served {
        let path = PathBuf::from(s.command.last().expect("the env file is the last argument"));
        let text: String = s
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&path, text).map_err(|source| Error::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
    }

    rt.block_on(serve(&project, &report, printer))
}

/// Starts one `cargo lambda watch` per capability, prints the URLs, and waits until
/// one stops or Ctrl-C; then stops the others.
async fn serve(project: &Project, report: &DevReport, printer: &Printer) -> Result<()> {
    let mut children = Vec::new();
    for s in &report.served {
        let child = tokio::process::Command::new(&s.command[0])
            .args(&s.command[1..])
            .current_dir(project.root())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Tool {
                tool: "cargo-lambda",
                message: format!(
                    "could not start `cargo lambda watch` for {}: {e}",
                    s.capability
                ),
                help: Some(
                    "run `bash scripts/setup.sh` to install the pinned tools into .venv".into(),
                ),
            })?;
        children.push((s.capability.clone(), child));
    }
    printer.report(report);

    let first_exit = async {
        let waits = children.iter_mut().map(|(name, child)| {
            let name = name.clone();
            Box::pin(async move { (name, child.wait().await) })
        });
        futures_select_first(waits.collect()).await
    };
    tokio::select! {
        (name, status) = first_exit => {
            Err(Error::Failed(format!(
                "the handler server of {name} stopped ({})",
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
            )))
        }
        _ = tokio::signal::ctrl_c() => {
            printer.status("Stopping", "the handler servers");
            Ok(())
        }
    }
}

/// Waits for the first of several futures to finish.
async fn futures_select_first<F, T>(mut futures: Vec<std::pin::Pin<Box<F>>>) -> T
where
    F: std::future::Future<Output = T>,
{
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(v);
            }
        }
        std::task::Poll::Pending
    })
    .await
}
