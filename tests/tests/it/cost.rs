//! `stackpro cost` and the budget check of `stackpro validate`: the real binary on a
//! copy of the project.

use stackpro_tests::ProjectCopy;

use crate::cli::stackpro;

#[test]
fn the_sandbox_costs_three_sixty_a_month_within_its_five_dollar_budget() {
    let project = ProjectCopy::new();
    let run = stackpro(project.path(), &["cost", "--env", "sandbox"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "text goes to stderr");
    for line in [
        "Cost sandbox (eu-west-1): fixed monthly cost from the rendered templates; prices of 2026-11-30 in cli/data/prices.yaml",
        "messaging (stack stackpro-messaging-sandbox)",
        "4      3       1  dashboards",
        "16     10       6  alarm metrics (standard resolution)",
        "Estimate $3.60 a month fixed (list price $13.61; per-use charges below are not in it)",
        "Budget $5.00: within it ($1.40 to spare)",
        "Lambda requests                                $0.20 per 1 million requests (free: 1,000,000 requests a month)",
        "1 million API requests a month: about",
        "AWS::IAM::Role x4",
    ] {
        assert!(run.stderr.contains(line), "missing `{line}`\n{run:?}");
    }
}

#[test]
fn cost_json_is_one_document_with_the_fixed_figure_and_the_per_use_prices_apart() {
    let project = ProjectCopy::new();
    let run = stackpro(
        project.path(),
        &["cost", "--env", "production", "--output", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(report["environment"], "production");
    assert_eq!(report["region"], "eu-west-1");
    assert_eq!(report["capabilities"].as_array().unwrap().len(), 4);
    // One customer-managed key per capability: $4.00 beside a dashboard and six alarm
    // metrics beyond the free tier.
    let keys = report["fixed_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "customer-managed KMS keys")
        .expect("a KMS line");
    assert_eq!(keys["billed"], "4");
    assert_eq!(keys["monthly_usd"], "4.00");
    assert_eq!(report["fixed_monthly_usd"], "7.60");
    assert_eq!(report["budget"], serde_json::Value::Null);
    let per_use: Vec<&str> = report["per_use"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["item"].as_str().unwrap())
        .collect();
    assert!(
        per_use.contains(&"Lambda compute, 512 MB x86_64"),
        "{per_use:?}"
    );
    assert!(
        per_use.contains(&"KMS requests (customer-managed keys)"),
        "{per_use:?}"
    );
    assert!(
        report["not_priced"].as_object().unwrap().is_empty(),
        "{report}"
    );
}

#[test]
fn the_local_environment_is_priced_as_aws_would_bill_it_and_says_so() {
    let project = ProjectCopy::new();
    let run = stackpro(
        project.path(),
        &["cost", "--env", "local", "--output", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["emulator"], true);
    assert_eq!(report["fixed_monthly_usd"], "3.60");
    let storage = report["fixed_items"].as_array().unwrap().last().unwrap();
    assert_eq!(storage["item"], "log storage (8 groups, 1 day kept)");
    assert!(report["assumptions"][0]
        .as_str()
        .unwrap()
        .contains("the local emulator, which bills nothing"));
}

#[test]
fn validate_warns_when_an_environment_is_over_its_budget_and_exits_as_before() {
    let project = ProjectCopy::new();
    project.edit("envs/sandbox.yaml", "budget_usd: 5", "budget_usd: 1.5");
    let run = stackpro(
        project.path(),
        &[
            "validate",
            "--env",
            "sandbox",
            "--no-lint",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "a budget is a warning, not an error\n{run:?}");
    assert!(
        run.stderr.contains(
            "warning: environment sandbox's estimated fixed monthly cost $3.60 is over its budget_usd of $1.50 (envs/sandbox.yaml); see `stackpro cost --env sandbox`"
        ),
        "{run:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["budgets"],
        serde_json::json!([{"environment": "sandbox", "budget_usd": "1.50", "estimate_usd": "3.60", "over": true}])
    );
}

#[test]
fn validate_is_quiet_about_a_budget_that_holds() {
    let project = ProjectCopy::new();
    let run = stackpro(
        project.path(),
        &["validate", "--env", "sandbox", "--no-lint"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !run.stderr.contains("warning: environment sandbox"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("Budget sandbox estimate $3.60 a month is within its budget of $5.00"),
        "{run:?}"
    );
}

#[test]
fn a_malformed_budget_is_a_configuration_error_naming_the_file_and_key() {
    for (value, message) in [
        ("-5", "budget_usd: invalid value: integer `-5`, expected a number of US dollars of at least 0, such as 5 or 12.50"),
        ("five", "budget_usd: invalid type: string \"five\", expected a number of US dollars of at least 0, such as 5 or 12.50"),
    ] {
        let project = ProjectCopy::new();
        project.edit("envs/sandbox.yaml", "budget_usd: 5", &format!("budget_usd: {value}"));
        for args in [
            vec!["cost", "--env", "sandbox"],
            vec!["validate", "--env", "sandbox", "--no-lint"],
        ] {
            let run = stackpro(project.path(), &args);
            assert_eq!(run.code, 2, "{run:?}");
            assert!(
                run.stderr.contains(&format!("error: envs/sandbox.yaml:42:13: {message}")),
                "{run:?}"
            );
        }
    }
}

/// The whole report, text and JSON, under snapshot: a changed price, count or wording
/// is a reviewed diff.
#[test]
fn cost_output_is_under_snapshot() {
    let project = ProjectCopy::new();
    let text = stackpro(project.path(), &["cost", "--env", "sandbox"]);
    assert_eq!(text.code, 0, "{text:?}");
    let json = stackpro(
        project.path(),
        &["cost", "--env", "production", "--output", "json"],
    );
    assert_eq!(json.code, 0, "{json:?}");
    crate::snapshots::snapshot_settings().bind(|| {
        insta::assert_snapshot!("cost__sandbox_text", text.stderr);
        insta::assert_snapshot!("cost__production_json", json.stdout);
    });
}
