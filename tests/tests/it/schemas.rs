//! The JSON Schemas of the commands' `--output json`: the committed files under
//! docs/schemas/ are what the report types derive, and `stackpro schema` serves them.
//! (Every test that runs a command with `--output json` checks what it printed against
//! them: `cli::stackpro_with`.)

use crate::cli::stackpro;
use stackpro::schema;
use stackpro_tests::project_root;

#[test]
fn the_committed_schemas_are_what_the_report_types_derive() {
    let dir = project_root().join("docs/schemas");
    let mut stale = Vec::new();
    for s in schema::all() {
        let path = dir.join(s.file_name());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != schema::to_text(&s.schema) {
            stale.push(s.file_name());
        }
    }
    let expected: Vec<String> = schema::all().iter().map(|s| s.file_name()).collect();
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.contains(name))
        .collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/schemas/ is not what the report types derive: changed {stale:?}, not a command's {extra:?}. \
         A change of a command's JSON output is a change of its schema: run \
         `cargo run -p stackpro -- schema --out-dir docs/schemas` and review the diff"
    );
}

#[test]
fn every_command_prints_json_under_a_schema_or_says_it_prints_none() {
    use clap::CommandFactory;
    let names: Vec<String> = schema::all()
        .iter()
        .map(|s| s.command.to_string())
        .collect();
    for command in stackpro::commands::Cli::command().get_subcommands() {
        let name = command.get_name();
        if schema::WITHOUT_JSON.contains(&name) {
            continue;
        }
        let subcommands: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
        if subcommands.is_empty() || name == "help" {
            assert!(
                names.contains(&name.to_string()) || name == "help",
                "`stackpro {name}` has no output schema"
            );
        } else {
            for sub in subcommands.into_iter().filter(|s| *s != "help") {
                assert!(
                    names.contains(&format!("{name} {sub}")),
                    "`stackpro {name} {sub}` has no output schema"
                );
            }
        }
    }
}

#[test]
fn schema_prints_one_commands_schema_and_lists_them_all() {
    let one = stackpro(&project_root(), &["schema", "flags", "set"]);
    assert_eq!(one.code, 0, "{one:?}");
    let value: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(value["title"], "stackpro flags set --output json");
    let committed =
        std::fs::read_to_string(project_root().join("docs/schemas/flags-set.schema.json")).unwrap();
    assert_eq!(one.stdout, committed);

    let list = stackpro(&project_root(), &["schema", "--output", "json"]);
    assert_eq!(list.code, 0, "{list:?}");
    let value: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let deploy = value["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "deploy")
        .unwrap();
    assert_eq!(deploy["shape"], "lines");
    assert_eq!(
        value["without_json"],
        serde_json::json!(["completions", "man"])
    );
}

#[test]
fn schema_of_an_unknown_command_names_the_nearest_and_exits_2() {
    let run = stackpro(&project_root(), &["schema", "deplyo"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("no command `deplyo` prints JSON"),
        "{run:?}"
    );
    assert!(run.stderr.contains("stackpro schema deploy"), "{run:?}");
    let run = stackpro(&project_root(), &["schema", "man", "--output", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("`stackpro man` prints no JSON"),
        "{run:?}"
    );
}
