//! The real `stackpro` binary, spawned with a cleared environment so no real AWS
//! credentials, profiles or endpoints can leak into a test.

use std::path::Path;
use std::process::Command;

use stackpro_tests::{project_root, venv_tool};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The `stackpro ARGS` command in `project` with only the variables given in `vars` set
/// (plus PATH, a private HOME, and switches that keep the SDK off the network), and the
/// private HOME, which must outlive the process.
pub fn command(
    project: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (Command, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackpro-under-test"));
    cmd.args(args)
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        // No instance metadata lookups, no profile files of the machine.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("aws-credentials"),
        )
        .env("STACKPRO_CFN_LINT", venv_tool("cfn-lint"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    (cmd, home)
}

/// Runs `cmd` (from [`command`]) on a terminal: util-linux `script` gives it one for
/// stdin, stdout and stderr, all of which come back in the output's stdout as `text`.
pub fn on_a_terminal(cmd: &Command, dir: &Path) -> (std::process::Output, String) {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut tty = Command::new("script");
    tty.args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir)
        .env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            tty.env(k, v);
        }
    }
    let out = tty.output().expect("run stackpro under script");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out, text)
}

/// Runs `stackpro ARGS` in `project` (see [`command`]) to its end.
pub fn stackpro_with(project: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let (mut cmd, _home) = command(project, args, vars);
    let out = cmd.output().expect("run stackpro");
    let run = Run {
        code: out.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "stackpro panicked:\n{run:?}"
    );
    check_json_output(args, &run);
    run
}

/// The output schema a command line's `--output json` is held to: the command as typed
/// (`flags set`), none for a command that prints no JSON or a run without `--output json`.
fn schema_command(args: &[&str]) -> Option<String> {
    let json = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.contains(&"--output=json");
    if !json {
        return None;
    }
    let all = stackpro::schema::all();
    let top = args
        .iter()
        .find(|a| all.iter().any(|s| s.command.split(' ').next() == Some(**a)))?;
    // A command with subcommands (`flags set`, `new capability`): the word after it.
    if all
        .iter()
        .any(|s| s.command.starts_with(&format!("{top} ")))
    {
        let sub = args.iter().skip_while(|a| *a != top).nth(1)?;
        return Some(format!("{top} {sub}"));
    }
    Some(top.to_string())
}

/// Checks what a run printed on stdout against the command's schema in docs/schemas/
/// (and an `{"error": ...}` against the error document's): one document, or one
/// object per line. Each command checked is marked ([`mark_checked`]).
fn check_json_output(args: &[&str], run: &Run) {
    let Some(command) = schema_command(args) else {
        return;
    };
    let schema = stackpro::schema::find(&command)
        .unwrap_or_else(|| panic!("no output schema for `{command}`"));
    let validator = committed_validator(&schema.file_name());
    let mut error_validator = None;
    let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&run.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!("`{command} --output json` printed what is not JSON ({e}):\n{run:?}")
        });
    let mut reports = 0;
    for value in &values {
        let is_error = value
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("error"));
        let v = if is_error {
            mark_checked("error");
            error_validator.get_or_insert_with(|| committed_validator("error.schema.json"))
        } else {
            &validator
        };
        reports += usize::from(!is_error);
        if let Err(e) = v.validate(value) {
            panic!(
                "`{command} --output json` printed a value its schema docs/schemas/{} does not allow: {e} at {}\nvalue: {value}",
                if is_error { "error.schema.json".to_string() } else { schema.file_name() },
                e.instance_path()
            );
        }
    }
    if schema.shape == stackpro::schema::Shape::Document {
        assert!(
            reports <= 1,
            "`{command}` printed {reports} documents, not one:\n{run:?}"
        );
    } else {
        for line in run.stdout.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "`{command}` prints one JSON object per line, but this line is not one: {line}"
            );
        }
    }
    if !values.is_empty() {
        mark_checked(&command);
    }
}

/// Leaves `command`'s name under the test target directory's `schema-checked/`: the
/// commands whose output some test checked against its schema, listed with `ls`.
fn mark_checked(command: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema-checked");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(command.replace(' ', "-")), "");
}

/// Checks one report a command would print (made by the library, where the binary
/// cannot reach the state: recorded answers) against the command's committed schema.
pub fn check_report(command: &str, report: &impl serde::Serialize) {
    let schema = stackpro::schema::find(command).unwrap();
    let value = serde_json::to_value(report).unwrap();
    if let Err(e) = committed_validator(&schema.file_name()).validate(&value) {
        panic!(
            "docs/schemas/{} does not allow: {e} at {}\nvalue: {value}",
            schema.file_name(),
            e.instance_path()
        );
    }
    mark_checked(command);
}

/// The validator of a committed schema file under docs/schemas/.
fn committed_validator(file: &str) -> jsonschema::Validator {
    let path = project_root().join("docs/schemas").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (stackpro schema --out-dir docs/schemas)",
            path.display()
        )
    });
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid JSON Schema: {e}", path.display()))
}

/// Dummy static credentials: the emulator accepts any, and nothing real is ever set.
pub const DUMMY_CREDS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
];

/// `stackpro ARGS --endpoint-url <emulator>` in `project`, with dummy credentials.
pub fn on_emulator(project: &Path, emulator: &stackpro_tests::Emulator, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", &emulator.url]);
    stackpro_with(project, &all, &DUMMY_CREDS)
}

/// `stackpro ARGS` in the project copy, on the emulator.
pub fn run(
    project: &stackpro_tests::ProjectCopy,
    emulator: &stackpro_tests::Emulator,
    args: &[&str],
) -> Run {
    on_emulator(project.path(), emulator, args)
}

/// The start of every deploy-engine test: a private emulator and a copy of the project
/// with version `1` of every handler zip where `stackpro build` leaves them,
/// bootstrapped for `env`.
pub fn bootstrapped(env: &str) -> (stackpro_tests::Emulator, stackpro_tests::ProjectCopy) {
    let emulator = stackpro_tests::Emulator::start();
    let project = stackpro_tests::ProjectCopy::new();
    project.with_artifacts("1");
    let boot = run(&project, &emulator, &["bootstrap", "--env", env]);
    assert_eq!(boot.code, 0, "{boot:?}");
    (emulator, project)
}

pub fn stackpro(project: &Path, args: &[&str]) -> Run {
    stackpro_with(project, args, &[])
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let run = stackpro(&project_root(), &["--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    for command in [
        "render",
        "validate",
        "bootstrap",
        "build",
        "deploy",
        "status",
        "destroy",
        "doctor",
        "list",
    ] {
        assert!(
            run.stdout.contains(command),
            "--help lacks {command}: {run:?}"
        );
    }
    assert!(run
        .stdout
        .contains("Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration."));
}

#[test]
fn unknown_capability_suggests_the_nearest_and_lists_all() {
    let run = stackpro(
        &project_root(),
        &[
            "render",
            "mesaging",
            "--env",
            "sandbox",
            "--out",
            "/dev/null/x",
        ],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: unknown capability `mesaging`"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(
            "help: did you mean `messaging`? known capabilities: ai, billing, datalake, messaging"
        ),
        "{run:?}"
    );
}

#[test]
fn unknown_environment_suggests_the_nearest_and_lists_all() {
    let run = stackpro(&project_root(), &["render", "--all", "--env", "prod"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: unknown environment `prod`"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(
            "help: did you mean `production`? known environments: local, production, sandbox"
        ),
        "{run:?}"
    );
}

#[test]
fn render_requires_capabilities_or_all() {
    let run = stackpro(&project_root(), &["render", "--env", "sandbox"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("error: no capability named"), "{run:?}");
    assert!(
        run.stderr
            .contains("help: name one or more of ai, billing, datalake, messaging, or pass --all"),
        "{run:?}"
    );
}

#[test]
fn outside_a_project_the_error_says_where_it_looked() {
    let empty = tempfile::tempdir().unwrap();
    let run = stackpro(empty.path(), &["list"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("error: no stackpro project found in"),
        "{run:?}"
    );
    assert!(run.stderr.contains("--project-dir"), "{run:?}");
}

#[test]
fn render_writes_every_document_and_reports_json_on_stdout() {
    let out = tempfile::tempdir().unwrap();
    let run = stackpro(
        &project_root(),
        &[
            "render",
            "--all",
            "--env",
            "sandbox",
            "--out",
            out.path().to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    let docs = report["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 4);
    for doc in docs {
        let cap = doc["capability"].as_str().unwrap();
        assert_eq!(doc["stack_name"], format!("stackpro-{cap}-sandbox"));
        for file in ["template.yaml", "dashboard.json", "ssm.yaml"] {
            let path = out.path().join("sandbox").join(cap).join(file);
            assert!(path.is_file(), "{} missing", path.display());
        }
        assert!(doc["resources"].as_u64().unwrap() > 20, "{doc}");
    }
}

#[test]
fn list_reports_the_catalogue() {
    let run = stackpro(&project_root(), &["list", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["environments"],
        serde_json::json!(["local", "production", "sandbox"])
    );
    let names: Vec<&str> = report["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ai", "billing", "datalake", "messaging"]);
}

#[test]
fn in_json_mode_an_error_is_also_one_json_document_on_stdout() {
    let run = stackpro(
        &project_root(),
        &["render", "--all", "--env", "prod", "--output", "json"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["error"]["message"], "unknown environment `prod`");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert_eq!(
        doc["error"]["help"],
        "did you mean `production`? known environments: local, production, sandbox"
    );
    // People still read the same error on stderr.
    assert!(
        run.stderr.contains("error: unknown environment `prod`"),
        "{run:?}"
    );
}

#[test]
fn color_follows_the_flag_and_quiet_drops_status_lines() {
    let root = project_root();
    let error = ["render", "nope", "--env", "sandbox"];
    let plain = stackpro(&root, &error);
    assert_eq!(plain.code, 2, "{plain:?}");
    assert!(
        !plain.stderr.contains('\u{1b}'),
        "no colour into a pipe: {plain:?}"
    );
    let colored = stackpro(&root, &[&error[..], &["--color", "always"]].concat());
    assert!(
        colored.stderr.contains("\u{1b}[") && colored.stderr.contains("unknown capability `nope`"),
        "{colored:?}"
    );
    let never = stackpro(&root, &[&error[..], &["--color", "never"]].concat());
    assert!(!never.stderr.contains('\u{1b}'), "{never:?}");

    // `man --out-dir` says what it wrote in a status line; --quiet drops it, not errors.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let loud = stackpro(&root, &["man", "--out-dir", out]);
    assert_eq!(loud.code, 0, "{loud:?}");
    assert!(
        loud.stderr.contains("Wrote the manual pages into"),
        "{loud:?}"
    );
    let quiet = stackpro(&root, &["man", "--out-dir", out, "--quiet"]);
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert!(quiet.stderr.is_empty(), "{quiet:?}");
    let failed = stackpro(&root, &[&error[..], &["-q"]].concat());
    assert!(
        failed.stderr.contains("error: unknown capability `nope`"),
        "{failed:?}"
    );
}

#[test]
fn in_ci_nothing_is_asked_even_on_a_terminal() {
    // util-linux `script` gives the command a terminal for stdin and stderr; CI=true
    // says nobody is at it: production's confirmation fails at once instead of waiting.
    let project = stackpro_tests::ProjectCopy::new();
    let (cmd, _home) = command(
        project.path(),
        &["deploy", "messaging", "--env", "production", "--no-build"],
        &[("CI", "true")],
    );
    let started = std::time::Instant::now();
    let (out, text) = on_a_terminal(&cmd, project.path());
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("error: deploying to production needs confirmation, and there is nobody to ask (no terminal, or a CI job)"),
        "{text}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{text}"
    );
}
