//! `stackpro validate`: everything rendered, parsed back and linted by cfn-lint.

use stackpro_tests::{project_root, ProjectCopy};

use crate::cli::stackpro;

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
            .contains("error: 4 cfn-lint error(s) in the rendered templates"),
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
