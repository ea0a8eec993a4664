//! `stackpro completions`, `stackpro man` and `stackpro --version`: generated from the
//! command line's definition, with the project's names, and the commit in the version.

use stackpro_tests::{project_root, ProjectCopy};

use crate::cli::{stackpro, Run};

/// What bash's completion offers for `words` (the last one being completed), with the
/// script `stackpro completions bash` printed, loaded into a real bash.
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stackpro.bash");
    std::fs::write(&path, script).unwrap();
    let words_array: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _stackpro stackpro '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        words_array.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn script(run: &Run) -> &str {
    assert_eq!(run.code, 0, "{run:?}");
    &run.stdout
}

#[test]
fn bash_completes_commands_flags_and_the_projects_names() {
    let project = ProjectCopy::new();
    // A capability and an environment of this project alone: the names come from it.
    project.write("envs/staging.yaml", &project.read("envs/sandbox.yaml"));
    let run = stackpro(project.path(), &["completions", "bash"]);
    let script = script(&run);
    assert!(!run.stderr.contains("warning"), "{run:?}");

    let commands = bash_completes(script, &["stackpro", "de"]);
    assert!(commands.contains(&"deploy".to_string()), "{commands:?}");
    assert!(commands.contains(&"destroy".to_string()), "{commands:?}");

    let envs = bash_completes(script, &["stackpro", "deploy", "--env", ""]);
    for env in ["local", "production", "sandbox", "staging"] {
        assert!(envs.contains(&env.to_string()), "{env}: {envs:?}");
    }
    let capabilities = bash_completes(script, &["stackpro", "status", ""]);
    for cap in ["ai", "billing", "datalake", "messaging"] {
        assert!(
            capabilities.contains(&cap.to_string()),
            "{cap}: {capabilities:?}"
        );
    }
    let flags = bash_completes(script, &["stackpro", "rollback", "--"]);
    assert!(flags.contains(&"--full".to_string()), "{flags:?}");
}

#[test]
fn every_shell_gets_a_script_and_outside_a_project_a_warning() {
    let outside = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = stackpro(&project_root(), &["completions", shell]);
        assert!(script(&run).contains("deploy"), "{shell}: {run:?}");
        let run = stackpro(outside.path(), &["completions", shell]);
        assert!(script(&run).contains("deploy"), "{shell}: {run:?}");
        assert!(
            run.stderr
                .contains("warning: not in a stackpro project: the script completes commands and flags, not capability or environment names"),
            "{run:?}"
        );
    }
    let run = stackpro(&project_root(), &["completions", "tcsh"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("invalid value 'tcsh'"), "{run:?}");
}

#[test]
fn man_prints_the_page_or_writes_one_per_command() {
    let run = stackpro(&project_root(), &["man"]);
    let page = script(&run);
    assert!(page.contains(".TH stackpro 1"), "{page}");
    for command in ["deploy", "rollback", "flags", "completions"] {
        assert!(page.contains(command), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = stackpro(
        &project_root(),
        &["man", "--out-dir", out.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{run:?}");
    for page in [
        "stackpro.1",
        "stackpro-deploy.1",
        "stackpro-flags.1",
        "stackpro-flags-set.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie"), "{page}");
    }
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let run = stackpro(&project_root(), &["--version"]);
    assert_eq!(run.code, 0, "{run:?}");
    let line = run.stdout.trim();
    // stackpro 0.1.0 (2f8ad2bd4 2026-11-30)
    let (name, rest) = line.split_once(' ').unwrap();
    assert_eq!(name, "stackpro");
    let (version, commit) = rest.split_once(" (").unwrap_or_else(|| panic!("{line}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let (hash, date) = commit.trim_end_matches(')').split_once(' ').unwrap();
    assert_eq!(hash.len(), 9, "{line}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    assert_eq!(date.len(), 10, "{line}");
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=9", "HEAD"])
        .current_dir(project_root())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        hash,
        "built from HEAD"
    );
}
