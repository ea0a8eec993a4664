//! The GitHub Actions pipeline users copy, `docs/ci/github-actions.yml`: actionlint (the
//! pinned one `scripts/setup.sh` installs into `.venv`) finds nothing in it and does flag
//! a broken copy, its shape is the one the README promises, and every stackpro command
//! line in it parses with the CLI's own definition.

use std::path::Path;
use std::process::Command;

use clap::Parser;
use stackpro_tests::{project_root, venv_tool};

const PIPELINE: &str = "docs/ci/github-actions.yml";

fn pipeline() -> String {
    std::fs::read_to_string(project_root().join(PIPELINE)).expect("read the pipeline")
}

/// actionlint's findings on one file, as (kind, line, message). shellcheck and pyflakes
/// are left out, so that the answer does not depend on what else the machine has.
fn actionlint(file: &Path) -> Vec<(String, u64, String)> {
    let out = Command::new(venv_tool("actionlint"))
        .args([
            "-no-color",
            "-shellcheck=",
            "-pyflakes=",
            "-format",
            "{{json .}}",
        ])
        .arg(file)
        .output()
        .expect("run actionlint");
    // 0: no finding, 1: findings; anything else is actionlint failing to run.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "actionlint failed: {out:?}"
    );
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("actionlint's JSON: {e}: {out:?}"));
    assert_eq!(
        out.status.code() == Some(1),
        !findings.is_empty(),
        "{out:?}"
    );
    findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_users_pipeline_passes_actionlint() {
    let findings = actionlint(&project_root().join(PIPELINE));
    assert!(
        findings.is_empty(),
        "{PIPELINE} has actionlint findings:\n{}",
        findings
            .iter()
            .map(|(kind, line, message)| format!("  line {line} [{kind}] {message}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The check bites: each mistake, made in a copy of the real pipeline, is flagged as
/// its own kind.
#[test]
fn actionlint_flags_a_broken_copy_of_the_pipeline() {
    let good = pipeline();
    let mistakes = [
        // A job that needs a job that is not there.
        ("needs: sandbox", "needs: sandbx", "job-needs"),
        // An expression over a context that does not exist.
        (
            "${{ vars.STACKPRO_PRODUCTION_ROLE_ARN }}",
            "${{ foo.bar }}",
            "expression",
        ),
        // A runner label GitHub does not have.
        (
            "runs-on: ubuntu-24.04",
            "runs-on: ubuntu-24.4",
            "runner-label",
        ),
        // A permission scope that does not exist.
        ("id-token: write #", "idtoken: write #", "permissions"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (from, to, kind) in mistakes {
        assert!(good.contains(from), "{PIPELINE} no longer has `{from}`");
        let broken = dir.path().join(format!("{kind}.yml"));
        std::fs::write(&broken, good.replacen(from, to, 1)).unwrap();
        let findings = actionlint(&broken);
        assert!(
            findings.iter().any(|(k, _, _)| k == kind),
            "`{to}` was not flagged as {kind}: {findings:?}"
        );
    }
}

/// What the README says of the pipeline: OIDC, a sandbox deploy whose JSON is kept and
/// whose status gates, production after it behind an approval environment, one deploy
/// per environment at a time.
#[test]
fn the_pipeline_deploys_the_sandbox_then_production_behind_an_approval() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&pipeline()).unwrap();
    let jobs = &doc["jobs"];
    for (job, env) in [("sandbox", "sandbox"), ("production", "production")] {
        let j = &jobs[job];
        assert_eq!(j["environment"].as_str(), Some(env), "{job}");
        assert_eq!(
            j["permissions"]["id-token"].as_str(),
            Some("write"),
            "{job}"
        );
        assert_eq!(j["permissions"]["contents"].as_str(), Some("read"), "{job}");
        assert_eq!(
            j["concurrency"]["group"].as_str(),
            Some(format!("stackpro-deploy-{env}").as_str()),
            "{job}"
        );
        assert_eq!(
            j["concurrency"]["cancel-in-progress"].as_bool(),
            Some(false)
        );
        let steps = j["steps"].as_sequence().unwrap();
        let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
        assert!(
            uses.contains(&"aws-actions/configure-aws-credentials@v4"),
            "{job}: {uses:?}"
        );
        let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
        let deploy = format!("stackpro deploy --all --env {env} --yes");
        let deploy_at = runs.iter().position(|r| r.contains(&deploy));
        let status_at = runs
            .iter()
            .position(|r| r.trim() == format!("stackpro status --env {env}"));
        assert!(
            deploy_at.is_some() && status_at > deploy_at,
            "{job}: `{deploy}` then `stackpro status --env {env}` in {runs:?}"
        );
        assert!(runs[deploy_at.unwrap()].contains("--output json"), "{job}");
    }
    assert_eq!(jobs["production"]["needs"].as_str(), Some("sandbox"));
    assert_eq!(jobs["sandbox"]["needs"].as_str(), Some("validate"));
    // Every action is pinned to a version.
    for line in pipeline().lines() {
        if let Some(action) = line.trim().strip_prefix("- uses: ") {
            assert!(action.contains("@v"), "{action} is not pinned");
        }
    }
}

/// Every stackpro command line of the pipeline parses as the CLI defines it (a renamed
/// flag breaks this test, not a user's pipeline).
#[test]
fn every_stackpro_command_in_the_pipeline_parses() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&pipeline()).unwrap();
    let mut seen = 0;
    for job in doc["jobs"].as_mapping().unwrap().values() {
        for step in job["steps"].as_sequence().unwrap() {
            for line in step["run"].as_str().unwrap_or_default().lines() {
                let Some(rest) = line.trim().strip_prefix("stackpro ") else {
                    continue;
                };
                let words: Vec<&str> = std::iter::once("stackpro")
                    .chain(rest.split('|').next().unwrap().split_whitespace())
                    .collect();
                if let Err(err) = stackpro::commands::Cli::try_parse_from(&words) {
                    panic!("`{line}` does not parse: {err}");
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 9, "only {seen} stackpro commands found");
}
