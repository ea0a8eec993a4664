//! `stackpro build` with the real cargo-lambda and zig, on a tiny real handler crate
//! (`tests/fixtures/tiny-handler`, std only, so it builds in seconds) placed in a copy
//! of the project as the messaging capability's handler.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::Digest;
use stackpro_tests::{project_root, ProjectCopy};

use crate::cli::{stackpro_with, Run};

/// A project copy whose messaging handler is the tiny fixture crate.
fn project_with_tiny_handler() -> ProjectCopy {
    let project = ProjectCopy::new();
    let fixture = project_root().join("tests/fixtures/tiny-handler");
    for rel in [
        "Cargo.toml",
        "Cargo.lock",
        "handlers/tiny/Cargo.toml",
        "handlers/tiny/src/main.rs",
    ] {
        project.write(rel, &std::fs::read_to_string(fixture.join(rel)).unwrap());
    }
    project.edit(
        "handlers/messaging/capability.yaml",
        "package: stackpro-messaging\n  binary: messaging",
        "package: tiny-handler\n  binary: tiny-handler",
    );
    project
}

/// Where builds and zig keep their caches across test runs (under the cargo target
/// directory), so only the first run on a machine pays for them.
fn cache_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    base.join(name)
}

/// `stackpro ARGS` with the toolchain reachable: rustup's and cargo's homes and the
/// project venv (cargo-lambda, zig) on PATH.
fn build_run(project: &Path, args: &[&str], with_venv: bool) -> Run {
    let real_home = std::env::var("HOME").unwrap_or_default();
    let rustup = std::env::var("RUSTUP_HOME").unwrap_or(format!("{real_home}/.rustup"));
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or(format!("{real_home}/.cargo"));
    let mut path = std::env::var("PATH").unwrap_or_default();
    if with_venv {
        path = format!("{}:{path}", project_root().join(".venv/bin").display());
    }
    let target = cache_dir("tiny-lambda").display().to_string();
    let zig = cache_dir("zig-cache").display().to_string();
    stackpro_with(
        project,
        args,
        &[
            ("PATH", path.as_str()),
            ("RUSTUP_HOME", rustup.as_str()),
            ("CARGO_HOME", cargo_home.as_str()),
            ("STACKPRO_LAMBDA_TARGET_DIR", target.as_str()),
            ("ZIG_GLOBAL_CACHE_DIR", zig.as_str()),
        ],
    )
}

#[test]
fn build_makes_a_lambda_zip_of_a_glibc_2_17_x86_64_binary() {
    let project = project_with_tiny_handler();
    let run = build_run(
        project.path(),
        &["build", "messaging", "--output", "json"],
        true,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON report");
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["capability"], "messaging");
    assert_eq!(
        artifact["zip"],
        ".stackpro/lambda/tiny-handler/bootstrap.zip"
    );

    // The zip holds `bootstrap`, an x86_64 ELF executable needing no glibc newer than
    // 2.17, and the reported hash is the binary's, not the zip's.
    let zip = std::fs::read(project.path().join(artifact["zip"].as_str().unwrap())).unwrap();
    assert_eq!(artifact["zip_bytes"], zip.len());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("bootstrap").unwrap(), &mut binary).unwrap();
    assert_eq!(&binary[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([binary[18], binary[19]]), 0x3e, "x86_64");
    let text = String::from_utf8_lossy(&binary);
    for (i, _) in text.match_indices("GLIBC_2.") {
        let minor: String = text[i + 8..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(minor) = minor.parse::<u32>() {
            assert!(minor <= 17, "needs GLIBC_2.{minor}");
        }
    }
    let sha = stackpro::render::hex(&sha2::Sha256::digest(&binary));
    assert_eq!(artifact["binary_sha256"], sha.as_str());
    assert_ne!(
        artifact["code_sha256"].as_str().unwrap(),
        stackpro::build::code_sha256(&binary)
    );

    // Without names, build takes the capabilities that have a crate and says why the
    // others were skipped.
    let all = build_run(project.path(), &["build", "--output", "json"], true);
    assert_eq!(all.code, 0, "{all:?}");
    let report: Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(
        report["artifacts"][0]["binary_sha256"],
        sha.as_str(),
        "same code, same hash"
    );
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["capability"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["ai", "billing", "datalake"]);
    assert!(report["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("package stackpro-ai is not in the project's Cargo workspace"));

    // A named capability without a crate is an error, exit 2.
    let named = build_run(project.path(), &["build", "ai"], true);
    assert_eq!(named.code, 2, "{named:?}");
    assert!(
        named.stderr.contains(
            "error: cannot build ai: package stackpro-ai is not in the project's Cargo workspace"
        ),
        "{named:?}"
    );
}

#[test]
fn an_arm64_environment_builds_and_deploys_graviton_binaries() {
    let project = project_with_tiny_handler();
    project.write(
        "envs/sandbox.yaml",
        &format!("{}architecture: arm64\n", project.read("envs/sandbox.yaml")),
    );
    // --env takes the environment's architecture; the zip goes beside the x86_64 ones.
    let run = build_run(
        project.path(),
        &["build", "messaging", "--env", "sandbox", "--output", "json"],
        true,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON report");
    let artifact = &report["artifacts"][0];
    assert_eq!(
        artifact["zip"],
        ".stackpro/lambda-arm64/tiny-handler/bootstrap.zip"
    );
    let zip = std::fs::read(project.path().join(artifact["zip"].as_str().unwrap())).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("bootstrap").unwrap(), &mut binary).unwrap();
    assert_eq!(&binary[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([binary[18], binary[19]]),
        0xb7,
        "aarch64"
    );

    // The function the stack declares runs on arm64; other environments stay x86_64.
    for (env, arch) in [("sandbox", "arm64"), ("production", "x86_64")] {
        let out = format!("{}/rendered", project.path().display());
        let rendered = build_run(
            project.path(),
            &["render", "messaging", "--env", env, "--out", &out],
            false,
        );
        assert_eq!(rendered.code, 0, "{rendered:?}");
        let template =
            std::fs::read_to_string(format!("{out}/{env}/messaging/template.yaml")).unwrap();
        assert!(
            template.contains(&format!("Architectures: [{arch}]")),
            "{env}: {template}"
        );
    }

    // --no-build for an arm64 environment looks for the arm64 zip and names the command.
    std::fs::remove_file(project.path().join(artifact["zip"].as_str().unwrap())).unwrap();
    let missing = build_run(
        project.path(),
        &[
            "deploy",
            "messaging",
            "--env",
            "sandbox",
            "--no-build",
            "--dry-run",
        ],
        false,
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("run `stackpro build messaging --arch arm64`"),
        "{missing:?}"
    );
}

#[test]
fn build_without_cargo_lambda_names_the_install_command() {
    let project = project_with_tiny_handler();
    let run = build_run(project.path(), &["build", "messaging"], false);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("error: could not run cargo-lambda: cargo-lambda is not installed"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("help: run `bash scripts/setup.sh`"),
        "{run:?}"
    );
}
