//! `stackpro doctor` against a private emulator: who the credentials are, whether the
//! account is the pinned one, and what happens without credentials or an endpoint.

use stackpro_tests::{Emulator, ProjectCopy};

use crate::cli::{stackpro_with, DUMMY_CREDS as CREDS};

#[test]
fn doctor_reports_the_identity_from_the_emulator() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let run = stackpro_with(
        project.path(),
        &[
            "doctor",
            "--env",
            "local",
            "--endpoint-url",
            &emulator.url,
            "--output",
            "json",
        ],
        &CREDS,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["identity"]["account"], "123456789012");
    assert_eq!(report["endpoint"], emulator.url.as_str());
    assert_eq!(report["endpoint_source"], "flag");
    assert_eq!(report["region"], "us-east-1");
    assert_eq!(report["region_source"], "env_file");
}

#[test]
fn aws_endpoint_url_from_the_process_environment_is_honoured() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let mut vars = CREDS.to_vec();
    vars.push(("AWS_ENDPOINT_URL", &emulator.url));
    let run = stackpro_with(
        project.path(),
        &["doctor", "--env", "sandbox", "--output", "json"],
        &vars,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["endpoint_source"], "environment");
    assert_eq!(report["region"], "eu-west-1");
    // The emulator serves no GetAccountSettings: the concurrency check says so, and passes.
    let c = &report["concurrency"];
    assert_eq!(c["verdict"], "not_checked", "{report}");
    assert_eq!(c["reserved_per_function"], 10);
    assert!(c["note"]
        .as_str()
        .unwrap()
        .contains("does not serve GetAccountSettings"));
}

#[test]
fn credentials_for_another_account_are_refused_with_exit_2() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    project.edit(
        "envs/production.yaml",
        "account_id: \"123456789012\"",
        "account_id: \"999999999999\"",
    );
    let run = stackpro_with(
        project.path(),
        &[
            "doctor",
            "--env",
            "production",
            "--endpoint-url",
            &emulator.url,
        ],
        &CREDS,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: environment production belongs to account 999999999999, but the credentials are for account 123456789012"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("help: use credentials for the right account (--profile)"),
        "{run:?}"
    );
}

#[test]
fn missing_credentials_are_a_configuration_error() {
    let emulator = Emulator::start();
    let project = ProjectCopy::new();
    let run = stackpro_with(
        project.path(),
        &["doctor", "--env", "local", "--endpoint-url", &emulator.url],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "error: no AWS credentials found for the default credential chain in us-east-1"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("help: set AWS_PROFILE (or pass --profile)"),
        "{run:?}"
    );
}

#[test]
fn a_stopped_emulator_is_an_unreachable_endpoint_with_exit_1() {
    let mut emulator = Emulator::start();
    let url = emulator.url.clone();
    emulator.stop();
    let project = ProjectCopy::new();
    let run = stackpro_with(
        project.path(),
        &["doctor", "--env", "local", "--endpoint-url", &url],
        &CREDS,
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "error: could not reach the AWS endpoint for sts at {url}"
        )),
        "{run:?}"
    );
    assert!(run.stderr.contains("Connection refused"), "{run:?}");
    assert!(
        run.stderr.contains(
            "help: the local emulator is not running: start it with `scripts/emulator.sh start`"
        ),
        "{run:?}"
    );
}

#[test]
fn an_unknown_profile_is_named() {
    let project = ProjectCopy::new();
    let run = stackpro_with(
        project.path(),
        &[
            "doctor",
            "--env",
            "local",
            "--profile",
            "nosuchprofile",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("error: no AWS credentials found for profile `nosuchprofile` in us-east-1"),
        "{run:?}"
    );
}

/// A loopback endpoint that accepts connections and never answers (a paused emulator,
/// a stuck proxy); it holds every connection until the test ends.
fn hung_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

#[test]
fn a_hung_endpoint_ends_in_a_clear_error_within_the_documented_bound() {
    let url = hung_endpoint();
    let project = ProjectCopy::new();
    // On a terminal (util-linux `script` gives it one; stdout and stderr both reach it),
    // so the slow-call notice shows too.
    let (cmd, _home) = crate::cli::command(
        project.path(),
        &[
            "status",
            "messaging",
            "--env",
            "local",
            "--endpoint-url",
            &url,
        ],
        &CREDS,
    );
    let start = std::time::Instant::now();
    let (out, text) = crate::cli::on_a_terminal(&cmd, project.path());
    let took = start.elapsed();
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    // status reads the stack, the alias and the record at once: whichever gives up first
    // is named (`error: cloudformation DescribeStacks at URL ...`, `lambda GetAlias`, ...).
    let error = text
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.ends_with(&format!(" at {url} did not answer in time"))
            && error.split(' ').count() == 10,
        "{text}"
    );
    assert!(
        text.contains("help: the emulator accepts connections but does not answer"),
        "{text}"
    );
    // Each waiting call said so after a second, naming itself and its limit, before the
    // error: `waiting for cloudformation DescribeStacks at URL (gives up after 25 s)`.
    let notices: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("error: "))
        .filter(|l| l.starts_with("waiting for "))
        .collect();
    assert!(!notices.is_empty(), "no slow-call notice:\n{text}");
    for notice in notices {
        let words: Vec<&str> = notice.split(' ').collect();
        assert!(
            words.len() == 11
                && words[3].starts_with(|c: char| c.is_ascii_uppercase())
                && notice.ends_with(&format!(" at {url} (gives up after 25 s)")),
            "{notice}"
        );
    }
    // README "Time limits": 25 s for a call that is not a wait on a stack operation; it
    // did wait (three attempts), not fail at once for another reason.
    assert!(
        took >= std::time::Duration::from_secs(10) && took < std::time::Duration::from_secs(30),
        "{took:?} {text}"
    );
}
