//! `stackpro new capability`: a scaffold that validates and passes its own tests at once,
//! and refusals that change nothing.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use stackpro_tests::{project_root, ProjectCopy};

use crate::cli::stackpro;

/// A copy of the whole workspace (every file git knows or would add), so cargo can
/// build the new crate beside the others.
fn workspace_copy() -> tempfile::TempDir {
    let dir = copy_files();
    // The pinned test tools (moto for the test kit), as the project has them.
    std::os::unix::fs::symlink(project_root().join(".venv"), dir.path().join(".venv")).unwrap();
    dir
}

fn copy_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = project_root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .expect("git lists the project's files");
    assert!(listed.status.success());
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).unwrap());
        let from = root.join(relative);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let to = dir.path().join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    dir
}

#[test]
fn a_new_capability_validates_and_its_tests_pass_straight_away() {
    let copy = workspace_copy();
    let project = copy.path();
    // rustfmt through rustup's proxy, which finds its toolchain from these.
    let home = std::env::var("HOME").unwrap_or_default();
    let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or(format!("{home}/.rustup"));
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo"));
    let new = crate::cli::stackpro_with(
        project,
        &[
            "new",
            "capability",
            "inventory",
            "--description",
            "Stock levels per warehouse",
            "--output",
            "json",
        ],
        &[("RUSTUP_HOME", &rustup_home), ("CARGO_HOME", &cargo_home)],
    );
    assert_eq!(new.code, 0, "{new:?}");
    let report: Value = serde_json::from_str(&new.stdout).unwrap();
    assert_eq!(report["notes"], serde_json::json!([]), "{report}");
    assert_eq!(report["created"].as_array().unwrap().len(), 7, "{report}");
    assert_eq!(
        report["edited"],
        serde_json::json!([
            "envs/local.yaml",
            "envs/production.yaml",
            "envs/sandbox.yaml",
            "Cargo.toml",
            "Cargo.lock"
        ])
    );
    // The lock gained the new crate and nothing else: `--locked` builds take it.
    let lock_before = std::fs::read_to_string(project_root().join("Cargo.lock")).unwrap();
    let lock_after = std::fs::read_to_string(project.join("Cargo.lock")).unwrap();
    let added: Vec<&str> = lock_after
        .lines()
        .filter(|l| l.starts_with("name = ") && !lock_before.contains(*l))
        .collect();
    assert_eq!(added, ["name = \"stackpro-inventory\""]);
    let production = std::fs::read_to_string(project.join("envs/production.yaml")).unwrap();
    assert!(
        production.contains("    CAP_INVENTORY_ENABLED: false\n    CAP_INVENTORY_VERSION: v1\n")
    );

    // Every environment's template renders, parses and passes cfn-lint.
    let validate = stackpro(project, &["validate", "--no-checkov"]);
    assert_eq!(validate.code, 0, "{validate:?}");
    assert!(
        validate.stderr.contains("Valid inventory  production"),
        "{validate:?}"
    );
    let list = stackpro(project, &["list", "--output", "json"]);
    let listed: Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(
        listed["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "inventory"),
        "{listed}"
    );

    // The crate's own tests (health, create/read/list, idempotency, isolation, errors,
    // each answer checked against its contract by the test kit), built in the kept
    // target directory so only the workspace's own crates compile again.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let cargo = |args: &[&str]| {
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .args(args)
            .current_dir(project)
            .env("CARGO_TARGET_DIR", &target);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
                cargo.env_remove(&key);
            }
        }
        let out = cargo.output().expect("cargo runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "cargo {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    };
    let tests = cargo(&["test", "-p", "stackpro-inventory", "--locked", "--quiet"]);
    assert!(tests.contains("5 passed"), "{tests}");
    // As CI holds every crate: formatted, and clippy-clean with warnings as errors.
    cargo(&["fmt", "-p", "stackpro-inventory", "--", "--check"]);
    cargo(&[
        "clippy",
        "-p",
        "stackpro-inventory",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]);
}

/// A project copy with a workspace manifest, for the refusals.
fn copy_with_manifest() -> ProjectCopy {
    let copy = ProjectCopy::new();
    copy.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"handlers/messaging\"]\n",
    );
    copy
}

#[test]
fn new_refuses_a_taken_or_bad_name_and_changes_nothing() {
    let copy = copy_with_manifest();
    let before = copy.read("envs/sandbox.yaml");
    for (name, expected) in [
        (
            "messaging",
            "handlers/messaging exists already: stackpro new never overwrites",
        ),
        ("Inventory", "`Inventory` cannot name a capability"),
        ("bootstrap", "`bootstrap` is reserved"),
        ("a-b", "`a-b` cannot name a capability"),
    ] {
        let run = stackpro(copy.path(), &["new", "capability", name]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(expected), "{name}: {run:?}");
    }
    assert_eq!(copy.read("envs/sandbox.yaml"), before);
}

#[test]
fn a_scaffold_stackpro_refuses_is_taken_back_whole() {
    let copy = copy_with_manifest();
    let envs: Vec<String> = ["local", "sandbox", "production"]
        .iter()
        .map(|e| copy.read(&format!("envs/{e}.yaml")))
        .collect();
    // A key capability.yaml does not know: the project would not load.
    copy.edit(
        "templates/new/capability/capability.yaml.j2",
        "tables:\n",
        "colour: blue\ntables:\n",
    );
    let run = stackpro(copy.path(), &["new", "capability", "inventory"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("the new capability inventory did not load, so nothing was kept"),
        "{run:?}"
    );
    assert!(run.stderr.contains("colour"), "{run:?}");
    assert!(!copy.path().join("handlers/inventory").exists());
    for (e, before) in ["local", "sandbox", "production"].iter().zip(&envs) {
        assert_eq!(&copy.read(&format!("envs/{e}.yaml")), before, "{e}");
    }
    assert_eq!(
        copy.read("Cargo.toml"),
        "[workspace]\nmembers = [\"handlers/messaging\"]\n"
    );
}
