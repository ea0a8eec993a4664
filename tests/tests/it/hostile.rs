//! Hostile input, generated (proptest): configuration files mutated one random edit at a
//! time, and every parser of command-line text fed arbitrary strings. Nothing may panic;
//! a configuration stackpro refuses is a usage error (exit 2) with a message, and a file
//! it accepts still renders. 96 cases per file and 2,000 per text parser in the suite;
//! `PROPTEST_CASES=N` runs N of each (README "Testing").

use proptest::prelude::*;
use stackpro::config::Catalogue;
use stackpro::error::ExitStatus;
use stackpro::project::Project;
use stackpro_tests::ProjectCopy;

/// Tokens that mean something to YAML or to stackpro, and some that mean trouble.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "#",
    "&a ",
    "*a",
    "<<: *a",
    "!Ref ",
    "!!binary ",
    "?",
    "|",
    ">",
    "\t",
    "\r",
    "\u{0}",
    "\u{feff}",
    "é",
    "🦀",
    "~",
    "null",
    "true",
    "yes",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "0x10",
    ".nan",
    "  ",
    "\n",
    "\n  ",
    "capabilities",
    "region",
    "memory_mb",
    "timeout_s",
    "account_id",
    "production",
    "CAP_MESSAGING_ENABLED",
    "${AWS::Region}",
    "{{ x }}",
    "{% if %}",
    "../../etc/passwd",
];

/// One edit of a text: replace `len` bytes at `at` (both scaled to the text, cut at
/// character boundaries) with a token repeated `times`.
#[derive(Debug, Clone)]
struct Edit {
    at: f64,
    len: usize,
    token: usize,
    times: usize,
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        (0.0..1.0f64, 0usize..12, 0..TOKENS.len(), 0usize..4).prop_map(
            |(at, len, token, times)| Edit {
                at,
                len,
                token,
                times,
            },
        ),
        1..4,
    )
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for e in edits {
        let mut start = (e.at * text.len() as f64) as usize;
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + e.len).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        text.replace_range(start..end, &TOKENS[e.token].repeat(e.times));
    }
    text
}

/// Loads the catalogue and `env` from `project` as every command does: either both load
/// and every capability renders, or the error is a usage error (exit 2) with a message.
fn load_as_a_command_would(project: &ProjectCopy, env: &str) -> Result<(), String> {
    let root = project.path().to_path_buf();
    let loaded = Project::discover(Some(&root), &root).and_then(|p| {
        let catalogue = Catalogue::load(&p)?;
        let env = catalogue.load_env(&p, env)?;
        let renderer = stackpro::render::Renderer::new(&p);
        for cap in &catalogue.capabilities {
            renderer.render(cap, &env)?;
        }
        Ok(())
    });
    match loaded {
        Ok(()) => Ok(()),
        Err(err) if err.exit_status() == ExitStatus::Usage && !err.to_string().is_empty() => Ok(()),
        Err(err) => Err(format!(
            "exit {:?}: {err} ({:?})",
            err.exit_status(),
            err.help()
        )),
    }
}

/// `PROPTEST_CASES` when set, else `default` cases.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn mutated_file_is_refused_cleanly_or_works(file: &str, env: &str, edits: &[Edit]) {
    let project = ProjectCopy::new();
    let text = apply(&project.read(file), edits);
    project.write(file, &text);
    if let Err(why) = load_as_a_command_would(&project, env) {
        panic!("{file} edited to:\n{text}\n---\n{why}");
    }
    // A command that failed left the file as it was given.
    assert_eq!(project.read(file), text);
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn a_mutated_env_file_is_refused_with_exit_2_or_works(edits in edits()) {
        mutated_file_is_refused_cleanly_or_works("envs/sandbox.yaml", "sandbox", &edits);
    }

    #[test]
    fn a_mutated_production_env_file_is_refused_with_exit_2_or_works(edits in edits()) {
        mutated_file_is_refused_cleanly_or_works("envs/production.yaml", "production", &edits);
    }

    #[test]
    fn a_mutated_capability_file_is_refused_with_exit_2_or_works(edits in edits()) {
        mutated_file_is_refused_cleanly_or_works("handlers/messaging/capability.yaml", "sandbox", &edits);
    }

    #[test]
    fn a_mutated_contract_is_refused_with_exit_2_or_works(edits in edits()) {
        mutated_file_is_refused_cleanly_or_works("handlers/datalake/openapi.yaml", "sandbox", &edits);
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn command_line_values_never_panic(text in any::<String>()) {
        let _ = stackpro::release::parse_duration(&text);
        let _ = text.parse::<stackpro::release::CanarySpec>();
        if let Err(err) = stackpro::tail::parse_since(&text) {
            prop_assert_eq!(err.exit_status(), ExitStatus::Usage);
        }
        let _ = stackpro::tail::Level::parse(&text);
        let _ = stackpro::flags::split_assignment(&text);
        let _ = stackpro_conventions::ssm::parse_flag("/stackpro/sandbox/flags", &text);
    }

    #[test]
    fn flag_values_are_accepted_or_refused_with_a_message(text in any::<String>()) {
        let root = stackpro_tests::project_root();
        let project = Project::discover(Some(&root), &root).unwrap();
        let catalogue = Catalogue::load(&project).unwrap();
        for spec in stackpro::flags::all_flags(&catalogue) {
            if let Err(err) = stackpro::flags::parse_value(&spec, &text) {
                prop_assert_eq!(err.exit_status(), ExitStatus::Usage);
                prop_assert!(err.to_string().contains(&spec.name));
            }
        }
        if let Err(err) = stackpro::flags::resolve(&catalogue, &text) {
            prop_assert_eq!(err.exit_status(), ExitStatus::Usage);
        }
    }

    #[test]
    fn a_deployed_template_of_any_text_parses_or_is_refused(text in any::<String>()) {
        let _ = stackpro::template::parse(&text);
    }
}
