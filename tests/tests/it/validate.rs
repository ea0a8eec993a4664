//! `stackpro validate`: everything rendered, parsed back and linted by cfn-lint.

use std::collections::BTreeSet;

use stackpro_tests::{checkov_tool, project_root, ProjectCopy};

use crate::cli::{stackpro, stackpro_with};

#[test]
fn every_stack_of_every_environment_passes_cfn_lint() {
    let project = ProjectCopy::new();
    let run = stackpro(project.path(), &["validate", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["cfn_lint"]["status"], "ran", "{report}");
    assert_eq!(
        report["results"].as_array().unwrap().len(),
        15,
        "4 capabilities and the bootstrap stack x 3 environments"
    );
    assert_eq!(report["errors"], 0, "{report}");
    for result in report["results"].as_array().unwrap() {
        let minimum = if result["capability"] == "bootstrap" {
            2
        } else {
            20
        };
        assert!(result["resources"].as_u64().unwrap() >= minimum, "{result}");
    }
}

#[test]
fn a_template_cfn_lint_rejects_fails_with_exit_1_and_names_the_finding() {
    let project = ProjectCopy::new();
    // A runtime Lambda does not have: valid YAML, so only cfn-lint can catch it.
    project.edit(
        "templates/stack.yaml.j2",
        "Runtime: provided.al2023",
        "Runtime: provided.al3000",
    );
    let run = stackpro(project.path(), &["validate", "--env", "sandbox"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Invalid messaging  sandbox"), "{run:?}");
    assert!(
        run.stderr
            .contains("error E3030 'provided.al3000' is not one of"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("error: 4 error(s) from cfn-lint or checkov in the rendered templates"),
        "{run:?}"
    );
}

#[test]
fn a_template_referring_to_a_missing_value_names_template_and_line() {
    let project = ProjectCopy::new();
    project.edit(
        "templates/stack.yaml.j2",
        "MemorySize: {{ lambda.memory_mb }}",
        "MemorySize: {{ lambda.memroy_mb }}",
    );
    let run = stackpro(project.path(), &["render", "messaging", "--env", "sandbox"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("error: could not render templates/stack.yaml.j2 for messaging in sandbox"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("undefined value (in templates/stack.yaml.j2:"),
        "{run:?}"
    );
}

#[test]
fn a_template_that_renders_invalid_yaml_shows_the_line() {
    let project = ProjectCopy::new();
    project.edit(
        "templates/stack.yaml.j2",
        "      Handler: bootstrap",
        "      Handler: [bootstrap",
    );
    let run = stackpro(project.path(), &["render", "messaging", "--env", "sandbox"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: rendered CloudFormation template of messaging in sandbox does not parse"
        ),
        "{run:?}"
    );
}

#[test]
fn validate_without_cfn_lint_says_it_was_skipped() {
    let run = stackpro(
        &project_root(),
        &["validate", "--env", "local", "--no-lint"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("cfn-lint skipped: --no-lint"),
        "{run:?}"
    );
    assert!(run.stderr.contains("checkov skipped: --no-lint"), "{run:?}");
    assert!(
        run.stderr
            .contains("Summary 5 stacks, 0 error(s), 0 warning(s)"),
        "{run:?}"
    );
}

#[test]
fn the_create_only_table_matches_the_pinned_cfn_lint_schemas() {
    // deploy knows replacements from cli/data/create-only.json; it must say what the
    // resource schemas shipped with the pinned cfn-lint say, for every template type.
    let out = std::process::Command::new(stackpro_tests::venv_tool("python"))
        .arg(stackpro_tests::project_root().join("scripts/gen-create-only.py"))
        .arg("--check")
        .output()
        .expect("run scripts/gen-create-only.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The checks the templates answer by design, by environment: a customer-managed key's
/// three (tables, logs, function settings) where the env file keeps it off; a DLQ and a
/// VPC the synchronous, AWS-API-only functions have no use for; S3 access logs.
fn suppressions_expected(env: &str) -> BTreeSet<&'static str> {
    let mut checks = BTreeSet::from(["CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_18"]);
    if env != "production" {
        checks.extend(["CKV_AWS_119", "CKV_AWS_158", "CKV_AWS_173"]);
    }
    checks
}

#[test]
fn every_template_passes_checkov_and_each_suppression_says_why() {
    let project = ProjectCopy::new();
    let checkov = checkov_tool();
    let run = stackpro_with(
        project.path(),
        &["validate", "--output", "json"],
        &[("STACKPRO_CHECKOV", checkov.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["checkov"]["status"], "ran", "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["checkov_passed"].as_u64().unwrap() > 300, "{report}");
    let suppressed = report["checkov_suppressed"].as_array().unwrap();
    for env in ["local", "sandbox", "production"] {
        let checks: BTreeSet<&str> = suppressed
            .iter()
            .filter(|s| {
                s["file"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/validate/{env}/"))
            })
            .map(|s| s["rule"].as_str().unwrap())
            .collect();
        assert_eq!(checks, suppressions_expected(env), "{env}");
    }
    for s in suppressed {
        let reason = s["reason"].as_str().unwrap();
        assert!(reason.len() >= 60, "a suppression without its reason: {s}");
    }
    // Every environment reserves concurrency, so none suppresses the check for it.
    assert!(!suppressed.iter().any(|s| s["rule"] == "CKV_AWS_115"));
}

#[test]
fn a_finding_checkov_makes_fails_validate_with_exit_1_and_names_the_check() {
    let project = ProjectCopy::new();
    // The sandbox without reserved concurrency and without the check's suppression.
    project.edit("envs/sandbox.yaml", "  reserved_concurrency: 10\n", "");
    project.edit(
        "templates/stack.yaml.j2",
        "{% set function_skips = function_skips + [[\"CKV_AWS_115\"",
        "{% set unused = function_skips + [[\"CKV_AWS_115\"",
    );
    let checkov = checkov_tool();
    let run = stackpro_with(
        project.path(),
        &["validate", "--env", "sandbox"],
        &[("STACKPRO_CHECKOV", checkov.to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Invalid messaging  sandbox"), "{run:?}");
    assert!(
        run.stderr.contains("error CKV_AWS_115 Ensure that AWS Lambda function is configured for function-level concurrent execution limit (AWS::Lambda::Function.Function)"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("error: 4 error(s) from cfn-lint or checkov"),
        "{run:?}"
    );
    assert!(run.stderr.contains("4 failed"), "{run:?}");
}
