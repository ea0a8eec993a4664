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

/// Words a command line of stackpro is made of, read from its clap definition (every
/// subcommand at every depth, every long and short flag, every listed value), plus the
/// project's names and text that means trouble.
fn argv_words() -> Vec<String> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                out.push(format!("--{long}"));
            }
            if let Some(short) = arg.get_short() {
                out.push(format!("-{short}"));
            }
            for value in arg.get_possible_values() {
                out.push(value.get_name().to_string());
            }
        }
        for sub in cmd.get_subcommands() {
            out.push(sub.get_name().to_string());
            walk(sub, out);
        }
    }
    let mut words = Vec::new();
    walk(&stackpro::commands::Cli::command(), &mut words);
    words.extend(
        [
            "messaging",
            "datalake",
            "ai",
            "billing",
            "nope",
            "local",
            "sandbox",
            "production",
            "CAP_MESSAGING_ENABLED",
            "CAP_MESSAGING_ENABLED=true",
            "=",
            "--",
            "-",
            "",
            " ",
            "10%",
            "5m",
            "1h",
            "-1",
            "0",
            "99999999999999999999",
            "--output=json",
            "\u{0}",
            "é",
            "../..",
            "/",
            "v1",
            "a=b=c",
        ]
        .map(String::from),
    );
    words.sort();
    words.dedup();
    words
}

/// A command line: words of stackpro's, now and then arbitrary text.
fn argv() -> impl Strategy<Value = Vec<String>> {
    let words = argv_words();
    let word = prop_oneof![
        8 => proptest::sample::select(words),
        1 => any::<String>(),
    ];
    proptest::collection::vec(word, 0..7)
}

proptest! {
    #![proptest_config(cases(2000))]

    /// clap's parse of any command line: a command, or a usage error with exit 2 (help
    /// and version exit 0). Never a panic, whatever the order or the bytes.
    #[test]
    fn any_command_line_parses_or_is_a_usage_error(args in argv()) {
        use clap::Parser;
        let argv = std::iter::once("stackpro".to_string()).chain(args.iter().cloned());
        if let Err(err) = stackpro::commands::Cli::try_parse_from(argv) {
            use clap::error::ErrorKind;
            let expected = match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            prop_assert_eq!(err.exit_code(), expected, "{:?}: {}", args, err);
        }
    }
}

#[test]
fn the_command_line_definition_is_consistent() {
    use clap::CommandFactory;
    // clap's own checks: no two arguments with one name or flag, defaults among the
    // possible values, and the rest.
    stackpro::commands::Cli::command().debug_assert();
}

/// Every file under `dir` but stackpro's own output (`.stackpro/`), with its bytes.
fn files_of(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.file_name() == Some(std::ffi::OsStr::new(".stackpro")) {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// Left out of the binary runs, by design: commands that run until stopped or build (a
/// random command line reaching one starts a server, a watcher or a cargo build), and
/// flags that write files wherever they are told (`render --out /` would write there).
const EXCLUDED: &[&str] = &[
    "dev",
    "build",
    "--follow",
    "-f",
    "--watch",
    "--out",
    "--out-dir",
];

proptest! {
    #![proptest_config(cases(64))]

    /// The real binary on a command line of any of these words, in a project copy with no
    /// AWS credentials (nothing can be signed, so nothing leaves the machine): it ends
    /// within 30 s with 0, 1 or 2, never a panic; a failure says `error:` (or, for no
    /// command at all, shows the usage); a command that failed leaves every file as it was.
    #[test]
    fn the_binary_ends_every_command_line_cleanly(args in argv()) {
        prop_assume!(!args.iter().any(|a| EXCLUDED.contains(&a.as_str()) || a.starts_with("--out") || a.contains('\u{0}')));
        let project = ProjectCopy::new();
        let before = files_of(project.path());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (mut command, _home) = crate::cli::command(project.path(), &argv, &[]);
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > std::time::Duration::from_secs(30) {
                let _ = child.kill();
                panic!("stackpro {args:?} was still running after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = status.code();
        prop_assert!(matches!(code, Some(0..=2)), "{:?}: {:?}\n{}", args, code, stderr);
        prop_assert!(!stderr.contains("panicked"), "{:?}\n{}", args, stderr);
        if code != Some(0) {
            // An error names itself; no command at all is answered with the usage (exit 2).
            let usage = code == Some(2) && stderr.contains("Usage:");
            prop_assert!(stderr.contains("error:") || usage, "{:?}: exit {:?} without an error line\n{}", args, code, stderr);
            prop_assert!(files_of(project.path()) == before, "{:?} failed and changed the project's files", args);
        }
    }
}
